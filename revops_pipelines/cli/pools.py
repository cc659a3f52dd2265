"""The deployment's pool limits (`deploy/set_pools.sh`), set on an instance from Python.

Dagster 1.13 keeps a named pool's limit as instance state, not in dagster.yaml, and the script
sets it with one `dagster instance concurrency set` per pool: a CLI start each (seconds apiece
on a busy 2-core machine). An instance this project starts itself (the demo's, a benchmark's)
takes the same limits from the same file here, so its leads never wait behind a single-slot
`attio_api` pool that a deployment does not have.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from revops_pipelines.cli.webserver import workspace_file

if TYPE_CHECKING:
    import dagster as dg

# The script's own lines, `set_pool <pool> <limit>`; comments and the function body never match.
_SET_POOL = re.compile(r"^set_pool (\S+) (\d+)\s*$", re.MULTILINE)


def deployment_pool_limits(script: Path | None = None) -> dict[str, int]:
    """Each pool's limit as the script (default: the checkout's `deploy/set_pools.sh`, beside
    its workspace file) sets it; an error when it sets none."""
    script = script or workspace_file().parent / "deploy" / "set_pools.sh"
    limits = {pool: int(limit) for pool, limit in _SET_POOL.findall(script.read_text())}
    if not limits:
        raise ValueError(f"{script} sets no pool limit (no `set_pool <pool> <limit>` line)")
    return limits


def set_pool_limits(instance: dg.DagsterInstance, limits: dict[str, int]) -> None:
    for pool, limit in limits.items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)
