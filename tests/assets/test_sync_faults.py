"""The company sync against bad configuration and interrupted runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from revops_pipelines.assets.salesforce_sync import FIELD_MAPPING
from revops_pipelines.domain.company_mapping import map_accounts
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.services.company_sync.sync import MappingMismatch, run_company_sync
from revops_pipelines.store.resource import RevopsDatabase
from revops_sandbox.attio import AttioSandbox
from revops_sandbox.server import serve_in_thread
from tests.assets.sync_harness import NOW, attio_companies_by_sf_id, expected_companies
from tests.resources.attio_helpers import admin


def mapped_org(sf: Any) -> pd.DataFrame:
    frame = pd.DataFrame(sf.rows())
    frame["SystemModstamp"] = frame["SystemModstamp"].map(lambda d: d.isoformat())
    return map_accounts(frame, FIELD_MAPPING)


def test_a_mapping_to_a_missing_attribute_fails_before_any_write(
    salesforce_sandbox, db_url: str
) -> None:  # type: ignore[no-untyped-def]
    sf = salesforce_sandbox(accounts=20, days=2, now=NOW, seed=5)
    workspace = AttioSandbox(api_keys=("k",), schema="standard")
    with serve_in_thread(workspace.app) as server:
        attio = AttioResource(api_key="k", base_url=f"{server.url}/v2")
        with pytest.raises(MappingMismatch) as caught:
            asyncio.run(
                run_company_sync(
                    mapped_org(sf),
                    FIELD_MAPPING,
                    attio=attio,
                    database=RevopsDatabase(url=db_url),
                    run_id="r",
                )
            )
        assert workspace.stats()["writes_applied"] == 0
    text = str(caught.value)
    assert "companies.salesforce_id, which Attio lacks" in text
    assert "revops attio setup" in text


def test_a_run_killed_halfway_then_rerun_leaves_no_duplicates_and_misses_nothing(
    salesforce_sandbox, attio_sandbox, db_url: str
) -> None:  # type: ignore[no-untyped-def]
    sf = salesforce_sandbox(accounts=80, days=3, now=NOW, seed=9)
    admin(attio_sandbox, "POST", "config", json={"write_rate": 40.0, "latency_ms": 20.0})
    attio = AttioResource(
        api_key="sandbox-attio-key", base_url=attio_sandbox.api_url, write_rate_per_second=40.0
    )
    database = RevopsDatabase(url=db_url)
    mapped = mapped_org(sf)

    async def killed() -> None:
        task = asyncio.create_task(
            run_company_sync(mapped, FIELD_MAPPING, attio=attio, database=database, run_id="killed")
        )
        await asyncio.sleep(0.8)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(killed())
    partial = attio_sandbox.stats()["writes_applied"]
    expected = expected_companies(sf.rows(), NOW - timedelta(days=10), NOW + timedelta(days=1))
    assert 0 < partial < len(expected), "the kill must land mid-way for this test to mean anything"
    result = asyncio.run(
        run_company_sync(mapped, FIELD_MAPPING, attio=attio, database=database, run_id="rerun")
    )
    assert result.errors == 0
    actual = attio_companies_by_sf_id(attio_sandbox)
    assert {k: len(v) for k, v in actual.items() if len(v) > 1} == {}
    assert sorted(expected) == sorted(actual)
    # Writes in flight when the run died may be sent again (asserts are idempotent); no more.
    total = attio_sandbox.stats()["writes_applied"]
    assert len(expected) <= total <= len(expected) + 16
