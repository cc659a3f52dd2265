"""Dead runs: found within minutes, so their inbox rows go back and their slots free up.

Dagster marks a run failed when its worker dies only if something sees the death: the gRPC code
server that started the worker does (within a second), but not when it died too (a machine
restart, a killed `revops demo`), and run monitoring cannot ask the default run launcher about
its workers (deploy/dagster.yaml). Two checks close that gap, both a few indexed queries:

- `run_heartbeat_sensor`: a STARTED run whose heartbeat (`assets/heartbeat.py`) has been silent
  for `run_heartbeat_lease_seconds` is marked failed, so `inbox_run_failure_sensor` hands its rows
  back, run retries re-launch it, and it no longer holds a concurrency slot.
- `hand_back_orphaned_claims` (each inbox sensor tick): inbox rows held by a run that ended
  without handing them back, that is not started, or that the instance does not know, go back
  after `ORPHAN_GRACE` (the time the run-failure sensor gets to do it first).

The inbox claim timeout stays the last backstop (a run without heartbeat that never ends).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa

from revops_pipelines.domain.run_liveness import RunState, orphaned_because
from revops_pipelines.services import inbox as inbox_service
from revops_pipelines.services import run_heartbeat
from revops_pipelines.services.inbox import ReleaseResult
from revops_pipelines.store.resource import RevopsDatabase

# Longer than the run-failure sensor's 30 s interval, so a failed run's rows are handed back by
# it (which also charges the batch rows the run never claimed) and this is only the safety net.
ORPHAN_GRACE = timedelta(minutes=2)
MAX_RUNS_PER_TICK = 50  # bounds the run-storage query; more wait for the next tick
HEARTBEAT_TICK_SECONDS = 15


def run_states(instance: dg.DagsterInstance, run_ids: Sequence[str]) -> dict[str, RunState]:
    """What the instance records of `run_ids` (one run-storage query; unknown ids are absent)."""
    if not run_ids:
        return {}
    records = instance.get_run_records(dg.RunsFilter(run_ids=list(run_ids)))
    return {
        r.dagster_run.run_id: RunState(
            r.dagster_run.status.value,
            datetime.fromtimestamp(r.end_time, UTC) if r.end_time else None,
        )
        for r in records
    }


def hand_back_orphaned_claims(
    instance: dg.DagsterInstance,
    engine: sa.Engine,
    sources: Sequence[str],
    *,
    now: datetime | None = None,
    grace: timedelta | None = None,
    max_attempts: int = inbox_service.MAX_ATTEMPTS,
) -> tuple[ReleaseResult, list[str]]:
    """Release the rows of `sources` held by runs that can no longer settle them (after
    `grace`, default `ORPHAN_GRACE`); the result and the reason for each run released."""
    at = now or datetime.now(UTC)
    grace = ORPHAN_GRACE if grace is None else grace
    holders = inbox_service.claim_holders(engine, sources, MAX_RUNS_PER_TICK)
    states = run_states(instance, [h.run_id for h in holders])
    released, reasons = ReleaseResult(), []
    for holder in holders:
        reason = orphaned_because(holder, states.get(holder.run_id), at, grace)
        if reason is not None:
            released += inbox_service.release_orphaned(
                engine, holder.run_id, reason, max_attempts=max_attempts
            )
            reasons.append(reason)
    return released, reasons


def fail_silent_runs(
    instance: dg.DagsterInstance,
    engine: sa.Engine,
    *,
    lease: timedelta,
    now: datetime | None = None,
) -> list[str]:
    """Mark failed the STARTED runs silent for longer than `lease`; their ids. The heartbeat
    rows of every silent run are dropped: a run that ended or is unknown needs nothing more."""
    at = now or datetime.now(UTC)
    silent = run_heartbeat.silent_runs(engine, lease, now=at, limit=MAX_RUNS_PER_TICK)
    failed = []
    for run_id, last_beat in silent.items():
        run = instance.get_run_by_id(run_id)  # read again now: it may just have ended
        if run is not None and run.status == dg.DagsterRunStatus.STARTED:
            seconds = int((at - last_beat).total_seconds())
            instance.report_run_failed(
                run,
                f"the run's process stopped beating {seconds} s ago (lease "
                f"{int(lease.total_seconds())} s): it died without reporting, so it is marked "
                "failed and its inbox rows go back",
            )
            failed.append(run_id)
    run_heartbeat.forget(engine, list(silent))
    return failed


@dg.sensor(
    name="run_heartbeat_sensor",
    minimum_interval_seconds=HEARTBEAT_TICK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Marks failed a started run whose process stopped beating (killed with its code "
        "server), so its inbox rows go back and its concurrency slot frees up."
    ),
)
def run_heartbeat_sensor(
    context: dg.SensorEvaluationContext, database: RevopsDatabase
) -> dg.SkipReason:
    failed = fail_silent_runs(context.instance, database.engine(), lease=run_heartbeat.lease())
    if failed:
        context.log.warning(f"marked failed, their process died silently: {failed}")
        return dg.SkipReason(f"marked {len(failed)} dead runs failed: {', '.join(failed)}")
    return dg.SkipReason("every beating run is alive")


defs = dg.Definitions(sensors=[run_heartbeat_sensor])
