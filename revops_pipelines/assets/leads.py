"""Flow B: form submissions become normalized, enriched, routed Attio people with follow-ups.

Each asset reads its input, calls its step of the lead flow (`services/leads/`) and reports the
outcome as metadata; the steps hand leads that failed back to the inbox themselves.
"""

from collections import Counter

import dagster as dg

from revops_pipelines.assets.inbox import inbox_run
from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.enrichment_fill import policy_from_mapping
from revops_pipelines.domain.field_mapping import FieldMapping
from revops_pipelines.domain.lead_lists import ListMapping
from revops_pipelines.domain.leads import Lead
from revops_pipelines.domain.markdown import md_table
from revops_pipelines.domain.routing import RoutingConfig
from revops_pipelines.domain.routing_dashboard import days_markdown
from revops_pipelines.domain.submissions import Submission
from revops_pipelines.infra.breaker import breaker_states
from revops_pipelines.infra.rate_budget import INTERACTIVE, budget_states
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.enrichment import EnrichmentResource
from revops_pipelines.resources.outreach import OutreachResource
from revops_pipelines.resources.salesloft import SalesloftResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.leads.batch import (
    LeadConfigMismatch,
    follow_up_leads,
    people_in_attio,
    route_leads,
)
from revops_pipelines.services.leads.flow import LeadInAttio, RoutedLead
from revops_pipelines.services.leads.intake import normalize_leads
from revops_pipelines.services.routing_dashboard import touched_days
from revops_pipelines.store.resource import RevopsDatabase

# Loaded while the definitions load: a broken file fails `dg check defs` with file and line.
ROUTING = load_model(config_path("routing.yaml"), RoutingConfig)
LISTS = load_model(config_path("lists.yaml"), ListMapping)
# Enriched facts fill empty company attributes, never the ones this mapping syncs from Salesforce.
FILL_POLICY = policy_from_mapping(load_model(config_path("field_mapping.yaml"), FieldMapping))
GROUP = "inbound_leads"
lead_retry = dg.RetryPolicy(
    max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
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
    batch = normalize_leads(inbox_run(context, database), form_submissions, enrichment)
    return dg.MaterializeResult(
        value=batch.leads,
        metadata={
            "leads": len(batch.leads),
            "quarantined": len(batch.quarantined),
            "enrichment": dg.MetadataValue.json(
                dict(batch.enriched) or {"skipped": "not configured or no domains"}
            ),
            "circuit_breakers": dg.MetadataValue.json(breaker_states(enrichment)),
            "quarantined_rows": dg.MetadataValue.md(
                md_table(["raw delivery", "reason"], batch.quarantined)
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
    async with attio.client(priority=INTERACTIVE) as client:
        try:
            batch = await people_in_attio(
                client, inbox_run(context, database), inbound_leads, ROUTING, LISTS, FILL_POLICY
            )
        except LeadConfigMismatch as exc:
            raise dg.Failure(str(exc)) from exc
    people = batch.kept
    return dg.MaterializeResult(
        value=people,
        metadata={
            "people": len(people),
            "with_company": sum(1 for p in people if p.company.record_id),
            "enrichment_fills": sum(len(p.company.filled) for p in people),
            "enrichment_filled": dg.MetadataValue.json(
                dict(Counter(slug for p in people for slug in p.company.filled))
            ),
            "back_to_inbox": len(batch.failed),
            "failures": dg.MetadataValue.md(md_table(["lead", "error"], batch.failed)),
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
    A lead routed before keeps its rep. `routing_by_day`: the routing dashboard's table (per rep:
    leads routed, median time to first touch, SLA breaches) of each day the run routed on."""
    async with attio.client(priority=INTERACTIVE) as client:
        batch = await route_leads(
            client, database.engine(), inbox_run(context, database), ROUTING, attio_people
        )
    routed = batch.kept
    days = touched_days(database.engine(), (r.assigned_at for r in routed))
    by_rule = Counter(r.decision.rule for r in routed)
    by_rep = Counter(r.decision.rep_email or "(unassigned)" for r in routed)
    return dg.MaterializeResult(
        value=routed,
        metadata={
            "routed": len(routed),
            "back_to_inbox": len(batch.failed),
            "per_rule": dg.MetadataValue.md(md_table(["rule", "leads"], sorted(by_rule.items()))),
            "per_rep": dg.MetadataValue.md(md_table(["rep", "leads"], sorted(by_rep.items()))),
            "decisions": dg.MetadataValue.md(
                md_table(
                    ["lead", "rep", "why"],
                    [(r.lead.email, r.decision.rep_email, r.decision.reason) for r in routed],
                )
            ),
            "routing_by_day": dg.MetadataValue.md(days_markdown(days)),
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
    salesloft: SalesloftResource,
) -> dg.MaterializeResult:
    """For each routed lead, once each: the list chosen by form (`config/lists.yaml`), a task for
    the rep due the next business day in the rep's time zone, a Slack message (and a high-value
    post when routing.yaml's rule matches), the pool's Outreach sequence or Salesloft cadence,
    and an audit note listing every step. `routing_by_day`: the routing dashboard's table of each
    day its leads were routed on."""
    async with attio.client(priority=INTERACTIVE) as client:
        reports = await follow_up_leads(
            client,
            database.engine(),
            inbox_run(context, database),
            routed_leads,
            routing=ROUTING,
            lists=LISTS,
            slack=slack,
            outreach=outreach,
            salesloft=salesloft,
        )
    days = touched_days(database.engine(), (r.assigned_at for r in routed_leads))
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
            "circuit_breakers": dg.MetadataValue.json(
                breaker_states(attio, slack, outreach, salesloft)
            ),
            "rate_budgets": dg.MetadataValue.json(budget_states(attio, slack, outreach, salesloft)),
            "routing_by_day": dg.MetadataValue.md(days_markdown(days)),
        }
    )


LEAD_ASSETS = [inbound_leads, attio_people, routed_leads, lead_follow_ups]

defs = dg.Definitions(assets=LEAD_ASSETS)
