"""What the daemon does after a run worker died silently, one sensor evaluation at a time:
`run_heartbeat_sensor` marks the silent run failed, `inbox_run_failure_sensor` hands its rows
back. Evaluated here with the test's instance, as the daemon would evaluate them."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from revops_pipelines.definitions import defs
from revops_pipelines.sensors.dead_runs import run_heartbeat_sensor
from revops_pipelines.sensors.inbox import inbox_run_failure_sensor
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.store.tables import run_heartbeats
from tests.crash.worker import wait_for


def beating_runs(engine: sa.Engine) -> set[str]:
    """The runs with a heartbeat row: live ones, and dead ones not yet found."""
    with engine.connect() as connection:
        return set(connection.execute(sa.select(run_heartbeats.c.run_id)).scalars())


def tick_heartbeat_sensor(instance: dg.DagsterInstance, db_url: str) -> str:
    context = dg.build_sensor_context(
        instance=instance, resources={"database": RevopsDatabase(url=db_url)}, definitions=defs
    )
    result = run_heartbeat_sensor(context)
    assert isinstance(result, dg.SkipReason)
    return result.skip_message or ""


def failure_of(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterEvent | None:
    logs = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    return logs[-1].dagster_event if logs else None


def marked_failed_once_silent(instance: dg.DagsterInstance, db_url: str, run_id: str) -> str:
    """Tick the heartbeat sensor until it marks `run_id` failed (the lease is 2 s here); the
    failure's message."""

    def probe() -> dg.DagsterEvent | None:
        tick_heartbeat_sensor(instance, db_url)
        return failure_of(instance, run_id)

    event = wait_for(f"failure of the silent run {run_id}", probe, timeout=30, every=0.5)
    return event.message or ""


def hand_back_failed_run(instance: dg.DagsterInstance, db_url: str, run_id: str) -> None:
    """`inbox_run_failure_sensor` on the run's failure event."""
    run, event = instance.get_run_by_id(run_id), failure_of(instance, run_id)
    assert run is not None and event is not None
    context = dg.build_run_status_sensor_context(
        sensor_name="inbox_run_failure_sensor",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=event,
        resources={"database": RevopsDatabase(url=db_url)},
    ).for_run_failure()
    inbox_run_failure_sensor(context)
