"""First touch and last activity from Attio's `task.*`, `note.*` and `comment.*` events.

Events carry ids, not values, so everything is read back:
- `task.updated`: only tasks the lead flow created (its `<lead key>:task` ledger row) are read;
  a completed one sets `first_touched_at` on the lead's person, once per lead (effect ledger),
  at the time its delivery reached us, and records the time from the lead's webhook to that
  touch (`lead_first_touch`). Other tasks are counted and skipped without a read.
- `note.created` / `comment.created`: the note (or the comment's thread) is read for its
  `created_at`; the parent record's `last_activity_at` is set to the newest of the batch, at
  most one write per record per run, and never moved backwards.
Deleted notes, tasks, comments and records, unknown objects and a workspace without the
attributes (`revops attio setup` creates them) are counted and skipped, never an error loop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from revops_pipelines.domain.attio_events import NormalizedEvent
from revops_pipelines.domain.pipeline_rules import parse_attio_time
from revops_pipelines.infra.send_once import Effect, run_once
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.errors import AttioError
from revops_pipelines.store.first_touch import lead_of_task, received_times, record_first_touch
from revops_pipelines.store.ledger import LedgerTable

FIRST_TOUCHED, LAST_ACTIVITY = "first_touched_at", "last_activity_at"


@dataclass
class ActivityReport:
    first_touches: list[tuple[str, str, str]] = field(default_factory=list)
    # (person id, lead key, seconds from webhook to first touch)
    activity_writes: list[tuple[str, str, str]] = field(default_factory=list)
    # (object, record id, last activity)
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def _when(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class ActivityHandler:
    def __init__(self, client: AttioClient, engine: sa.Engine, log: Any = None) -> None:
        self.client, self.engine, self.log = client, engine, log
        self.report = ActivityReport()

    def _arrived(self, event: NormalizedEvent) -> datetime | None:
        times = received_times(self.engine, list(event.inbox_ids))
        return min(times.values()) if times else None

    # --- first touch ----------------------------------------------------------------------
    async def tasks(self, events: list[NormalizedEvent]) -> None:
        for event in events:
            if event.event_type != "task.updated":
                self.report.skipped[f"{event.event_type} (no action)"] += 1
                continue
            task_id = event.ids.get("task_id")
            lead = lead_of_task(self.engine, task_id) if task_id else None
            if task_id is None or lead is None:
                self.report.skipped["task we did not create"] += 1
                continue
            try:
                await self._task_updated(task_id, lead, event)
            except Exception as exc:  # one task's failure does not stop the others
                self.report.errors.append(f"task {task_id}: {exc}")

    async def _task_updated(self, task_id: str, lead: Any, event: NormalizedEvent) -> None:
        try:
            task = await self.client.tasks.get(task_id)
        except AttioError as exc:
            if exc.status_code == 404:
                self.report.skipped["task deleted"] += 1
                return
            raise
        if not task.get("is_completed"):
            self.report.skipped["task not completed"] += 1
            return
        links = [link for link in task.get("linked_records") or [] if link.get("target_record_id")]
        touched = self._arrived(event)
        if not links or touched is None:
            self.report.skipped["completed task without a linked person"] += 1
            return
        person = str(links[0]["target_record_id"])

        async def write() -> Effect:
            await self.client.records.update("people", person, {FIRST_TOUCHED: _when(touched)})
            return Effect(person, {FIRST_TOUCHED: _when(touched)})

        try:
            outcome = await run_once(
                LedgerTable(self.engine), f"{lead.lead_key}:first_touch", "first_touch", write
            )
        except AttioError as exc:
            if exc.status_code == 404:
                self.report.skipped["person deleted"] += 1
                return
            raise
        record_first_touch(self.engine, lead, person_id=person, task_id=task_id, touched_at=touched)
        if outcome.status != "done":
            self.report.skipped["first touch already recorded"] += 1
            return
        seconds = (touched - lead.webhook_at).total_seconds() if lead.webhook_at else None
        self.report.first_touches.append(
            (person, lead.lead_key, f"{seconds:.0f}" if seconds is not None else "?")
        )

    # --- last activity --------------------------------------------------------------------
    async def activity(self, events: list[NormalizedEvent]) -> None:
        newest: dict[tuple[str, str], datetime] = {}
        for event in events:
            try:
                found = await self._activity_of(event)
            except Exception as exc:
                self.report.errors.append(f"{event.event_type} {event.ids}: {exc}")
                continue
            if found is not None:
                target, when = found
                newest[target] = max(when, newest.get(target, when))
        if not newest:
            return
        slugs = {o["id"]["object_id"]: o["api_slug"] for o in await self.client.workspace.objects()}
        for (object_id, record_id), when in newest.items():
            try:
                await self._set_last_activity(slugs.get(object_id), record_id, when)
            except Exception as exc:
                self.report.errors.append(f"last activity of {record_id}: {exc}")

    async def _activity_of(self, event: NormalizedEvent) -> tuple[tuple[str, str], datetime] | None:
        """(parent object id, record id) and when, for a note or comment that still exists."""
        if event.event_type == "note.created":
            target = (event.extra.get("parent_object_id"), event.extra.get("parent_record_id"))
            read = self._note_time(event.ids.get("note_id"))
        elif event.event_type == "comment.created":
            target = (event.extra.get("object_id"), event.extra.get("record_id"))
            read = self._comment_time(event.extra.get("thread_id"), event.ids.get("comment_id"))
        else:
            self.report.skipped[f"{event.event_type} (no action)"] += 1
            return None
        if not all(isinstance(t, str) and t for t in target):
            self.report.skipped["activity without a parent record"] += 1
            read.close()
            return None
        when = await read
        if when is None:
            return None
        return (str(target[0]), str(target[1])), when

    async def _note_time(self, note_id: str | None) -> datetime | None:
        try:
            note = await self.client.notes.get(note_id or "")
        except AttioError as exc:
            if exc.status_code == 404:
                self.report.skipped["note deleted"] += 1
                return None
            raise
        return parse_attio_time(note.get("created_at"))

    async def _comment_time(self, thread_id: Any, comment_id: str | None) -> datetime | None:
        try:
            thread = await self.client.notes.thread(str(thread_id or ""))
        except AttioError as exc:
            if exc.status_code == 404:
                self.report.skipped["comment deleted"] += 1
                return None
            raise
        for comment in thread.get("comments") or []:
            if (comment.get("id") or {}).get("comment_id") == comment_id:
                return parse_attio_time(comment.get("created_at"))
        self.report.skipped["comment deleted"] += 1
        return None

    async def _set_last_activity(self, slug: str | None, record_id: str, when: datetime) -> None:
        if slug is None:
            self.report.skipped["unknown object"] += 1
            return
        attributes = await self.client.workspace.attributes("objects", slug)
        if not any(a.get("api_slug") == LAST_ACTIVITY for a in attributes):
            self.report.skipped[f"{slug} has no {LAST_ACTIVITY} (run revops attio setup)"] += 1
            return
        try:
            record = await self.client.records.get(slug, record_id)
        except AttioError as exc:
            if exc.status_code == 404:
                self.report.skipped["record deleted"] += 1
                return
            raise
        values = (record.get("values") or {}).get(LAST_ACTIVITY) or []
        current = [parse_attio_time(v.get("value")) for v in values if not v.get("active_until")]
        if current and current[0] is not None and current[0] >= when:
            self.report.skipped["activity not newer than the record's"] += 1
            return

        async def write() -> Effect:
            await self.client.records.update(slug, record_id, {LAST_ACTIVITY: _when(when)})
            return Effect(record_id, {LAST_ACTIVITY: _when(when)})

        key = f"activity:{record_id}:{_when(when)}"
        outcome = await run_once(LedgerTable(self.engine), key, "last_activity", write)
        if outcome.status == "done":
            self.report.activity_writes.append((slug, record_id, _when(when)))
