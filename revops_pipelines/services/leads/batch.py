"""A run's batch of leads through the lead flow's steps: Attio records, routing, follow-ups.

Each step takes the leads the previous one kept. A lead Attio refuses for good is quarantined
with Attio's message; a lead whose step failed for a transient reason goes back to the inbox (its
row, by the lead's `inbox_id`) for a later run, and the batch goes on without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import sqlalchemy as sa

from revops_pipelines.domain.config_checks import list_problems, routing_problems
from revops_pipelines.domain.enrichment_fill import FillPolicy
from revops_pipelines.domain.lead_lists import ListMapping
from revops_pipelines.domain.leads import Lead
from revops_pipelines.domain.routing import RoutingConfig
from revops_pipelines.resources.attio import AttioClient, AttioError
from revops_pipelines.resources.outreach import OutreachResource
from revops_pipelines.resources.salesloft import SalesloftResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.inbox import InboxRun
from revops_pipelines.services.leads.flow import (
    LeadInAttio,
    LeadReport,
    RoutedLead,
    put_leads_in_attio,
    route,
    run_lead_actions,
    set_owner,
)


class LeadConfigMismatch(ValueError):
    """`routing.yaml` or `lists.yaml` names a rep or list the Attio workspace lacks."""


T = TypeVar("T")


@dataclass
class StepBatch(Generic[T]):
    kept: list[T] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (lead key, error)


def hand_back(run: InboxRun, lead: Lead, error: str) -> None:
    """Hand a lead's inbox row back (attempts + 1) so a later run tries it again."""
    if lead.inbox_id is not None:
        run.hand_back(lead.inbox_id, error, what=f"lead {lead.key}")


def settle_refused_lead(run: InboxRun, lead: Lead, exc: AttioError) -> None:
    """A lead Attio refuses for good (a 4xx validation error) is quarantined with Attio's own
    message, since retrying cannot help; anything transient goes back for another run."""
    if exc.retryable or exc.ambiguous or exc.status_code is None or exc.status_code >= 500:
        hand_back(run, lead, str(exc))
        return
    if lead.inbox_id is not None:
        reason = f"Attio refused the lead: {exc}"
        run.quarantine(lead.inbox_id, reason, what=f"lead {lead.key}")


async def check_lead_config(
    client: AttioClient, routing: RoutingConfig, lists: ListMapping
) -> None:
    """The reps and lists of the configuration exist in the workspace (from the schema cache)."""
    problems = routing_problems(routing, await client.workspace.members())
    problems += list_problems(lists, await client.workspace.lists())
    if problems:
        raise LeadConfigMismatch(
            "the lead configuration does not fit the Attio workspace: " + "; ".join(problems)
        )


async def people_in_attio(
    client: AttioClient,
    run: InboxRun,
    leads: Sequence[Lead],
    routing: RoutingConfig,
    lists: ListMapping,
    policy: FillPolicy | None = None,
) -> StepBatch[LeadInAttio]:
    """Each lead's company asserted by domain, then its person by email, linked. The
    configuration is checked against the workspace first: a mismatch stops before any write."""
    await check_lead_config(client, routing, lists)
    results = await put_leads_in_attio(client, list(leads), policy)
    batch: StepBatch[LeadInAttio] = StepBatch()
    for lead, result in zip(leads, results, strict=True):
        if isinstance(result, AttioError):
            settle_refused_lead(run, lead, result)
            batch.failed.append((lead.key, str(result)))
        else:
            batch.kept.append(result)
    return batch


async def route_leads(
    client: AttioClient,
    engine: sa.Engine,
    run: InboxRun,
    routing: RoutingConfig,
    people: Sequence[LeadInAttio],
) -> StepBatch[RoutedLead]:
    """Each lead routed (a lead routed before keeps its rep); `owner` and `routing_reason` set
    on the person."""
    # Turns are taken one lead at a time, in arrival order; the Attio writes then go together.
    candidates = [route(engine, routing, entry) for entry in people]
    written = await asyncio.gather(
        *(set_owner(client, r) for r in candidates), return_exceptions=True
    )
    batch: StepBatch[RoutedLead] = StepBatch()
    for candidate, outcome in zip(candidates, written, strict=True):
        if isinstance(outcome, AttioError):
            settle_refused_lead(run, candidate.lead, outcome)
            batch.failed.append((candidate.lead.key, str(outcome)))
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            batch.kept.append(candidate)
    return batch


async def follow_up_leads(
    client: AttioClient,
    engine: sa.Engine,
    run: InboxRun,
    routed: Sequence[RoutedLead],
    *,
    routing: RoutingConfig,
    lists: ListMapping,
    slack: SlackResource,
    outreach: OutreachResource,
    salesloft: SalesloftResource | None = None,
) -> list[LeadReport]:
    """List entry, task, Slack, Outreach and the audit note of each lead, once each. A lead
    with a step left to redo goes back to the inbox; one on its last attempt finishes anyway."""
    last = run.on_last_attempt(r.lead.inbox_id for r in routed if r.lead.inbox_id is not None)
    reports: list[LeadReport] = await asyncio.gather(
        *(
            run_lead_actions(
                r,
                client=client,
                engine=engine,
                config=routing,
                lists=lists,
                slack=slack,
                outreach=outreach,
                salesloft=salesloft,
                last_attempt=(
                    last.get(r.lead.inbox_id, False) if r.lead.inbox_id is not None else True
                ),
            )
            for r in routed
        )
    )
    for report in reports:
        if report.failed_critical or report.retry_later:
            hand_back(run, report.lead, report.failed_critical or report.retry_later or "")
    return reports
