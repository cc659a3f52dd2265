"""Run `attio_events_job` the way `attio_inbox_sensor` launches it, and read its metadata."""

from __future__ import annotations

from typing import Any

import dagster as dg

from revops_pipelines.definitions import defs
from revops_pipelines.sensors.inbox import attio_inbox_sensor


def run_sensor(world: dict[str, Any]) -> list[dg.ExecuteInProcessResult]:
    """One tick of the sensor, each run it asks for executed in process with the world's
    instance and resources (`world["instance"]`, `world["resources"]`)."""
    context = dg.build_sensor_context(
        instance=world["instance"],
        resources={"database": world["resources"]["database"]},
        definitions=defs,
    )
    job = defs.resolve_job_def("attio_events_job")
    return [
        job.execute_in_process(
            run_config=r.run_config,
            instance=world["instance"],
            tags=r.tags,
            resources=world["resources"],
            raise_on_error=False,
        )
        for r in attio_inbox_sensor(context).run_requests or []
    ]


def meta(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """The `attio_events` materialization's metadata values."""
    [materialization] = result.asset_materializations_for_node("attio_events")
    return {k: v.value for k, v in materialization.metadata.items()}
