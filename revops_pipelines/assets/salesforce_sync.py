"""Flow A: Salesforce accounts -> Attio companies, daily partitions on SystemModstamp.

The read is `services/company_sync/accounts.py`, the mapping `domain/company_mapping.py`, the
write `services/company_sync/sync.py`; these assets turn their results into metadata and checks.
"""

import os
import warnings
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import dagster as dg
from pydantic import Field

from revops_pipelines.assets.heartbeat import RunHeartbeat
from revops_pipelines.assets.sync_report import company_sync_report, rejection_table
from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.company_checks import mapped_quality
from revops_pipelines.domain.company_mapping import map_accounts
from revops_pipelines.domain.field_mapping import FieldMapping
from revops_pipelines.infra.breaker import breaker_states
from revops_pipelines.infra.rate_budget import BULK, budget_states
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.services.company_sync.accounts import AccountsReadStopped, read_accounts
from revops_pipelines.services.company_sync.sync import MappingMismatch, sync_companies
from revops_pipelines.store.resource import RevopsDatabase

if TYPE_CHECKING:
    from pandas import DataFrame
else:
    # Dagster resolves these annotations when the definitions load: a stand-in that checks
    # values as pandas DataFrames without importing pandas (resources/frames.py).
    from revops_pipelines.resources.frames import DataFrame

# BackfillPolicy is beta in Dagster 1.13; batching days per run is the point of these assets.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")

# Loaded while the definitions load: a broken mapping fails `dg check defs` with file and line.
FIELD_MAPPING = load_model(config_path("field_mapping.yaml"), FieldMapping)

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("REVOPS_SYNC_START_DATE", "2026-01-01"),
    timezone="UTC",
    end_offset=1,  # today's partition exists, so the hourly schedule can run it while it fills
)
# Backfills read up to a month of days in one run: one query per window, not one per day.
backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=31)
sync_retry = dg.RetryPolicy(
    max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
GROUP = "salesforce_sync"

# `mapped_companies` and `attio_companies` are synced by the hourly incremental schedule (plus
# the weekly full sync): `warn_window=3h` flags three missed hourly runs in a row, `fail_window=26h`
# a whole day without a successful sync, with two hours of slack for a long backfill.
SYNC_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26), warn_window=timedelta(hours=3)
)


class AccountsReadConfig(dg.Config):
    lookback_minutes: int = Field(
        default=0, ge=0, description="Read this much before the window too (the hourly schedule)."
    )
    method: Literal["rest", "bulk", "auto"] = Field(
        default="auto", description="REST queryAll pages, a Bulk API 2.0 job, or by row count."
    )


class CompanyWriteConfig(dg.Config):
    dry_run: bool = Field(default=False, description="Plan and report, write nothing.")
    full: bool = Field(default=False, description="Write every valid row, changed or not.")


