"""The data team's routing dashboard: a daily-partitioned asset whose value is the day's table
(per rep: leads routed, median time to first touch, SLA breaches), shown as markdown in its
metadata. Backfill it like any daily partition; a day's numbers firm up as first touches and
escalations arrive, so re-materializing a recent day is expected."""

from datetime import date

import dagster as dg

from revops_pipelines.domain.routing_dashboard import markdown
from revops_pipelines.services.routing_dashboard import day_rows
from revops_pipelines.store.resource import RevopsDatabase

DAILY = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC")


@dg.asset(partitions_def=DAILY, group_name="leads", kinds={"python"})
def routing_daily_dashboard(
    context: dg.AssetExecutionContext, database: RevopsDatabase
) -> dg.MaterializeResult:
    """Per rep, for the partition's day (UTC): leads routed, how many were first touched, the
    median minutes from webhook to first touch, and SLA breaches (escalations)."""
    rows = day_rows(database.engine(), date.fromisoformat(context.partition_key))
    return dg.MaterializeResult(
        value=rows,
        metadata={
            "day": context.partition_key,
            "leads_routed": sum(int(r["leads routed"]) for r in rows),  # type: ignore[call-overload]
            "sla_breaches": sum(int(r["SLA breaches"]) for r in rows),  # type: ignore[call-overload]
            "per_rep": dg.MetadataValue.md(markdown(rows)),
        },
    )


defs = dg.Definitions(assets=[routing_daily_dashboard])
