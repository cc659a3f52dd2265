"""Run heartbeats: a run's process records that it is alive, so a run that died silently is
found within minutes.

Dagster learns of a dead run worker only from its gRPC code server (which watches the processes
it started) or, for launchers that support it, from run monitoring; the default launcher does
not, and when the code server dies with its runs (a machine restart, a killed `revops demo`) the
runs stay STARTED for hours, holding their inbox rows and their concurrency slots. A beating
run upserts its row in `run_heartbeats` every `run_heartbeat_seconds` and deletes it when it
ends; `sensors/dead_runs.py` marks a STARTED run whose row went silent for the lease as failed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from revops_pipelines.infra.heartbeat import Heartbeat
from revops_pipelines.infra.settings import load_settings
from revops_pipelines.store import run_heartbeats


@contextmanager
def beating(
    engine: sa.Engine,
    run_id: str,
    *,
    every: float | None = None,
    log: logging.Logger | None = None,
) -> Iterator[Heartbeat]:
    """Beat for `run_id` while the block runs (every `run_heartbeat_seconds` by default); the
    row is deleted on the way out, whether the block ended well or not."""
    interval = every if every is not None else load_settings().run_heartbeat_seconds

    def beat() -> None:
        run_heartbeats.beat(engine, run_id, datetime.now(UTC))

    try:
        with Heartbeat(beat, every=interval, name=f"run {run_id}", log=log) as heartbeat:
            yield heartbeat
    finally:
        run_heartbeats.forget(engine, [run_id])


def lease() -> timedelta:
    """How long a run may be silent before it is taken for dead (`run_heartbeat_lease_seconds`)."""
    return timedelta(seconds=load_settings().run_heartbeat_lease_seconds)


def silent_runs(
    engine: sa.Engine, silent_for: timedelta, *, now: datetime | None = None, limit: int = 50
) -> dict[str, datetime]:
    """Runs whose last beat is older than `silent_for`, with that beat (oldest first)."""
    at = now or datetime.now(UTC)
    return run_heartbeats.silent_since(engine, at - silent_for, limit=limit)


def forget(engine: sa.Engine, run_ids: list[str]) -> int:
    """Drop the rows of runs found ended or dead, so they are not looked at again."""
    return run_heartbeats.forget(engine, run_ids)
