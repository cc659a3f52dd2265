"""Run the Salesforce -> Attio sync assets against both sandboxes, as a backfill would."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from revops_pipelines.assets.heartbeat import run_heartbeat
from revops_pipelines.assets.salesforce_sync import FIELD_MAPPING, sync_assets
from revops_pipelines.domain.attio_values import all_values, first_value
from revops_pipelines.domain.company_mapping import map_accounts
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.frames import DailyFrameIOManager
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.store.resource import RevopsDatabase

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FAST_SF = {"retry_initial_seconds": 0.01, "retry_max_seconds": 0.05, "bulk_poll_seconds": 0.0}


def resources(
    sf: Any, attio: Any, db_url: str, frames: Path, **attio_kwargs: Any
) -> dict[str, Any]:
    return {
        "salesforce": SalesforceResource(
            instance_url=sf.url, access_token=sf.access_token, **FAST_SF
        ),
        "attio": AttioResource(api_key="sandbox-attio-key", base_url=attio.api_url, **attio_kwargs),
        "database": RevopsDatabase(url=db_url),
        "frames_io_manager": DailyFrameIOManager(base_dir=str(frames)),
        "run_heartbeat": run_heartbeat,
    }


def materialize_days(
    first: str,
    last: str,
    res: dict[str, Any],
    instance: dg.DagsterInstance,
    run_config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """One run over the days `first`..`last`, the way a multi-day backfill run executes."""
    tags = {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }
    return dg.materialize(
        sync_assets,
        resources=res,
        instance=instance,
        tags=tags,
        run_config=run_config or {},
        raise_on_error=False,
    )


def expected_companies(
    rows: list[dict[str, Any]],
    start: datetime,
    end: datetime,
    runs: list[tuple[datetime, datetime]] | None = None,
) -> dict[str, dict[str, Any]]:
    """What Attio should hold for accounts modified in [start, end): Salesforce Id -> values.

    `runs` are the windows in the order they were synced (default: one run for the whole
    window): a domain goes to the first account that claims it, the lowest Id within a run."""
    import pandas as pd

    window = [r for r in rows if start <= r["SystemModstamp"] < end]
    frame = pd.DataFrame(window)
    stamps = frame["SystemModstamp"]
    frame["SystemModstamp"] = stamps.map(lambda d: d.isoformat())
    mapped = map_accounts(frame, FIELD_MAPPING)
    mapped["stamp"] = stamps.to_numpy()
    live = mapped[mapped["reject_reason"].isna() & ~mapped["is_deleted"]].sort_values("source_id")
    owners: dict[str, str] = {}
    for run_start, run_end in runs or [(start, end)]:
        in_run = live[(live["stamp"] >= run_start) & (live["stamp"] < run_end)]
        for _, row in in_run.dropna(subset=["domains"]).iterrows():
            owners.setdefault(row["domains"], row["source_id"])
    keep = set(owners.values()) | set(live[live["domains"].isna()]["source_id"])
    return {
        str(r["source_id"]): {
            "name": r["name"],
            "domain": None if pd.isna(r["domains"]) else r["domains"],
        }
        for _, r in live.iterrows()
        if r["source_id"] in keep
    }


def attio_companies_by_sf_id(attio: Any) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for record in attio.records("companies"):
        sf_id = first_value(record, "salesforce_id")
        if sf_id:
            found.setdefault(sf_id, []).append(
                {
                    "name": first_value(record, "name"),
                    "domains": all_values(record, "domains", "domain"),
                }
            )
    return found
