"""Flow B: form submissions become normalized, enriched, routed Attio people with follow-ups."""

import asyncio
import dataclasses
import logging
from collections import Counter

import dagster as dg

from revops_pipelines.assets.forms import md_table
from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.config_checks import list_problems, routing_problems
from revops_pipelines.domain.lead_lists import ListMapping
from revops_pipelines.domain.leads import Lead, LeadRejected, normalize_submission
from revops_pipelines.domain.routing import RoutingConfig
from revops_pipelines.domain.submissions import Submission
from revops_pipelines.infra.breaker import breaker_states
from revops_pipelines.infra.logs import log_fields
from revops_pipelines.resources.attio import AttioError, AttioResource
from revops_pipelines.resources.enrichment import EnrichmentResource
from revops_pipelines.resources.outreach import OutreachResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.leads.enrichment import CompanyEnrichment
from revops_pipelines.services.leads.flow import (
    LeadInAttio,
    LeadReport,
    RoutedLead,
    put_leads_in_attio,
    route,
    run_lead_actions,
    set_owner,
)
from revops_pipelines.store import inbox
from revops_pipelines.store.resource import RevopsDatabase

# Loaded while the definitions load: a broken file fails `dg check defs` with file and line.
ROUTING = load_model(config_path("routing.yaml"), RoutingConfig)
LISTS = load_model(config_path("lists.yaml"), ListMapping)
GROUP = "inbound_leads"
lead_retry = dg.RetryPolicy(
    max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def inbox_id(item: Lead | Submission) -> int:
    """The inbox row behind a submission or lead (its `raw_ref` is `webhook_inbox:<id>`)."""
    return int(item.raw_ref.rsplit(":", 1)[1])


def settle_refused_lead(
    context: dg.AssetExecutionContext, database: RevopsDatabase, lead: Lead, exc: AttioError
) -> None:
    """A lead Attio refuses for good (a 4xx validation error) is quarantined with Attio's own
    message, since retrying cannot help; anything transient goes back for another run."""
    if exc.retryable or exc.ambiguous or exc.status_code is None or exc.status_code >= 500:
        release_for_retry(context, database, lead, str(exc))
        return
    reason = f"Attio refused the lead: {exc}"
    inbox.mark_quarantined(database.engine(), inbox_id(lead), reason, claimed_by=context.run.run_id)
    log_fields(
        context.log,
        logging.WARNING,
        f"lead {lead.key} quarantined: {reason}",
        inbox_id=inbox_id(lead),
        outcome="quarantined",
    )


def release_for_retry(
    context: dg.AssetExecutionContext, database: RevopsDatabase, lead: Lead, error: str
) -> None:
    """Hand a lead's inbox row back (attempts + 1) so a later run tries it again."""
    inbox.release(database.engine(), [inbox_id(lead)], error, claimed_by=context.run.run_id)
    log_fields(
        context.log,
        logging.WARNING,
        f"lead {lead.key} goes back to the inbox: {error}",
        inbox_id=inbox_id(lead),
        outcome="released",
    )


@dg.asset(group_name=GROUP, kinds={"python"})
def inbound_leads(
    context: dg.AssetExecutionContext,
    form_submissions: list[Submission],
    database: RevopsDatabase,
    enrichment: EnrichmentResource,
) -> dg.MaterializeResult:
    """Submissions normalized into leads (email, parsed name, company domain unless free-mail or
    disposable, E.164 phone, region) and enriched by company domain when an enrichment API is
    configured. Invalid submissions are quarantined in the inbox with the reason."""
    leads: list[Lead] = []
    quarantined: list[tuple[str, str]] = []
    for submission in form_submissions:
        try:
            leads.append(normalize_submission(submission))
        except LeadRejected as exc:
            inbox.mark_quarantined(
                database.engine(), inbox_id(submission), str(exc), claimed_by=context.run.run_id
            )
            quarantined.append((submission.raw_ref, str(exc)))
            log_fields(
                context.log,
                logging.WARNING,
                f"submission quarantined: {exc}",
                inbox_id=inbox_id(submission),
                outcome="quarantined",
            )
    enriched: Counter[str] = Counter()
    if enrichment.is_configured():
        cached_enrichment = CompanyEnrichment(enrichment, database.engine())
        for index, lead in enumerate(leads):
            if not lead.company_domain:
                continue
            result = cached_enrichment.company(lead.company_domain)
            enriched[result.status] += 1
            if result.company is not None:
                profile = result.company
                facts = {
                    "name": profile.name,
                    "employees": profile.employees,
                    "industry": profile.industry,
                    "country": profile.country,
                }
                leads[index] = dataclasses.replace(
                    lead, enrichment={k: v for k, v in facts.items() if v is not None}
                )
    return dg.MaterializeResult(
        value=leads,
        metadata={
            "leads": len(leads),
            "quarantined": len(quarantined),
            "enrichment": dg.MetadataValue.json(
                dict(enriched) or {"skipped": "not configured or no domains"}
            ),
            "circuit_breakers": dg.MetadataValue.json(breaker_states(enrichment)),
            "quarantined_rows": dg.MetadataValue.md(
                md_table(["raw delivery", "reason"], quarantined)
            ),
        },
    )


@dg.asset(group_name=GROUP, kinds={"attio"}, pool="attio_api", retry_policy=lead_retry)
async def attio_people(
    context: dg.AssetExecutionContext,
    inbound_leads: list[Lead],
    attio: AttioResource,
    database: RevopsDatabase,
) -> dg.MaterializeResult:
    """Each lead's company asserted by domain, then the person asserted by email and linked to
    it (asserting twice changes nothing). A lead whose Attio write fails goes back to the inbox.
    Before any write, `routing.yaml` and `lists.yaml` are checked against the workspace (its
    members and lists, from the schema cache): a rep or list Attio lacks fails the run, and the
    leads wait in the inbox."""
    caches = attio.cache_snapshot()
    async with attio.client() as client:
        problems = routing_problems(ROUTING, await client.workspace.members())
        problems += list_problems(LISTS, await client.workspace.lists())
        if problems:
            raise dg.Failure(
                "the lead configuration does not fit the Attio workspace: " + "; ".join(problems)
            )
        results = await put_leads_in_attio(client, inbound_leads)
    people: list[LeadInAttio] = []
    failed: list[tuple[str, str]] = []
    for lead, result in zip(inbound_leads, results, strict=True):
        if isinstance(result, AttioError):
            settle_refused_lead(context, database, lead, result)
            failed.append((lead.key, str(result)))
        else:
            people.append(result)
    return dg.MaterializeResult(
        value=people,
        metadata={
            "people": len(people),
            "with_company": sum(1 for p in people if p.company.record_id),
            "back_to_inbox": len(failed),
            "failures": dg.MetadataValue.md(md_table(["lead", "error"], failed)),
            **attio.cache_metadata(caches),
        },
    )


@dg.asset(group_name=GROUP, kinds={"attio"}, pool="attio_api", retry_policy=lead_retry)
async def routed_leads(
    context: dg.AssetExecutionContext,
    attio_people: list[LeadInAttio],
    attio: AttioResource,
    database: RevopsDatabase,
) -> dg.MaterializeResult:
    """Each lead routed by `config/routing.yaml` (first matching rule, then the pool's strategy,
    skipping reps out of office or at capacity); `owner` and `routing_reason` set on the person.
    A lead routed before keeps its rep."""
    engine = database.engine()
    # Turns are taken one lead at a time, in arrival order; the Attio writes then go together.
    candidates = [route(engine, ROUTING, entry) for entry in attio_people]
    async with attio.client() as client:
        written = await asyncio.gather(
            *(set_owner(client, r) for r in candidates), return_exceptions=True
        )
    routed: list[RoutedLead] = []
    failed: list[tuple[str, str]] = []
    for candidate, outcome in zip(candidates, written, strict=True):
        if isinstance(outcome, AttioError):
            settle_refused_lead(context, database, candidate.lead, outcome)
            failed.append((candidate.lead.key, str(outcome)))
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            routed.append(candidate)
    by_rule = Counter(r.decision.rule for r in routed)
    by_rep = Counter(r.decision.rep_email or "(unassigned)" for r in routed)
    return dg.MaterializeResult(
        value=routed,
        metadata={
            "routed": len(routed),
            "back_to_inbox": len(failed),
            "per_rule": dg.MetadataValue.md(md_table(["rule", "leads"], sorted(by_rule.items()))),
            "per_rep": dg.MetadataValue.md(md_table(["rep", "leads"], sorted(by_rep.items()))),
            "decisions": dg.MetadataValue.md(
                md_table(
                    ["lead", "rep", "why"],
                    [(r.lead.email, r.decision.rep_email, r.decision.reason) for r in routed],
                )
            ),
        },
    )


@dg.asset(group_name=GROUP, kinds={"attio", "slack"}, pool="attio_api", retry_policy=lead_retry)
async def lead_follow_ups(
    context: dg.AssetExecutionContext,
    routed_leads: list[RoutedLead],
    attio: AttioResource,
    database: RevopsDatabase,
    slack: SlackResource,
    outreach: OutreachResource,
) -> dg.MaterializeResult:
    """For each routed lead, once each: the list chosen by form (`config/lists.yaml`), a task for
    the rep due the next business day in the rep's time zone, a Slack message, the Outreach
    sequence of the pool, and an audit note listing every step."""
    engine = database.engine()
    # A lead on its last inbox attempt finishes even if Slack or Outreach still fails.
    attempts = {
        row.id: row.attempts
        for row in inbox.get_rows(engine, [inbox_id(r.lead) for r in routed_leads])
    }
    async with attio.client() as client:
        reports: list[LeadReport] = await asyncio.gather(
            *(
                run_lead_actions(
                    r,
                    client=client,
                    engine=engine,
                    config=ROUTING,
                    lists=LISTS,
                    slack=slack,
                    outreach=outreach,
                    last_attempt=attempts.get(inbox_id(r.lead), 0) + 1
                    >= inbox.DEFAULT_MAX_ATTEMPTS,
                )
                for r in routed_leads
            )
        )
    for report in reports:
        if report.failed_critical or report.retry_later:
            release_for_retry(
                context, database, report.lead, report.failed_critical or report.retry_later or ""
            )
    statuses = Counter((s.step, s.status) for r in reports for s in r.steps)
    rows = [
        (r.lead.email, s.step, s.status, s.detail)
        for r in reports
        for s in r.steps
        if s.status != "done"
    ]
    return dg.MaterializeResult(
        metadata={
            "leads": len(reports),
            "completed": sum(1 for r in reports if not (r.failed_critical or r.retry_later)),
            "back_to_inbox": sum(1 for r in reports if r.failed_critical or r.retry_later),
            "steps": dg.MetadataValue.json(
                {f"{step}:{status}": n for (step, status), n in sorted(statuses.items())}
            ),
            "not_done": dg.MetadataValue.md(md_table(["lead", "step", "status", "detail"], rows)),
            "circuit_breakers": dg.MetadataValue.json(breaker_states(attio, slack, outreach)),
        }
    )


LEAD_ASSETS = [inbound_leads, attio_people, routed_leads, lead_follow_ups]
