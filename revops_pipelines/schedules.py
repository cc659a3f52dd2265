"""Schedules: hourly incremental and weekly full Salesforce syncs, the daily usage rollup, and
the weekly inbox retention (off by default)."""

from datetime import timedelta

import dagster as dg

from revops_pipelines.assets.salesforce_sync import daily_partitions
from revops_pipelines.jobs import (
    FULL_SYNC_RUN_CONFIG,
    inbox_purge_job,
    product_usage_job,
    salesforce_full_sync_job,
    salesforce_incremental_sync_job,
)

LOOKBACK_MINUTES = 15


def incremental_partitions(tick: dg.ScheduleEvaluationContext) -> list[str]:
    """The days the last hour (and its lookback) touched: just today, or at the first tick after
    midnight also yesterday, whose last minutes would otherwise never be read again."""
    when = tick.scheduled_execution_time
    keys = daily_partitions.get_partition_keys(current_time=when)
    earliest = (when - timedelta(hours=1, minutes=LOOKBACK_MINUTES)).strftime("%Y-%m-%d")
    return [k for k in keys if earliest <= k <= when.strftime("%Y-%m-%d")]


@dg.schedule(
    name="salesforce_incremental_sync_schedule",
    cron_schedule="5 * * * *",
    job=salesforce_incremental_sync_job,
    execution_timezone="UTC",
    description="Hourly: today's partition (and yesterday's, just after midnight).",
)
def salesforce_incremental_sync_schedule(context: dg.ScheduleEvaluationContext):  # type: ignore[no-untyped-def]
    stamp = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
    for key in incremental_partitions(context):
        yield dg.RunRequest(
            run_key=f"{key}@{stamp}",
            partition_key=key,
            run_config={
                "ops": {"salesforce_accounts": {"config": {"lookback_minutes": LOOKBACK_MINUTES}}}
            },
        )


@dg.schedule(
    name="salesforce_full_sync_schedule",
    cron_schedule="0 3 * * 0",
    job=salesforce_full_sync_job,
    execution_timezone="UTC",
    description="Weekly: every day's accounts in one run, reconciled against Attio.",
)
def salesforce_full_sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    keys = daily_partitions.get_partition_keys(current_time=context.scheduled_execution_time)
    return dg.RunRequest(
        run_key=f"full@{context.scheduled_execution_time:%Y-%m-%d}",
        run_config=FULL_SYNC_RUN_CONFIG,
        tags={
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[-1],
        },
    )


product_usage_schedule = dg.build_schedule_from_partitioned_job(
    product_usage_job, hour_of_day=1, name="product_usage_schedule"
)

# Off by default: how long raw deliveries are kept is the operator's decision (start it in the
# UI, or run `revops webhooks purge`).
inbox_purge_schedule = dg.ScheduleDefinition(
    name="inbox_purge_schedule",
    job=inbox_purge_job,
    cron_schedule="30 4 * * 0",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Weekly: empty the bodies and headers of inbox rows settled over 30 days ago.",
)

SCHEDULES = (
    salesforce_incremental_sync_schedule,
    salesforce_full_sync_schedule,
    product_usage_schedule,
    inbox_purge_schedule,
)

defs = dg.Definitions(schedules=list(SCHEDULES))
