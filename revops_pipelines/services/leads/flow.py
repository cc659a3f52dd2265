"""One inbound lead through Attio, routing and the follow-up effects, each effect exactly once.

Attio steps are critical: when one fails the lead stops and its inbox row goes back to pending
for a later run. Slack and Outreach are not: their failures are retried inside the step, then
reported in the audit note and the run's metadata, and the lead goes on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from revops_pipelines.domain.attio_values import record_id
from revops_pipelines.domain.audit import (
    StepResult,
    audit_markdown,
    audit_title,
    task_content,
)
from revops_pipelines.domain.enrichment_fill import FillPolicy
from revops_pipelines.domain.lead_lists import ListMapping
from revops_pipelines.domain.leads import Lead
from revops_pipelines.domain.routing import LeadFacts, RoutingConfig, RoutingDecision
from revops_pipelines.infra.send_once import Effect, run_once
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.errors import AttioError
from revops_pipelines.resources.outreach import OutreachResource
from revops_pipelines.resources.salesloft import SalesloftResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.leads import slack_step
from revops_pipelines.services.leads.attio_records import (
    CompanyFacts,
    assert_company,
    assert_person,
    find_note,
    find_task,
)
from revops_pipelines.services.leads.sequencing import enroll
from revops_pipelines.services.leads.slack_step import notify_slack
from revops_pipelines.services.leads.steps import done_step
from revops_pipelines.store.ledger import LedgerTable, ledger_row
from revops_pipelines.store.routing import route_lead

DEFAULT_SLACK_CHANNEL = slack_step.DEFAULT_SLACK_CHANNEL  # kept importable from here


@dataclass(frozen=True)
class LeadInAttio:
    lead: Lead
    company: CompanyFacts
    person_id: str
    person_url: str | None


@dataclass(frozen=True)
class RoutedLead:
    lead: Lead
    person_id: str
    person_url: str | None
    decision: RoutingDecision
    assigned_at: datetime | None = None  # when the rep was assigned (stored with the decision)
    high_value: str | None = None  # why the lead is high-value (routing.yaml), or None
    filled: tuple[str, ...] = ()  # the company attributes enrichment filled for this lead


@dataclass
class LeadReport:
    lead: Lead
    steps: list[StepResult] = field(default_factory=list)
    failed_critical: str | None = None
    retry_later: str | None = None  # a non-critical step failed; try it again next run


async def put_leads_in_attio(
    client: AttioClient, leads: list[Lead], policy: FillPolicy | None = None
) -> list[LeadInAttio | AttioError]:
    """Each distinct company once (leads of one company share its assert), then each person.
    A lead's entry is its records, or the Attio error that stopped it."""
    first_of_domain: dict[str | None, Lead] = {}
    for lead in leads:
        first_of_domain.setdefault(lead.company_domain, lead)
    domains = [d for d in first_of_domain if d is not None]
    found = await asyncio.gather(
        *(assert_company(client, first_of_domain[d], policy) for d in domains),
        return_exceptions=True,
    )
    companies: dict[str | None, Any] = dict(zip(domains, found, strict=True))

    async def one(lead: Lead) -> LeadInAttio | AttioError:
        company = companies.get(lead.company_domain) or await assert_company(client, lead, policy)
        if isinstance(company, BaseException):
            if isinstance(company, AttioError):
                return company
            raise company
        try:
            person = await assert_person(client, lead, company.record_id)
        except AttioError as exc:
            return exc
        return LeadInAttio(lead, company, record_id(person), person.get("web_url"))

    return list(await asyncio.gather(*(one(lead) for lead in leads)))


def route(engine: sa.Engine, config: RoutingConfig, entry: LeadInAttio) -> RoutedLead:
    """The lead's rep by the rules (a lead routed before keeps its rep)."""
    lead, company = entry.lead, entry.company
    employees = company.employee_count
    facts = LeadFacts(
        email=lead.email,
        company_domain=lead.company_domain,
        employee_count=int(employees) if employees is not None else None,
        industry=company.industry,
        region=lead.region,
        country=company.country or lead.country,
        source=lead.source,
    )
    today = lead.submitted_at.astimezone(UTC).date()
    assignment = route_lead(engine, lead.key, facts, config, today)
    rule = assignment.decision.rule
    high_value = config.high_value.reason(facts, rule) if config.high_value else None
    return RoutedLead(
        lead,
        entry.person_id,
        entry.person_url,
        assignment.decision,
        assignment.assigned_at,
        high_value,
        entry.company.filled,
    )


