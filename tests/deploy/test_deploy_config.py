"""The deployment files agree with the code: every pool the assets declare gets a limit from
`deploy/set_pools.sh`, `deploy/workspace.yaml` is a valid workspace (no server needed), and the
run queue of `deploy/dagster.yaml` dequeues inbox runs at once (issue 12)."""

from __future__ import annotations

import re

import dagster as dg
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.workspace.config_schema import ensure_workspace_config

from revops_pipelines.definitions import defs
from revops_pipelines.jobs import INBOX_JOBS, SYNC_JOBS
from tests.deploy.harness import DEPLOY


def test_every_pool_the_code_declares_gets_a_limit_from_set_pools() -> None:
    script = (DEPLOY / "set_pools.sh").read_text()
    limits = dict(re.findall(r"^set_pool (\S+) (\d+)$", script, flags=re.MULTILINE))
    declared = {
        op.pool
        for assets in defs.resolve_asset_graph().assets_defs
        if assets.is_executable
        for op in assets.node_def.iterate_op_defs()
        if op.pool
    }
    assert declared, "no asset declares a pool: the attio_api pool was expected"
    assert declared <= set(limits), (
        f"pools without a limit in set_pools.sh: {declared - set(limits)}"
    )
    assert all(int(n) >= 1 for n in limits.values()), limits


def test_deploy_workspace_points_at_a_code_server() -> None:
    path = DEPLOY / "workspace.yaml"
    config = ensure_workspace_config(yaml.safe_load(path.read_text()), str(path))
    [entry] = config["load_from"]
    assert entry["grpc_server"]["location_name"] == "revops_pipelines"


def test_the_run_queue_checks_every_second_and_launches_in_threads(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The queue settings as Dagster itself reads them from deploy/dagster.yaml (the storage
    swapped for a local one: only the coordinator is looked at)."""
    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    config["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        assert coordinator.dequeue_interval_seconds == 1
        assert coordinator.dequeue_use_threads is True
        assert coordinator.dequeue_num_workers == 4
        # the per-flow limits still come through
        run_queue = instance.get_concurrency_config().run_queue_config
        assert run_queue is not None and run_queue.max_concurrent_runs == 8


def test_inbox_jobs_run_in_one_process_and_the_syncs_keep_the_default_executor() -> None:
    for job in INBOX_JOBS:
        resolved = defs.resolve_job_def(job.name)
        assert resolved.executor_def is dg.in_process_executor, job.name
    for job in SYNC_JOBS:
        resolved = defs.resolve_job_def(job.name)
        assert resolved.executor_def is not dg.in_process_executor, job.name


def test_no_single_slot_pool_serializes_leads_behind_a_sync() -> None:
    # Issue 12: pools bound concurrency; the shared rate budget keeps the APIs' limits. A pool
    # that a lead step shares with a sync step has room for both at once.
    script = (DEPLOY / "set_pools.sh").read_text()
    limits = {k: int(v) for k, v in re.findall(r"^set_pool (\S+) (\d+)$", script, re.MULTILINE)}
    pools: dict[str, set[str]] = {}
    for assets in defs.resolve_asset_graph().assets_defs:
        if assets.is_executable:
            for op in assets.node_def.iterate_op_defs():
                if op.pool:
                    pools.setdefault(op.pool, set()).update(k.to_user_string() for k in assets.keys)
    shared = {p for p, keys in pools.items() if {"attio_people", "attio_companies"} <= keys}
    assert shared, pools
    assert all(limits[p] >= 4 for p in shared), {p: limits[p] for p in shared}
