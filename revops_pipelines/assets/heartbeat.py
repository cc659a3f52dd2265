"""The `run_heartbeat` resource: while a run that needs it executes, its process beats in the
store (`services/run_heartbeat.py`), so a run that dies without telling Dagster is found by
`run_heartbeat_sensor` within the lease.

Assets whose run must not die unnoticed take it: the inbox claimers (`form_submissions`,
`attio_events`: their rows stay claimed until the run settles or is known dead) and the sync's
writer (`attio_companies`: a dead sync holds the one sync slot). Resources live as long as the
process that executes the steps needing them: the whole run under the inbox jobs'
`in_process_executor`, one step under a multiprocess or Celery executor (the row is deleted when
the step ends, so the gap between steps is never taken for a death).
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from revops_pipelines.infra.heartbeat import Heartbeat
from revops_pipelines.services.run_heartbeat import beating

RunHeartbeat = dg.ResourceParam[Heartbeat | None]


@dg.resource(
    required_resource_keys={"database"},
    description="Records in the store that this run's process is alive, while it runs.",
)
def run_heartbeat(context: dg.InitResourceContext) -> Iterator[Heartbeat | None]:
    if context.run is None:  # built outside a run (build_resources): nothing to beat for
        yield None
        return
    with beating(context.resources.database.engine(), context.run.run_id) as heartbeat:
        yield heartbeat