async def set_owner(client: AttioClient, routed: RoutedLead) -> None:
    # The stored assignment time, so a retried lead writes the same assigned_date again.
    assigned = routed.assigned_at.astimezone(UTC).date() if routed.assigned_at else None
    values = routed.decision.person_values(assigned_on=assigned)
    await client.records.update("people", routed.person_id, values)


async def run_lead_actions(
    routed: RoutedLead,
    *,
    client: AttioClient,
    engine: sa.Engine,
    config: RoutingConfig,
    lists: ListMapping,
    slack: SlackResource,
    outreach: OutreachResource,
    salesloft: SalesloftResource | None = None,
    last_attempt: bool = True,
) -> LeadReport:
    """List entry, task, Slack, the pool's sequencer (Outreach or Salesloft), then the audit
    note, each through the ledger."""
    lead, report = routed.lead, LeadReport(routed.lead)
    key = lead.key
    rep = config.rep(routed.decision.rep_email) if routed.decision.rep_email else None
    report.steps.append(StepResult("route", "done", routed.decision.reason))
    if routed.filled:
        # Attribute names in words: the audit note is Markdown, where "_" marks emphasis.
        filled = ", ".join(slug.replace("_", " ") for slug in routed.filled)
        report.steps.append(StepResult("enrichment", "done", f"filled {filled} on the company"))
    try:
        list_slug = lists.list_for(lead.source, lead.source_form)

        async def add_to_list() -> Effect:
            entry = await client.lists.assert_entry(
                list_slug, parent_object="people", parent_record_id=routed.person_id
            )
            return Effect(str(entry["id"]["entry_id"]), {"list": list_slug})

        listed = await run_once(LedgerTable(engine), f"{key}:list", "list", add_to_list)
        report.steps.append(done_step("list", listed, list_slug))

        if rep is not None:
            content = task_content(lead)
            deadline = config.task_deadline(rep.email, lead.submitted_at)
            deadline_text = deadline.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")

            async def create_task() -> Effect:
                task = await client.tasks.create(
                    content=content,
                    deadline_at=deadline_text,
                    linked_records=[
                        {"target_object": "people", "target_record_id": routed.person_id}
                    ],
                    assignees=[{"workspace_member_email_address": rep.email}],
                )
                return Effect(str(task["id"]["task_id"]))

            async def look_task() -> Effect | None:
                row = ledger_row(engine, f"{key}:task")
                since = row["updated_at"] if row else None
                found = await find_task(client, routed.person_id, content, since)
                return Effect(str(found["id"]["task_id"])) if found else None

            tasked = await run_once(
                LedgerTable(engine), f"{key}:task", "task", create_task, look_task
            )
            report.steps.append(
                done_step("task", tasked, f"{rep.email}, due {deadline.isoformat()}")
            )
        else:
            report.steps.append(StepResult("task", "skipped", "no rep available"))
    except AttioError as exc:
        report.failed_critical = str(exc)
        report.steps.append(StepResult("attio", "failed", str(exc)))
        return report

    report.steps.append(await notify_slack(routed, rep, engine, slack, config))
    report.steps.append(await enroll(routed, config, engine, outreach, salesloft))
    failed = [s for s in report.steps if s.status == "failed"]
    if failed and not last_attempt:
        # The lead's records are in Attio; only the notification or sequence is missing. The
        # inbox hands the lead back and the next run redoes just that step (the ledger skips
        # the rest); the audit note waits, so it tells the final story once.
        report.retry_later = "; ".join(f"{s.step}: {s.detail}" for s in failed)
        return report

    async def write_note() -> Effect:
        body = audit_markdown(lead, report.steps, datetime.now(UTC))
        note = await client.notes.create(
            parent_object="people",
            parent_record_id=routed.person_id,
            title=audit_title(lead),
            content=body,
        )
        return Effect(str(note["id"]["note_id"]))

    async def look_note() -> Effect | None:
        found = await find_note(client, routed.person_id, audit_title(lead))
        return Effect(str(found["id"]["note_id"])) if found else None

    try:
        await run_once(LedgerTable(engine), f"{key}:note", "note", write_note, look_note)
        report.steps.append(StepResult("note", "done"))
    except AttioError as exc:
        report.failed_critical = str(exc)
        report.steps.append(StepResult("note", "failed", str(exc)))
    return report
