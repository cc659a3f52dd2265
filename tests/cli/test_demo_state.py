"""Every `revops demo` starts from the same state: its store and Dagster instance are emptied
with the in-memory sandboxes, so a second demo syncs into its fresh Attio what the first one
did (it used to find the first demo's `sync_state`, write nothing and show "1 companies")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import dagster as dg
import pytest

from revops_pipelines.cli.demo_state import MARKER, demo_lock, fresh_demo_state
from revops_pipelines.cli.pools import deployment_pool_limits
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from tests.assets.conftest import FAST_ATTIO
from tests.assets.sync_harness import NOW, attio_companies_by_sf_id, materialize_days, resources
from tests.resources.attio_helpers import admin

DAY = "2026-11-19"
POOLS = deployment_pool_limits()


def demo_sync(root: Path, salesforce_sandbox: Any, attio: Any) -> dict[str, Any]:
    """One demo's start and first sync: fresh demo state, fresh sandboxes, the day synced."""
    state = fresh_demo_state(root, POOLS)
    admin(attio, "POST", "reset")  # each demo's sandboxes start empty (they live in memory)
    admin(attio, "POST", "config", json={"write_rate": 200.0, "read_rate": 400.0})
    sf = salesforce_sandbox(accounts=400, days=4, now=NOW, seed=5)
    res = resources(sf, attio, state.database_url, state.dagster_home / "frames", **FAST_ATTIO)
    engine = store_engine.get_engine(state.database_url)
    with dg.DagsterInstance.from_config(str(state.dagster_home)) as instance:
        runs_before = len(instance.get_runs())
        inbox_before = sum(inbox.count_by_status(engine, ["typeform"]).values())
        result = materialize_days(DAY, DAY, res, instance)
        assert result.success
        [report] = result.asset_materializations_for_node("attio_companies")
    # A lead arrives too: the next demo must not find it (its sensor would skip its run key).
    inbox.store_event(engine, source="typeform", event_id="demo-lead", headers={}, body=b"{}")
    return {
        "runs_before": runs_before,
        "inbox_before": inbox_before,
        "created": report.metadata["created"].value,
        "companies": len(attio_companies_by_sf_id(attio)),
    }


def test_a_second_demo_shows_the_first_sync_again(
    tmp_path: Path, salesforce_sandbox: Any, attio_sandbox: Any
) -> None:
    root = tmp_path / "state" / "demo"
    first = demo_sync(root, salesforce_sandbox, attio_sandbox)
    second = demo_sync(root, salesforce_sandbox, attio_sandbox)
    assert first["companies"] > 0 and first["created"] == first["companies"]
    assert second == first
    assert second["runs_before"] == 0 and second["inbox_before"] == 0
    assert (root / MARKER).is_file() and (root / "dagster_home" / "dagster.yaml").is_file()


def test_a_folder_the_demo_did_not_write_is_never_emptied(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(click.ClickException, match=MARKER):
        fresh_demo_state(root, POOLS)
    assert (root / "notes.txt").read_text() == "mine"


def test_a_second_demo_on_the_same_state_stops_before_touching_it(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    busy = pytest.raises(click.ClickException, match="another `revops demo` is running")
    with demo_lock(root), busy, demo_lock(root):
        pass
    with demo_lock(root):  # released with the first demo
        pass


def test_the_demo_instance_has_the_deployments_pool_limits(tmp_path: Path) -> None:
    """Not the single slot of the demo's default limit: a lead's Attio step would wait for the
    sync's, which a deployment (deploy/set_pools.sh) never makes it do."""
    assert POOLS["attio_api"] == 6 and len(POOLS) == 4
    state = fresh_demo_state(tmp_path / "demo", POOLS)
    with dg.DagsterInstance.from_config(str(state.dagster_home)) as instance:
        limits = {
            pool: instance.event_log_storage.get_concurrency_info(pool).slot_count for pool in POOLS
        }
        assert instance.global_op_concurrency_default_limit == 1  # any other pool
    assert limits == POOLS


def test_a_pools_script_that_sets_no_limit_is_an_error(tmp_path: Path) -> None:
    script = tmp_path / "set_pools.sh"
    script.write_text("#!/bin/sh\n# set_pool attio_api 6\nset_pool() { :; }\n")
    with pytest.raises(ValueError, match="sets no pool limit"):
        deployment_pool_limits(script)
    script.write_text("set_pool attio_api 6\n  set_pool indented 3\nset_pool slack_api 2\n")
    assert deployment_pool_limits(script) == {"attio_api": 6, "slack_api": 2}
