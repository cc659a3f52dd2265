"""The deployment files agree with the code: every pool the assets declare gets a limit from
`deploy/set_pools.sh`, and `deploy/workspace.yaml` is a valid workspace (no server needed)."""

from __future__ import annotations

import re

import yaml
from dagster._core.workspace.config_schema import ensure_workspace_config

from revops_pipelines.definitions import defs
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
