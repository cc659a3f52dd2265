"""Attio deliveries: parsed into events, deduplicated, and the batch settled by attio_events_job."""

from __future__ import annotations

import json

import dagster as dg
import pytest
import sqlalchemy as sa

from revops_pipelines.domain.attio_events import (
    AttioEventParseError,
    NormalizedEvent,
    dedupe_events,
    parse_delivery,
)
from revops_pipelines.sensors.inbox import attio_inbox_sensor
from revops_pipelines.store import inbox
from tests.sensors.helpers import FIXTURES, run_request, store, tick

WS, OBJ, REC = "ws-1", "obj-companies", "rec-1"


def _event(attribute: str, actor: dict[str, object] | None = None, **ids: str) -> dict[str, object]:
    return {
        "event_type": "record.updated",
        "id": {
            "workspace_id": WS,
            "object_id": OBJ,
            "record_id": REC,
            "attribute_id": attribute,
            **ids,
        },
        "actor": actor or {"type": "workspace-member", "id": "member-1"},
    }


def _delivery(*events: dict[str, object]) -> bytes:
    return json.dumps({"webhook_id": "wh-1", "events": list(events)}).encode()


def test_documented_delivery_parses_to_one_event() -> None:
    [event] = parse_delivery((FIXTURES / "attio_record_updated.json").read_bytes(), inbox_id=3)
    assert event.event_type == "record.updated"
    assert event.ids["record_id"] == "bf071e1f-6035-429d-b874-d83ea64ea13b"
    assert event.ids["attribute_id"] == "41252299-f8c7-4b5e-99c9-4ff8321d2f96"
    assert (event.actor_type, event.inbox_id, event.position) == ("workspace-member", 3, 0)
    assert event.webhook_id == "23e42eaf-323a-41da-b5bb-fd67eebda553"


def test_per_attribute_updates_and_echoes_merge_into_one_event() -> None:
    events = parse_delivery(_delivery(_event("attr-name"), _event("attr-domains")), inbox_id=1)
    events += parse_delivery(_delivery(_event("attr-name")), inbox_id=2)  # redelivered change
    events += parse_delivery(
        _delivery(_event("attr-score", {"type": "system", "id": None})), inbox_id=3
    )
    [merged] = dedupe_events(events)
    assert merged.key == f"record.updated|object_id={OBJ},record_id={REC},workspace_id={WS}"
    assert merged.attribute_ids == ("attr-name", "attr-domains", "attr-score")
    assert merged.actors == ("workspace-member:member-1", "system")
    assert (merged.system_only, merged.inbox_ids, merged.merged) == (False, (1, 2, 3), 4)
    assert merged.record_id == REC


def test_distinct_targets_and_types_stay_apart_and_system_only_is_flagged() -> None:
    other = _event("attr-x", {"type": "system", "id": None})
    other["id"]["record_id"] = "rec-2"  # type: ignore[index]
    created = {
        "event_type": "record.created",
        "id": {"workspace_id": WS, "object_id": OBJ, "record_id": REC},
    }
    merge_a = {**created, "event_type": "record.merged", "duplicate_record_id": "rec-a"}
    merge_b = {**created, "event_type": "record.merged", "duplicate_record_id": "rec-b"}
    events = parse_delivery(_delivery(_event("a"), other, created, merge_a, merge_b), inbox_id=9)
    normalized = dedupe_events(events)
    assert [(n.event_type, n.record_id) for n in normalized] == [
        ("record.updated", REC),
        ("record.updated", "rec-2"),
        ("record.created", REC),
        ("record.merged", REC),
        ("record.merged", REC),
    ]
    assert [n.system_only for n in normalized[:3]] == [False, True, False]
    assert normalized[2].actors == ("unknown",)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "expected an object"),
        (b'{"webhook_id": "x"}', "events is missing"),
        (b'{"events": [1]}', r"events\[0\] is not an object"),
        (b'{"events": [{"id": {"record_id": "r"}}]}', r"events\[0\].event_type is missing"),
        (b'{"events": [{"event_type": "record.updated", "id": {}}]}', r"events\[0\].id is missing"),
    ],
)
def test_unreadable_deliveries_raise_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(AttioEventParseError, match=reason):
        parse_delivery(body, inbox_id=1)


def test_attio_events_job_dedupes_quarantines_and_settles(
    engine: sa.Engine, instance: dg.DagsterInstance, db_url: str
) -> None:
    first = store(engine, "attio", "idem-1", _delivery(_event("attr-name"), _event("attr-domains")))
    second = store(engine, "attio", "idem-2", _delivery(_event("attr-name")))
    broken = store(engine, "attio", "idem-3", b'{"webhook_id": "wh-1"}')
    [request] = tick(attio_inbox_sensor, instance, db_url, None).run_requests
    assert request.run_key == f"attio-{first}-{broken}"

    result = run_request(request, "attio_events_job", instance)
    assert result.success
    events: list[NormalizedEvent] = result.output_for_node("attio_events")
    assert [(e.event_type, e.attribute_ids, e.inbox_ids) for e in events] == [
        ("record.updated", ("attr-name", "attr-domains"), (first, second))
    ]
    [materialization] = result.asset_materializations_for_node("attio_events")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert (meta["deliveries"], meta["events"], meta["unique_events"], meta["quarantined"]) == (
        3,
        3,
        1,
        1,
    )
    assert "events is missing or not a list" in meta["quarantined_rows"]
    statuses = [(r.status, r.last_error) for r in inbox.get_rows(engine, [first, second, broken])]
    assert statuses == [
        ("done", None),
        ("done", None),
        ("quarantined", "events is missing or not a list"),
    ]
