"""Product usage (flow D): Segment track events from the inbox, rolled up daily into Attio.

`product_usage` (daily partitions, UTC) reads the Segment rows of the inbox received in the 30-day
window ending with the partition's last day (plus a day either side for clock skew and late
delivery), read-only, and counts each event once per `messageId` by its own timestamp
(`domain/usage.py`). It writes `last_seen_at`, `active_days_7`, `active_days_30` and `top_events`
to the people (by email) and companies (by domain) that already exist in Attio; it never creates
records. `usage_state` holds a digest of what was last written per record: an unchanged rollup is
not written again, an older partition (a backfill) never overwrites a newer one, and a record
whose activity has left the window is written once with zero active days.

No other flow consumes Segment rows, so this asset settles them: after its writes, the pending
rows received in the partition's own days are claimed under the run id and marked done in one go;
unreadable ones are quarantined with the reason. `no_stuck_segment_rows` fails (WARN) when Segment
rows used up their attempts or were left pending past `STUCK_AFTER` (their day never rolled up).
"""

import asyncio
import os
from datetime import UTC, datetime, timedelta

import dagster as dg

from revops_pipelines.assets.forms import WEBHOOK_INBOX, failed_rows_check, md_table
from revops_pipelines.domain.usage import (
    TrackEvent,
    UsageEventError,
    day_end,
    parse_track,
    plan_writes,
    rollup,
    window_start,
)
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.services.usage import write_all
from revops_pipelines.store import inbox
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.store.usage import (
    SEGMENT_SOURCES,
    load_state,
    pending_segment_before,
    save_state,
    segment_rows_received,
)

SKEW = timedelta(days=1)  # rows received this long before/after the window are read too
STUCK_AFTER = timedelta(days=2)

usage_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("REVOPS_SYNC_START_DATE", "2026-01-01"), timezone="UTC"
)


# --- the asset --------------------------------------------------------------------------------
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
    engine = database.engine()
    window = context.partition_time_window
    as_of = (window.end - timedelta(days=1)).date()
    own_start, own_end = window.start.astimezone(UTC), window.end.astimezone(UTC)

    events: list[TrackEvent] = []
    bad: list[tuple[int, str]] = []
    settle: list[int] = []
    rows_read = 0
    for row in segment_rows_received(engine, window_start(as_of) - SKEW, day_end(as_of) + SKEW):
        rows_read += 1
        try:
            event = parse_track(row.body)
        except UsageEventError as exc:
            bad.append((row.id, str(exc)))
            continue
        if event is not None:
            events.append(event)
        if row.status == "pending" and own_start <= row.received_at < own_end:
            settle.append(row.id)

    summaries = rollup(events, as_of)
    writes, unchanged, newer = plan_writes(summaries, load_state(engine), as_of)
    outcomes = asyncio.run(write_all(attio, writes))
    now = datetime.now(UTC)
    save_state(
        engine,
        [
            {
                "object": o.write.object,
                "record_key": o.write.key,
                "digest": o.write.summary.digest(),
                "as_of": as_of,
                "last_seen_at": o.write.summary.last_seen_at,
                "attio_record_id": o.attio_record_id,
                "last_run_id": context.run.run_id,
                "written_at": now,
            }
            for o in outcomes
            if o.status == "written"
        ],
    )

    for row_id, reason in bad:
        inbox.mark_quarantined(engine, row_id, f"unreadable Segment event: {reason}")
    claimed = inbox.claim_batch(
        engine,
        SEGMENT_SOURCES,
        limit=max(len(settle), 1),
        claimed_by=context.run.run_id,
        ids=settle,
    )
    done = inbox.mark_done(engine, [r.id for r in claimed], claimed_by=context.run.run_id)

    by_status = {s: [o for o in outcomes if o.status == s] for s in ("written", "not_in_attio")}
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        context.log.warning(f"{o.write.object} {o.write.key}: {o.message}")
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "inbox_rows_read": rows_read,
            "track_events": len({e.message_id for e in events}),
            "people": sum(1 for obj, _ in summaries if obj == "people"),
            "companies": sum(1 for obj, _ in summaries if obj == "companies"),
            "written": len(by_status["written"]),
            "unchanged": unchanged,
            "skipped_newer_partition": newer,
            "not_in_attio": len(by_status["not_in_attio"]),
            "failed": len(failed),
            "inbox_rows_done": done,
            "inbox_rows_quarantined": len(bad),
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
    stale = pending_segment_before(engine, datetime.now(UTC) - STUCK_AFTER)
    return dg.AssetCheckResult(
        passed=failed.passed and not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            **failed.metadata,
            "stale_pending": len(stale),
            "stale_pending_ids": dg.MetadataValue.text(", ".join(map(str, stale)) or "-"),
        },
    )


product_usage_job = dg.define_asset_job(
    name="product_usage_job",
    description="Segment track events of a day rolled up into Attio usage attributes.",
    selection=dg.AssetSelection.assets(product_usage)
    | dg.AssetSelection.checks(no_stuck_segment_rows),
    tags={"revops/flow": "product_usage"},
)

product_usage_schedule = dg.build_schedule_from_partitioned_job(
    product_usage_job, hour_of_day=1, name="product_usage_schedule"
)

defs = dg.Definitions(
    assets=[product_usage],
    asset_checks=[no_stuck_segment_rows],
    jobs=[product_usage_job],
    schedules=[product_usage_schedule],
)
