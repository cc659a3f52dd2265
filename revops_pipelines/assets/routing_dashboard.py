"""The data team's routing dashboard: a daily-partitioned asset whose value is the day's table
(per rep: leads routed, median time to first touch, SLA breaches), shown as markdown in its
metadata. Backfill it like any daily partition; a day's numbers firm up as first touches and
escalations arrive, so re-materializing a recent day is expected."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from revops_pipelines.domain.markdown import md_table
from revops_pipelines.domain.routing_dashboard import COLUMNS, as_table_rows, daily_rows
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.store.routing_dashboard import day_facts

DAILY = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC")


@dg.asset(partitions_def=DAILY, group_name="leads", kinds={"python"})
def routing_daily_dashboard(
    context: dg.AssetExecutionContext, database: RevopsDatabase
) -> dg.MaterializeResult:
    """Per rep, for the partition's day (UTC): leads routed, how many were first touched, the
    median minutes from webhook to first touch, and SLA breaches (escalations)."""
    start = datetime.fromisoformat(context.partition_key).replace(tzinfo=UTC)
    assignments, touches, escalated = day_facts(database.engine(), start, start + timedelta(days=1))
    rows = daily_rows(assignments, touches, escalated)
    return dg.MaterializeResult(
        value=rows,
        metadata={
            "day": context.partition_key,
            "leads_routed": sum(int(r["leads routed"]) for r in rows),  # type: ignore[call-overload]
            "sla_breaches": sum(int(r["SLA breaches"]) for r in rows),  # type: ignore[call-overload]
            "per_rep": dg.MetadataValue.md(md_table(COLUMNS, as_table_rows(rows))),
        },
    )


defs = dg.Definitions(assets=[routing_daily_dashboard])
