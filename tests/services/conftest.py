"""Fixtures for the service tests: the flows' services called directly, with no Dagster, against
the sandboxes over real HTTP and the store on SQLite and PostgreSQL (`db_url`)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.field_mapping import FieldMapping
from revops_pipelines.domain.lead_lists import ListMapping
from revops_pipelines.domain.routing import RoutingConfig
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.store import engine as store_engine
from tests.conftest import ATTIO_TEST_KEY
from tests.resources.attio_helpers import admin

MAPPING = load_model(config_path("field_mapping.yaml"), FieldMapping)
ROUTING = load_model(config_path("routing.yaml"), RoutingConfig)
LISTS = load_model(config_path("lists.yaml"), ListMapping)
# A faster budget keeps the suite quick; the benchmarks measure the real 25 writes/s.
FAST_ATTIO = {"write_rate_per_second": 200.0, "read_rate_per_second": 400.0}


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
