"""The demo's own state: a folder that every `revops demo` empties and starts afresh.

The sandboxes of the demo live in its memory, so every demo starts with an empty Attio. What the
project keeps on disk has to start empty with them: the store (`sync_state` remembers what was
written to the previous demo's Attio, so a second sync would write nothing), and the Dagster
instance (its sensor cursors and run keys name inbox rows of the previous store). Both live in
`<state dir>/demo/`, which belongs to the demo alone: the store and Dagster home that other
commands use (`.revops/revops.db`, `REVOPS_DATABASE_URL`, `DAGSTER_HOME`) are never touched.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from revops_pipelines.cli.pools import set_pool_limits
from revops_pipelines.store import engine as store_engine

# A file the demo writes into its folder: the folder is emptied only when it holds it.
MARKER = ".revops-demo"
DAGSTER_YAML = """\
# Written by `revops demo`: a local instance (SQLite storage under this folder), with the
# production instance's run queue interval and warm launcher (deploy/dagster.yaml), and the pool
# limits of deploy/set_pools.sh (set by the demo), so a demo lead is answered as fast as a
# deployed one.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
run_queue:
  dequeue_interval_seconds: 1
run_launcher:
  module: revops_pipelines.infra.warm_run_launcher
  class: WarmRunLauncher
  config:
    jobs: [inbound_leads_job, attio_events_job]
    preload_modules: [revops_pipelines.definitions]
"""


@dataclass(frozen=True)
class DemoState:
    root: Path
    database_url: str
    dagster_home: Path


def demo_root() -> Path:
    """`<state dir>/demo` (`REVOPS_STATE_DIR`, default `.revops/` under the working directory)."""
    return store_engine.state_dir() / "demo"


def fresh_demo_state(root: Path, pool_limits: dict[str, int]) -> DemoState:
    """Empty `root` (the previous demo's store, Dagster runs and run storage) and lay out a new
    one: a migrated SQLite store, and a Dagster home with the demo's `dagster.yaml` and these
    pool limits (a pool without one gets a single slot)."""
    root = root.resolve()
    url = f"sqlite:///{root / 'revops.db'}"
    store_engine.dispose(url)
    if root.exists():
        if any(root.iterdir()) and not (root / MARKER).exists():
            raise click.ClickException(
                f"{root} holds files the demo did not write (no {MARKER}): move it away, or "
                "point REVOPS_STATE_DIR elsewhere"
            )
        shutil.rmtree(root)
    home = root / "dagster_home"
    home.mkdir(parents=True)
    (root / MARKER).write_text("Emptied and rewritten by every `revops demo`.\n")
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    _set_pools(home, pool_limits)
    store_engine.upgrade(url)
    return DemoState(root, url, home)


def _set_pools(home: Path, limits: dict[str, int]) -> None:
    import dagster as dg  # the CLI's other commands never load Dagster

    instance = dg.DagsterInstance.from_config(str(home))  # creates the instance's tables
    try:
        set_pool_limits(instance, limits)
    finally:
        instance.dispose()


@contextmanager
def demo_lock(root: Path) -> Iterator[None]:
    """Held for the demo's lifetime: a second demo on the same state folder stops before it
    empties the folder under the first one."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with (root.parent / f"{root.name}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise click.ClickException(
                f"another `revops demo` is running on {root}: stop it first"
            ) from None
        yield
