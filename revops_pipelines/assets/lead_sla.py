"""Lead SLAs (flow C): the escalation asset, its check, and the schedule that runs it.

SLA checks run on a frequent schedule (every 15 minutes) over `lead_sla_escalations`, not in a
sensor: a breach is a matter of time passing, not of an event arriving, and SLAs count whole
business hours, so a quarter-hour lag is well inside them while a run stays cheap (only leads
with no first touch and no escalation are read). The service does the work
(`services/lead_sla.py`); the check lists the leads past SLA that are not escalated yet.
"""

from datetime import UTC, datetime

import dagster as dg

from revops_pipelines.assets.leads import ROUTING
from revops_pipelines.domain.markdown import md_table
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.lead_sla import SlaEscalation, leads_past_sla
from revops_pipelines.store.resource import RevopsDatabase


@dg.asset(group_name="leads", kinds={"attio", "slack"}, pool="attio_api")
async def lead_sla_escalations(
    context: dg.AssetExecutionContext,
    database: RevopsDatabase,
    attio: AttioResource,
    slack: SlackResource,
) -> dg.MaterializeResult:
    """Routed leads whose follow-up task is still open past their pool's SLA
    (`sla_business_hours` in routing.yaml), each escalated once in the pool's channel with an
    audit note, and where the pool sets `sla_reroute` re-routed to the rep the pool's own
    strategy picks among its other available reps (chosen once, counted as a turn)."""
    if not slack.is_configured():
        problem = slack.configuration_problem() or "Slack is not configured"
        breaches = leads_past_sla(database.engine(), ROUTING, datetime.now(UTC))
        context.log.warning(f"lead SLAs: {len(breaches)} past SLA, not escalated: {problem}")
        return dg.MaterializeResult(metadata={"past_sla": len(breaches), "skipped": problem})
    async with attio.client() as client:
        report = await SlaEscalation(
            client, database.engine(), slack, ROUTING, log=context.log
        ).run()
    metadata = {
        "past_sla": len(report.breaches),
        "escalated": sum(1 for e in report.escalated if e[3] == "escalated"),
        "rerouted": sum(1 for e in report.escalated if e[3] == "escalated" and e[4]),
        "escalations": dg.MetadataValue.md(
            md_table(["lead", "pool", "rep", "status", "re-routed to"], report.escalated)
        ),
        "skipped": dg.MetadataValue.md(
            md_table(["reason", "leads"], sorted(report.skipped.items()))
        ),
    }
    if report.errors:
        raise dg.Failure(
            f"{len(report.errors)} SLA escalation(s) failed: " + "; ".join(report.errors),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=lead_sla_escalations, name="no_leads_past_sla")
def no_leads_past_sla(database: RevopsDatabase) -> dg.AssetCheckResult:
    """No routed lead is past its SLA without an escalation (they are listed)."""
    breaches = leads_past_sla(database.engine(), ROUTING, datetime.now(UTC))
    rows = [(b.lead_key, b.pool, b.rep, f"{b.deadline:%Y-%m-%d %H:%M} UTC") for b in breaches[:50]]
    return dg.AssetCheckResult(
        passed=not breaches,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "past_sla": len(breaches),
            "leads": dg.MetadataValue.md(md_table(["lead", "pool", "rep", "deadline"], rows)),
        },
    )


lead_sla_job = dg.define_asset_job("lead_sla_job", selection=[lead_sla_escalations])
lead_sla_schedule = dg.ScheduleDefinition(
    name="lead_sla_schedule", job=lead_sla_job, cron_schedule="*/15 * * * *"
)

defs = dg.Definitions(
    assets=[lead_sla_escalations],
    asset_checks=[no_leads_past_sla],
    jobs=[lead_sla_job],
    schedules=[lead_sla_schedule],
)
