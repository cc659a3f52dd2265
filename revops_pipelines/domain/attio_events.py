"""Attio webhook deliveries parsed into events, and events deduplicated before anything acts.

A delivery is `{"webhook_id": ..., "events": [...]}`; each event has `event_type`, an `id`
object (workspace, object, record, attribute, list, entry ...) and an `actor`. `record.updated`
arrives once per changed attribute, plus a `system` echo when a formula recomputes, so events on the
same target are merged into one `NormalizedEvent` listing the changed attributes and the actors.
Pure functions: no I/O, no Dagster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_ATTRIBUTE_KEY = "attribute_id"


class AttioEventParseError(ValueError):
    """The delivery cannot be read as Attio webhook events; the message is the quarantine reason."""


@dataclass(frozen=True)
class AttioEvent:
    """One element of a delivery's `events[]`."""

    event_type: str
    ids: dict[str, str]  # the event's `id` object (workspace_id, record_id, attribute_id, ...)
    actor_type: str | None
    actor_id: str | None
    webhook_id: str | None
    inbox_id: int
    position: int  # index in the delivery's events[]
    extra: dict[str, Any] = field(default_factory=dict)  # other top-level keys, e.g. parent ids

    @property
    def target(self) -> tuple[tuple[str, str], ...]:
        """What the event is about: its ids without the changed attribute, plus top-level ids
        such as `duplicate_record_id` (the two events of a merge stay apart)."""
        ids = {k: v for k, v in self.ids.items() if k != _ATTRIBUTE_KEY}
        ids.update(
            {k: v for k, v in self.extra.items() if k.endswith("_id") and isinstance(v, str)}
        )
        return tuple(sorted(ids.items()))


@dataclass(frozen=True)
class NormalizedEvent:
    """One thing that happened in Attio, after merging its duplicate and per-attribute events."""

    key: str  # deterministic: event type + target ids
    event_type: str
    ids: dict[str, str]  # target ids (no attribute_id)
    attribute_ids: tuple[str, ...]  # changed attributes (for *.updated), in arrival order
    actors: tuple[str, ...]  # "workspace-member:<id>", "system", ... in arrival order
    system_only: bool  # every merged event came from Attio itself (e.g. a formula recompute)
    inbox_ids: tuple[int, ...]  # the deliveries it came from
    merged: int  # how many raw events were merged into this one
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def workspace_id(self) -> str | None:
        return self.ids.get("workspace_id")

    @property
    def object_id(self) -> str | None:
        return self.ids.get("object_id")

    @property
    def record_id(self) -> str | None:
        return self.ids.get("record_id")


def parse_delivery(body: bytes, *, inbox_id: int) -> list[AttioEvent]:
    """Every event of one stored delivery, in order. Raises `AttioEventParseError`."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise AttioEventParseError(f"body is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise AttioEventParseError(f"body is a JSON {type(payload).__name__}, expected an object")
    events = payload.get("events")
    if not isinstance(events, list):
        raise AttioEventParseError("events is missing or not a list")
    webhook_id = payload.get("webhook_id")
    return [
        _parse_event(raw, position, inbox_id, webhook_id if isinstance(webhook_id, str) else None)
        for position, raw in enumerate(events)
    ]


def _parse_event(raw: Any, position: int, inbox_id: int, webhook_id: str | None) -> AttioEvent:
    where = f"events[{position}]"
    if not isinstance(raw, Mapping):
        raise AttioEventParseError(f"{where} is not an object")
    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise AttioEventParseError(f"{where}.event_type is missing")
    ids = raw.get("id")
    if not isinstance(ids, Mapping) or not ids:
        raise AttioEventParseError(f"{where}.id is missing or not an object")
    clean_ids = {str(k): str(v) for k, v in ids.items() if isinstance(v, str | int) and v != ""}
    actor = raw.get("actor") if isinstance(raw.get("actor"), Mapping) else {}
    actor_type, actor_id = actor.get("type"), actor.get("id")
    return AttioEvent(
        event_type=event_type,
        ids=clean_ids,
        actor_type=actor_type if isinstance(actor_type, str) else None,
        actor_id=str(actor_id) if isinstance(actor_id, str | int) else None,
        webhook_id=webhook_id,
        inbox_id=inbox_id,
        position=position,
        extra={k: v for k, v in raw.items() if k not in ("event_type", "id", "actor")},
    )


def _actor_label(event: AttioEvent) -> str:
    if event.actor_type is None:
        return "unknown"
    return f"{event.actor_type}:{event.actor_id}" if event.actor_id else event.actor_type


def event_key(event_type: str, target: Iterable[tuple[str, str]]) -> str:
    """The dedupe key of an event: its type and the ids of its target, in a fixed order."""
    return event_type + "|" + ",".join(f"{k}={v}" for k, v in sorted(target))


def dedupe_events(events: Iterable[AttioEvent]) -> list[NormalizedEvent]:
    """Merge events with the same type and target (first-seen order is kept).

    Several `record.updated` events for one record become one event listing every changed
    attribute; a redelivered or batched duplicate adds nothing but its inbox id.
    """
    merged: dict[str, dict[str, Any]] = {}
    for event in events:
        key = event_key(event.event_type, event.target)
        entry = merged.setdefault(
            key,
            {
                "event_type": event.event_type,
                "ids": dict(event.target),
                "attribute_ids": [],
                "actors": [],
                "system": [],
                "inbox_ids": [],
                "merged": 0,
                "extra": dict(event.extra),
            },
        )
        attribute = event.ids.get(_ATTRIBUTE_KEY)
        if attribute and attribute not in entry["attribute_ids"]:
            entry["attribute_ids"].append(attribute)
        actor = _actor_label(event)
        if actor not in entry["actors"]:
            entry["actors"].append(actor)
        entry["system"].append(event.actor_type == "system")
        if event.inbox_id not in entry["inbox_ids"]:
            entry["inbox_ids"].append(event.inbox_id)
        entry["merged"] += 1
    return [
        NormalizedEvent(
            key=key,
            event_type=e["event_type"],
            ids=e["ids"],
            attribute_ids=tuple(e["attribute_ids"]),
            actors=tuple(e["actors"]),
            system_only=all(e["system"]),
            inbox_ids=tuple(e["inbox_ids"]),
            merged=e["merged"],
            extra=e["extra"],
        )
        for key, e in merged.items()
    ]


# --- routing -------------------------------------------------------------------------------
# Event type -> the name of its handler (`services/attio_events/handlers.py`). One small table:
# a type that is not here is recorded and skipped, never an error.
RECORD_CREATED, RECORD_UPDATED = "record_created", "record_updated"
RECORD_DELETED, RECORD_MERGED = "record_deleted", "record_merged"
LIST_ENTRY, NOTE, TASK, COMMENT = "list_entry", "note", "task", "comment"
DISPATCH: Mapping[str, str] = {
    "record.created": RECORD_CREATED,
    "record.updated": RECORD_UPDATED,
    "record.deleted": RECORD_DELETED,
    "record.merged": RECORD_MERGED,
    "list-entry.created": LIST_ENTRY,
    "list-entry.updated": LIST_ENTRY,
    "list-entry.deleted": LIST_ENTRY,
    "note.created": NOTE,
    "note.updated": NOTE,
    "note-content.updated": NOTE,
    "note.deleted": NOTE,
    "task.created": TASK,
    "task.updated": TASK,
    "task.deleted": TASK,
    "comment.created": COMMENT,
    "comment.resolved": COMMENT,
    "comment.unresolved": COMMENT,
    "comment.deleted": COMMENT,
}
# Record events whose handlers read the record as it is now (one fetch per record per batch).
FETCHING_TYPES = ("record.created", "record.updated")


def handler_for(event_type: str) -> str | None:
    """The handler name of an event type; None for a type this project does not handle."""
    return DISPATCH.get(event_type)


@dataclass(frozen=True)
class RoutedEvents:
    """A batch's events grouped by handler name (arrival order kept), and the unknown ones."""

    by_handler: dict[str, list[NormalizedEvent]]
    unknown: list[NormalizedEvent]

    def events(self, handler: str) -> list[NormalizedEvent]:
        return self.by_handler.get(handler, [])


