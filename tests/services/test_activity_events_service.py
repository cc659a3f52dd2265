"""First touch and last activity through the Attio-events service (no Dagster), against the
sandboxes over real HTTP, on SQLite and PostgreSQL: a lead made by the real lead flow gets a
follow-up task; the rep completes it, notes and comments are written; the events the Attio
sandbox logs for those writes are delivered three times each under 10% faults. The person's
first touch and each record's last activity are written once; other tasks, deleted records and
redeliveries change nothing."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import sqlalchemy as sa

from revops_pipelines.domain.attio_values import first_value, record_id
from revops_pipelines.domain.submissions import FORM_SOURCES
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent
from revops_pipelines.store.tables import effect_ledger, lead_first_touch
from revops_sandbox.form_traffic import typeform_delivery
from tests.services.events_harness import (
    api,
    clear_faults,
    deliver_new_events,
    drain,
    faults,
    make_world,
)
from tests.services.test_lead_service import (
    clients,  # noqa: F401 (a fixture)
    run_lead_flow,
)


@pytest.fixture
def world(engine, attio_sandbox, slack_sandbox) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return make_world(engine, attio_sandbox, slack_sandbox)


def _lead(world: dict[str, Any], clients: dict[str, Any]) -> tuple[str, str, str]:  # noqa: F811
    """(person id, the lead's follow-up task id, the person's company id) from the lead flow."""
    delivery = typeform_delivery("unused-secret", random.Random(9))
    payload = json.loads(delivery.body)
    inbox.store_events(
        world["engine"], [NewEvent("typeform", payload["event_id"], {}, delivery.body)]
    )
    run, [report], _, _ = run_lead_flow(world["engine"], world["attio"], clients, "lead-run")
    assert not (report.failed_critical or report.retry_later)
    run.settle(FORM_SOURCES)
    [task] = world["sandbox"].tasks()
    person = task["linked_records"][0]["target_record_id"]
    [record] = [p for p in world["sandbox"].records("people") if record_id(p) == person]
    return person, task["id"]["task_id"], first_value(record, "company", "target_record_id")


def _member(world: dict[str, Any]) -> str:
    return world["sandbox"].members()[2]["id"]["workspace_member_id"]


def _comment(world: dict[str, Any], object_: str, record: str) -> None:
    body = {
        "format": "plaintext",
        "content": "Called them back",
        "author": {"type": "workspace-member", "id": _member(world)},
        "record": {"object": object_, "record_id": record},
    }

    async def go(client: Any) -> Any:
        return await client.transport.write_data("POST", "comments", body, idempotent=False)

    api(world, go)


def _note(world: dict[str, Any], object_: str, record: str, title: str) -> None:
    api(
        world,
        lambda client: client.notes.create(
            parent_object=object_, parent_record_id=record, title=title, content="notes"
        ),
    )


def _complete(world: dict[str, Any], task_id: str) -> None:
    api(
        world,
        lambda client: client.transport.write_data(
            "PATCH", f"tasks/{task_id}", {"is_completed": True}, idempotent=True
        ),
    )


def _value(world: dict[str, Any], object_: str, record: str, slug: str) -> list[dict[str, Any]]:
    [found] = [r for r in world["sandbox"].records(object_) if record_id(r) == record]
    return found["values"][slug]


def test_first_touch_and_last_activity_are_written_once(world, clients) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    person, task_id, company = _lead(world, clients)
    world["delivered"] = len(world["sandbox"].webhook_events())  # the lead flow's own writes
    other = api(
        world,
        lambda client: client.tasks.create(
            content="Not a lead task", deadline_at=None, linked_records=[], assignees=[]
        ),
    )
    _complete(world, other["id"]["task_id"])
    _complete(world, task_id)  # the rep's first touch
    _note(world, "people", person, "Call summary")
    _note(world, "people", person, "Second call")
    _comment(world, "companies", company)
    gone = api(
        world, lambda client: client.records.create("companies", {"domains": ["gone.example"]})
    )
    _comment(world, "companies", gone["id"]["record_id"])
    api(world, lambda client: client.records.delete("companies", gone["id"]["record_id"]))

    deliver_new_events(world)
    faults(world, seed=3)
    try:
        batches = drain(world)
    finally:
        clear_faults(world)
    assert sum(world["sandbox"].stats()["faults_injected"].values()) > 0
    touches = [t for b in batches for t in b.handling.activity.first_touches]
    assert [t[0] for t in touches] == [person]
    [touched] = _value(world, "people", person, "first_touched_at")
    with world["engine"].connect() as connection:
        [row] = connection.execute(sa.select(lead_first_touch)).mappings().all()
        steps = connection.execute(
            sa.select(effect_ledger.c.key).where(effect_ledger.c.step == "first_touch")
        ).all()
    assert row["person_id"] == person and row["task_id"] == task_id
    assert row["seconds_to_first_touch"] is not None and row["seconds_to_first_touch"] >= 0
    assert len(steps) == 1
    notes = [n for n in world["sandbox"].notes() if n["parent_record_id"] == person]
    latest_note = max(n["created_at"] for n in notes)
    [activity] = _value(world, "people", person, "last_activity_at")
    assert activity["value"] == latest_note
    assert len(_value(world, "companies", company, "last_activity_at")) == 1
    assert sum(b.handling.activity.skipped["task we did not create"] for b in batches) >= 1
    assert sum(b.handling.activity.skipped["record deleted"] for b in batches) == 1
    writes = [w for b in batches for w in b.handling.activity.activity_writes]
    assert sorted(w[1] for w in writes) == sorted([person, company])  # one write per record

    # Everything redelivered later: nothing is written again.
    world["delivered"] = 0
    deliver_new_events(world, burst=False)
    again = drain(world)
    assert not [t for b in again for t in b.handling.activity.first_touches]
    assert not [w for b in again for w in b.handling.activity.activity_writes]
    assert _value(world, "people", person, "first_touched_at") == [touched]