NO_PARTITIONS_HINT = (
    "the Salesforce sync reads days: launch it with a partition or a range of partitions. In the "
    "UI's launchpad choose the partitions (all of them for a full sync, as the weekly "
    "salesforce_full_sync_schedule does); from the command line: dagster job launch -j "
    'salesforce_full_sync_job --tags \'{"dagster/asset_partition_range_start": "<first day>", '
    '"dagster/asset_partition_range_end": "<last day>"}\' (or -j '
    'salesforce_incremental_sync_job --tags \'{"dagster/partition": "<day>"}\')'
)


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    retry_policy=sync_retry,
    io_manager_key="frames_io_manager",
    metadata={"partition_column": "SystemModstamp"},
    group_name=GROUP,
    kinds={"salesforce", "pandas"},
)
def salesforce_accounts(
    context: dg.AssetExecutionContext, config: AccountsReadConfig, salesforce: SalesforceResource
) -> dg.Output[DataFrame]:
    """Salesforce Accounts whose SystemModstamp falls in the partitions' window `[start, end)`,
    read with queryAll so soft-deleted accounts arrive too."""
    if not (context.has_partition_key or context.has_partition_key_range):
        # Launched without partitions (the CLI, or the launchpad with none chosen): say how to
        # launch it, once, rather than Dagster's CheckError after every retry.
        raise dg.Failure(description=NO_PARTITIONS_HINT, allow_retries=False)
    window = context.partition_time_window
    start = window.start - timedelta(minutes=config.lookback_minutes)
    try:
        read = read_accounts(salesforce, FIELD_MAPPING, start, window.end, method=config.method)
    except AccountsReadStopped as exc:
        # Not transient: retrying cannot help, and nothing was written downstream.
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    usage = salesforce.api_usage
    return dg.Output(
        read.frame,
        metadata={
            "rows": len(read.frame),
            "deleted": read.deleted,
            "window": f"[{start.isoformat()}, {window.end.isoformat()})",
            "api_usage": f"{usage.used}/{usage.limit}" if usage else "unknown",
            "circuit_breakers": dg.MetadataValue.json(breaker_states(salesforce)),
        },
    )


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    io_manager_key="frames_io_manager",
    group_name=GROUP,
    kinds={"pandas"},
    freshness_policy=SYNC_FRESHNESS,
    check_specs=[
        dg.AssetCheckSpec(
            "rejected_share_within_threshold", asset="mapped_companies", blocking=True
        ),
        dg.AssetCheckSpec("unique_salesforce_ids", asset="mapped_companies"),
        dg.AssetCheckSpec("valid_domains", asset="mapped_companies"),
    ],
)
def mapped_companies(salesforce_accounts: DataFrame) -> dg.Output[DataFrame]:
    """Accounts mapped to Attio company values by `config/field_mapping.yaml`; rows that break a
    rule are kept with their reason and never written."""
    mapped = map_accounts(salesforce_accounts, FIELD_MAPPING)
    quality = mapped_quality(mapped)
    share = quality.rejected_share
    yield dg.Output(
        mapped,
        metadata={
            "mapped": quality.total - len(quality.rejected),
            "rejected": len(quality.rejected),
            "without_domain": quality.without_domain,
            "sample_rejections": dg.MetadataValue.md(rejection_table(quality.rejected)),
        },
    )
    yield dg.AssetCheckResult(
        check_name="rejected_share_within_threshold",
        passed=share <= FIELD_MAPPING.max_rejected_share,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"share": share, "threshold": FIELD_MAPPING.max_rejected_share},
        description="Blocks the write when the mapping rejects too many rows to be trusted.",
    )
    yield dg.AssetCheckResult(
        check_name="unique_salesforce_ids",
        passed=quality.duplicated_ids == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"duplicated": quality.duplicated_ids},
    )
    yield dg.AssetCheckResult(
        check_name="valid_domains",
        passed=quality.bad_domains == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"invalid": quality.bad_domains},
    )


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    retry_policy=sync_retry,
    pool="attio_api",
    group_name=GROUP,
    kinds={"attio"},
    freshness_policy=SYNC_FRESHNESS,
    check_specs=[dg.AssetCheckSpec("shared_domains_reported", asset="attio_companies")],
)
async def attio_companies(
    context: dg.AssetExecutionContext,
    config: CompanyWriteConfig,
    mapped_companies: DataFrame,
    attio: AttioResource,
    database: RevopsDatabase,
    run_heartbeat: RunHeartbeat,  # a sync that dies silently must not hold the sync slot
):  # type: ignore[no-untyped-def]
    """Companies in Attio: only new and changed accounts (and last run's rejects) are written,
    asserted on their domain, or created once and tracked in the id map when they have none.
    The mapping is checked against Attio's schema (from the schema cache) before any write."""
    caches = attio.cache_snapshot()
    try:
        async with attio.client(priority=BULK) as client:
            result = await sync_companies(
                client,
                database.engine(),
                mapped_companies,
                FIELD_MAPPING,
                run_id=context.run.run_id,
                dry_run=config.dry_run,
                full=config.full,
                log=context.log,
            )
    except MappingMismatch as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    report = company_sync_report(result, dry_run=config.dry_run)
    report["circuit_breakers"] = dg.MetadataValue.json(breaker_states(attio))
    report["rate_budgets"] = dg.MetadataValue.json(budget_states(attio))
    report.update(attio.cache_metadata(caches))
    yield dg.MaterializeResult(metadata=report)
    yield dg.AssetCheckResult(
        check_name="shared_domains_reported",
        passed=result.unreported_conflicts == 0,
        metadata={"conflicts": result.counts.get("conflict", 0)},
    )
    if result.errors:
        # Raised after the report, so the retry re-runs only the rows that failed.
        raise dg.Failure(
            description=f"{result.errors} companies failed with transient errors; see sync_log",
            metadata={"errors": result.errors},
        )


sync_assets = [salesforce_accounts, mapped_companies, attio_companies]

defs = dg.Definitions(assets=sync_assets)