def route_events(events: Iterable[NormalizedEvent]) -> RoutedEvents:
    by_handler: dict[str, list[NormalizedEvent]] = {}
    unknown: list[NormalizedEvent] = []
    for event in events:
        handler = handler_for(event.event_type)
        if handler is None:
            unknown.append(event)
        else:
            by_handler.setdefault(handler, []).append(event)
    return RoutedEvents(by_handler, unknown)


@dataclass(frozen=True)
class RecordChange:
    """Everything a batch says about one record: the one fetch its created/updated events need."""

    object_id: str
    record_id: str
    event_types: tuple[str, ...]  # e.g. ("record.created", "record.updated"), arrival order
    attribute_ids: tuple[str, ...]  # changed attributes over every update in the batch

    @property
    def created(self) -> bool:
        return "record.created" in self.event_types


def records_to_fetch(
    events: Iterable[NormalizedEvent], *, object_ids: Iterable[str] | None = None
) -> list[RecordChange]:
    """One `RecordChange` per (object, record) with a created or updated event, first-seen order.

    The per-attribute `record.updated` burst, its system echo and a `record.created` of the same
    record collapse into one entry, so the handler fetches the current record once per batch.
    `object_ids` limits the result to objects some handler cares about (e.g. deals).
    """
    wanted = set(object_ids) if object_ids is not None else None
    changes: dict[tuple[str, str], dict[str, list[str]]] = {}
    for event in events:
        if event.event_type not in FETCHING_TYPES:
            continue
        object_id, record_id = event.object_id, event.record_id
        if not object_id or not record_id or (wanted is not None and object_id not in wanted):
            continue
        entry = changes.setdefault((object_id, record_id), {"types": [], "attributes": []})
        if event.event_type not in entry["types"]:
            entry["types"].append(event.event_type)
        for attribute in event.attribute_ids:
            if attribute not in entry["attributes"]:
                entry["attributes"].append(attribute)
    return [
        RecordChange(obj, rec, tuple(e["types"]), tuple(e["attributes"]))
        for (obj, rec), e in changes.items()
    ]


def merge_repoints(events: Iterable[NormalizedEvent]) -> list[tuple[str, str]]:
    """(original record id, surviving record id) for each `record.merged` event, in order.

    Both semantics give the same answer: since 2026 a merge makes a new record and fires one
    event per original, each with the new record in `id.record_id` and an original in
    `duplicate_record_id`; before, the duplicate was folded into `id.record_id` and deleted.
    Either way, whatever pointed at `duplicate_record_id` must now point at `id.record_id`.
    """
    pairs: list[tuple[str, str]] = []
    for event in events:
        duplicate, surviving = event.extra.get("duplicate_record_id"), event.record_id
        if event.event_type != "record.merged" or not isinstance(duplicate, str) or not surviving:
            continue
        if duplicate != surviving and (duplicate, surviving) not in pairs:
            pairs.append((duplicate, surviving))
    return pairs


def deleted_record_ids(events: Iterable[NormalizedEvent]) -> list[str]:
    """The record ids of `record.deleted` events, in order, each once."""
    ids: list[str] = []
    for event in events:
        if event.event_type == "record.deleted" and event.record_id and event.record_id not in ids:
            ids.append(event.record_id)
    return ids
