"""Run an inbox job the way its sensor launches it, and read `attio_events` metadata."""

from __future__ import annotations

from typing import Any

import dagster as dg

from revops_pipelines.definitions import defs
from revops_pipelines.sensors.inbox import attio_inbox_sensor


def run_sensor(
    world: dict[str, Any],
    sensor: Any = attio_inbox_sensor,
    job_name: str = "attio_events_job",
    *,
    raise_on_error: bool = False,
) -> list[dg.ExecuteInProcessResult]:
    """One tick of the sensor, each run it asks for executed in process with the world's
    instance and resources (`world["instance"]`, `world["resources"]`)."""
    context = dg.build_sensor_context(
        instance=world["instance"],
        resources={"database": world["resources"]["database"]},
        definitions=defs,
    )
    job = defs.resolve_job_def(job_name)
    return [
        job.execute_in_process(
            run_config=r.run_config,
            instance=world["instance"],
            tags=r.tags,
            resources=world["resources"],
            raise_on_error=raise_on_error,
        )
        for r in sensor(context).run_requests or []
    ]


def meta(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """The `attio_events` materialization's metadata values."""
    [materialization] = result.asset_materializations_for_node("attio_events")
    return {k: v.value for k, v in materialization.metadata.items()}
