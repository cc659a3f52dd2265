"""Shared by the inbox sensor and job tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa

from revops_pipelines.definitions import defs
from revops_pipelines.store import inbox
from revops_pipelines.store.resource import RevopsDatabase

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_body(name: str, **changes: Any) -> bytes:
    payload = json.loads((FIXTURES / name).read_text())
    payload.update(changes)
    return json.dumps(payload).encode()


def store(engine: sa.Engine, source: str, event_id: str, body: bytes) -> int:
    result = inbox.store_event(engine, source=source, event_id=event_id, headers={}, body=body)
    assert result.id is not None
    return result.id


def store_forms(engine: sa.Engine, n: int, start: int = 0) -> list[int]:
    """`n` Typeform and Tally submissions (alternating), each with its own event id."""
    ids = []
    for i in range(start, start + n):
        if i % 2 == 0:
            body = fixture_body("typeform_example.json", event_id=f"tf-{i}")
            ids.append(store(engine, "typeform", f"tf-{i}", body))
        else:
            body = fixture_body("tally_example.json", eventId=f"tally-{i}")
            ids.append(store(engine, "tally", f"tally-{i}", body))
    return ids


def tick(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, db_url: str, cursor: str | None
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"database": RevopsDatabase(url=db_url)},
        definitions=defs,
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def run_request(request: dg.RunRequest, job_name: str, instance: dg.DagsterInstance, **kw: Any):
    """Execute what the daemon would launch for `request` (in process)."""
    job = defs.resolve_job_def(job_name)
    return job.execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags, **kw
    )


def batch_ids(request: dg.RunRequest, asset: str) -> list[int]:
    return request.run_config["ops"][asset]["config"]["inbox_ids"]
