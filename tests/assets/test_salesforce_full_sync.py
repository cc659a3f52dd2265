"""The weekly full sync, deleted accounts, and the sync schedules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from revops_pipelines.assets.salesforce_sync import FIELD_MAPPING
from revops_pipelines.definitions import defs
from revops_pipelines.domain.attio_values import first_value, record_id
from revops_pipelines.domain.company_mapping import map_accounts
from revops_pipelines.resources.attio import AttioClient
from revops_pipelines.schedules import (
    salesforce_full_sync_schedule,
    salesforce_incremental_sync_schedule,
)
from revops_pipelines.services.company_sync.sync import run_company_sync
from tests.assets.sync_harness import (
    attio_companies_by_sf_id,
    expected_companies,
    materialize_days,
)

START = datetime(2026, 11, 16, tzinfo=UTC)
END = START + timedelta(days=5)


@pytest.fixture
def world(sync_world):  # type: ignore[no-untyped-def]
    return sync_world(accounts=60, seed=11)[:4]


def _client(attio: Any) -> AttioClient:
    return AttioClient.connect(
        api_key="sandbox-attio-key", base_url=attio.api_url, write_rate=200.0
    )


def test_full_sync_repairs_drift_recreates_missing_and_reports_orphans(world) -> None:  # type: ignore[no-untyped-def]
    sf, attio, res, instance = world
    assert materialize_days("2026-11-16", "2026-11-20", res, instance).success
    expected = expected_companies(sf.rows(), START, END)
    drifted_id, deleted_id = sorted(expected)[:2]

    async def tamper() -> None:
        async with _client(attio) as client:
            by_sf = {
                first_value(r, "salesforce_id"): r
                for r in await client.records.query_all("companies")
            }
            await client.records.update(
                "companies", record_id(by_sf[drifted_id]), {"name": "Edited by hand"}
            )
            await client.records.delete("companies", record_id(by_sf[deleted_id]))
            await client.records.assert_record(
                "companies",
                matching_attribute="domains",
                values={
                    "domains": ["orphan.example"],
                    "name": "Orphan",
                    "salesforce_id": "001ORPHAN000000AAA",
                },
            )

    asyncio.run(tamper())
    full = {"ops": {"attio_companies": {"config": {"full": True}}}}
    result = materialize_days("2026-11-16", "2026-11-20", res, instance, run_config=full)
    assert result.success
    metadata = result.asset_materializations_for_node("attio_companies")[0].metadata
    assert metadata["drifted"].value == 1
    assert metadata["missing_in_attio"].value == 1
    assert metadata["orphans"].value == 1
    assert "Orphan" in metadata["sample_orphans"].value
    actual = attio_companies_by_sf_id(attio)
    assert actual[drifted_id][0]["name"] == expected[drifted_id]["name"]
    assert len(actual[deleted_id]) == 1
    assert "001ORPHAN000000AAA" in actual  # reported, never deleted by the sync


@pytest.mark.parametrize("on_deleted", ["nothing", "clear", "delete"])
def test_a_deleted_account_follows_the_configured_behaviour(world, on_deleted: str) -> None:  # type: ignore[no-untyped-def]
    sf, attio, res, _ = world
    mapping = FIELD_MAPPING.model_copy(update={"on_deleted": on_deleted})

    def mapped_now() -> pd.DataFrame:
        frame = pd.DataFrame(sf.rows())
        frame["SystemModstamp"] = frame["SystemModstamp"].map(lambda d: d.isoformat())
        return map_accounts(frame, mapping)

    async def sync(run_id: str) -> None:
        await run_company_sync(
            mapped_now(), mapping, attio=res["attio"], database=res["database"], run_id=run_id
        )

    asyncio.run(sync("first"))
    expected = expected_companies(sf.rows(), START - timedelta(days=30), END + timedelta(days=1))
    victim = next(s for s in sorted(expected) if expected[s]["domain"])
    before = attio_companies_by_sf_id(attio)[victim][0]
    sf.delete_account(victim)
    asyncio.run(sync("second"))
    after = attio_companies_by_sf_id(attio).get(victim)
    if on_deleted == "delete":
        assert after is None
    elif on_deleted == "clear":
        record = next(
            r for r in attio.records("companies") if first_value(r, "salesforce_id") == victim
        )
        assert first_value(record, "name") == before["name"]
        assert record["values"]["industry"] == [] and record["values"]["employee_count"] == []
    else:
        assert after == [before]
    writes_before = attio.stats()["writes_applied"]
    asyncio.run(sync("third"))
    assert attio.stats()["writes_applied"] == writes_before, "a handled deletion is not repeated"


@pytest.mark.parametrize(
    ("tick", "partitions"),
    [
        (datetime(2026, 11, 21, 10, 5, tzinfo=UTC), ["2026-11-21"]),
        (datetime(2026, 11, 21, 0, 5, tzinfo=UTC), ["2026-11-20", "2026-11-21"]),
    ],
)
def test_incremental_schedule_covers_the_hour_just_passed(
    tick: datetime, partitions: list[str]
) -> None:
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    requests = list(salesforce_incremental_sync_schedule(context))
    assert [r.partition_key for r in requests] == partitions
    assert len({r.run_key for r in requests}) == len(requests)
    config = requests[0].run_config["ops"]["salesforce_accounts"]["config"]
    assert config["lookback_minutes"] == 15


def test_full_schedule_runs_every_day_in_one_run() -> None:
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 22, 3, tzinfo=UTC)
    )
    request = salesforce_full_sync_schedule(context)
    assert request.tags["dagster/asset_partition_range_start"] == "2026-01-01"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-22"


def test_the_full_sync_without_partitions_fails_at_once_saying_how_to_launch_it(world) -> None:  # type: ignore[no-untyped-def]
    _sf, _attio, res, instance = world
    job = defs.resolve_job_def("salesforce_full_sync_job")
    result = job.execute_in_process(instance=instance, resources=res, raise_on_error=False)
    assert not result.success
    events = result.all_events
    starts = [e for e in events if e.is_step_start and e.step_key == "salesforce_accounts"]
    assert len(starts) == 1, "no retries: retrying cannot choose partitions"
    assert not any(e.is_step_up_for_retry for e in events)
    [failure] = [e for e in events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "dagster/asset_partition_range_start" in message and "launchpad" in message
    assert "CheckError" not in message
