"""Fixtures for the service tests: the flows' services called directly, with no Dagster, against
the sandboxes over real HTTP and the store on SQLite and PostgreSQL (`db_url`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.company_mapping import map_accounts
from revops_pipelines.domain.deal_messages import DealNotificationConfig
from revops_pipelines.domain.field_mapping import FieldMapping
from revops_pipelines.domain.lead_lists import ListMapping
from revops_pipelines.domain.routing import RoutingConfig
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.services.company_sync.accounts import read_accounts
from revops_pipelines.services.company_sync.sync import CompanySyncResult, sync_companies
from revops_pipelines.store import engine as store_engine
from tests.assets.sync_harness import FAST_SF, NOW
from tests.conftest import ATTIO_TEST_KEY
from tests.resources.attio_helpers import admin

MAPPING = load_model(config_path("field_mapping.yaml"), FieldMapping)
ROUTING = load_model(config_path("routing.yaml"), RoutingConfig)
LISTS = load_model(config_path("lists.yaml"), ListMapping)
DEALS = load_model(config_path("deals.yaml"), DealNotificationConfig)
# A faster budget keeps the suite quick; the benchmarks measure the real 25 writes/s.
FAST_ATTIO = {"write_rate_per_second": 200.0, "read_rate_per_second": 400.0}
START = datetime(2026, 11, 16, tzinfo=UTC)  # the Salesforce sandbox's accounts: four days to NOW
END = START + timedelta(days=5)


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    """The migrated, empty store of this test."""
    return store_engine.get_engine(db_url)


@pytest.fixture
def attio(attio_sandbox: Any) -> AttioResource:
    """The Attio client's resource, on the sandbox with a fast budget and few retries."""
    admin(attio_sandbox, "POST", "config", json={"write_rate": 200.0, "read_rate": 400.0})
    return AttioResource(
        api_key=ATTIO_TEST_KEY,
        base_url=attio_sandbox.api_url,
        max_attempts=2,
        max_total_wait_seconds=1.0,
        **FAST_ATTIO,
    )


@pytest.fixture
def company_world(salesforce_sandbox, attio, db_url, engine) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The Salesforce sandbox with 30 accounts over four days, and the clients of both sides."""
    sf = salesforce_sandbox(accounts=30, days=4, now=NOW, seed=11)
    salesforce = SalesforceResource(instance_url=sf.url, access_token=sf.access_token, **FAST_SF)
    return {"sf": sf, "salesforce": salesforce, "attio": attio, "db_url": db_url, "engine": engine}


def sync(world: dict[str, Any], run_id: str) -> CompanySyncResult:
    """One company sync run over the whole window, through its services: read, map, write."""
    read = read_accounts(world["salesforce"], MAPPING, START, END)
    mapped = map_accounts(read.frame, MAPPING)

    async def go() -> CompanySyncResult:
        async with world["attio"].client() as client:
            return await sync_companies(client, world["engine"], mapped, MAPPING, run_id=run_id)

    return asyncio.run(go())
