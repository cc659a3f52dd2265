"""Product usage (flow D): Segment track events from the inbox, rolled up daily into Attio.

`product_usage` (daily partitions, UTC) hands its partition's day to `services/usage.py`, which
reads the Segment rows of the inbox received in the 30-day window ending with that day, counts
each event once per `messageId`, writes `last_seen_at`, `active_days_7`, `active_days_30` and
`top_events` to the people (by email) and companies (by domain) that already exist in Attio, and
settles the day's rows. `usage_state` holds a digest of what was last written per record: an
unchanged rollup is not written again, an older partition (a backfill) never overwrites a newer
one, and a record whose activity has left the window is written once with zero active days.
`no_stuck_segment_rows` fails (WARN) when Segment rows used up their attempts or were left
pending past `STUCK_AFTER` (their day never rolled up).
"""

import asyncio
import os

import dagster as dg

from revops_pipelines.assets.inbox import WEBHOOK_INBOX, failed_rows_check, inbox_run
from revops_pipelines.domain.markdown import md_table
from revops_pipelines.infra.rate_budget import BULK, budget_states
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.services.usage import (
    SEGMENT_SOURCES,
    UsageReport,
    roll_up_day,
    stuck_segment_rows,
)
from revops_pipelines.store.resource import RevopsDatabase

usage_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("REVOPS_SYNC_START_DATE", "2026-01-01"), timezone="UTC"
)


@dg.asset(
    partitions_def=usage_partitions,
    deps=[WEBHOOK_INBOX],
    group_name="product_usage",
    kinds={"python"},
    pool="attio_api",
)
def product_usage(
    context: dg.AssetExecutionContext, database: RevopsDatabase, attio: AttioResource
) -> dg.MaterializeResult:
    """Segment track events rolled up per person (email) and company (domain) as of the
    partition's last day, written to Attio only where the values changed."""
    window = context.partition_time_window

    async def roll_up() -> UsageReport:
        async with attio.client(priority=BULK) as client:  # a rollup takes what leads leave
            run = inbox_run(context, database)
            return await roll_up_day(client, database.engine(), run, window.start, window.end)

    report = asyncio.run(roll_up())
    failed = report.with_status("failed")
    for o in failed:
        context.log.warning(f"{o.write.object} {o.write.key}: {o.message}")
    return dg.MaterializeResult(
        metadata={
            "as_of": report.as_of.isoformat(),
            "rate_budgets": dg.MetadataValue.json(budget_states(attio)),
            "inbox_rows_read": report.rows_read,
            "track_events": len({e.message_id for e in report.events}),
            "people": report.people,
            "companies": report.companies,
            "written": len(report.with_status("written")),
            "unchanged": report.unchanged,
            "skipped_newer_partition": report.skipped_newer,
            "not_in_attio": len(report.with_status("not_in_attio")),
            "failed": len(failed),
            "inbox_rows_done": report.rows_done,
            "inbox_rows_quarantined": len(report.quarantined),
            "failures": dg.MetadataValue.md(
                md_table(
                    ["object", "key", "error"],
                    [(o.write.object, o.write.key, o.message) for o in failed],
                )
            ),
        }
    )


@dg.asset_check(asset=WEBHOOK_INBOX.key, name="no_stuck_segment_rows")
def no_stuck_segment_rows(database: RevopsDatabase) -> dg.AssetCheckResult:
    """No Segment inbox row has used up its attempts, or is still pending `STUCK_AFTER` after it
    arrived (its day's `product_usage` partition never settled it)."""
    engine = database.engine()
    failed = failed_rows_check(engine, SEGMENT_SOURCES, "no_stuck_segment_rows")
    stale = stuck_segment_rows(engine)
    return dg.AssetCheckResult(
        passed=failed.passed and not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            **failed.metadata,
            "stale_pending": len(stale),
            "stale_pending_ids": dg.MetadataValue.text(", ".join(map(str, stale)) or "-"),
        },
    )


defs = dg.Definitions(assets=[product_usage], asset_checks=[no_stuck_segment_rows])
