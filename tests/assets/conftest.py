"""The two sandboxes, a store and a Dagster instance wired together for the sync tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.assets.sync_harness import NOW, resources
from tests.resources.attio_helpers import admin

# A faster budget keeps the suite quick; the benchmarks measure the real 25 writes/s.
FAST_ATTIO = {"write_rate_per_second": 200.0, "read_rate_per_second": 400.0}


@pytest.fixture
def sync_world(
    salesforce_sandbox, attio_sandbox, db_url, dagster_instance, tmp_path
) -> Callable[..., tuple]:  # type: ignore[no-untyped-def]
    """start(accounts, seed) -> (salesforce sandbox, attio sandbox, resources, instance, db url)."""

    def start(accounts: int, seed: int) -> tuple[Any, Any, dict[str, Any], Any, str]:
        sf = salesforce_sandbox(accounts=accounts, days=4, now=NOW, seed=seed)
        admin(attio_sandbox, "POST", "config", json={"write_rate": 200.0, "read_rate": 400.0})
        res = resources(sf, attio_sandbox, db_url, tmp_path / "frames", **FAST_ATTIO)
        return sf, attio_sandbox, res, dagster_instance, db_url

    return start
