"""Notes (create, list, get, delete; no update) and tasks (create, list, get, PATCH, delete)."""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.routing import Route

from revops_sandbox.attio import values as V
from revops_sandbox.attio.addresses import normalize_timestamp, parse_timestamp
from revops_sandbox.attio.errors import custom, not_found, validation
from revops_sandbox.attio.http import Ctx, endpoint
from revops_sandbox.attio.schema import Attribute

TASK_CONTENT_MAX = 2000


def _plaintext(markdown: str) -> str:
    text = re.sub(r"^#{1,3}\s+", "", markdown, flags=re.M)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"(\*\*|__|~~|==|\*|_)", "", text)


def log_event(ctx: Ctx, event_type: str, ids: dict[str, Any], **extra: Any) -> None:
    """What Attio's webhooks would send for this write: ids only (shared/reference
    integrations.md §4.3; the task.* shape is UNCONFIRMED there, `id.task_id` by analogy)."""
    ctx.ws.events.append(
        {
            "event_type": event_type,
            "id": {"workspace_id": ctx.ws.workspace_id, **ids},
            **extra,
            "actor": {"type": "api-token", "id": ctx.token_id},
        }
    )


def note_shape(ctx: Ctx, note: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": {"workspace_id": ctx.ws.workspace_id, "note_id": note["id"]},
        **{k: v for k, v in note.items() if k != "id"},
    }


@endpoint
def create_note(ctx: Ctx) -> Any:
    data = ctx.data(
        {
            "parent_object": "string",
            "parent_record_id": "string",
            "title": "string",
            "format": "string",
            "content": "string",
        },
        {"created_at": "string", "meeting_id": "string | null"},
    )
    if data["format"] not in ("plaintext", "markdown"):
        raise validation([custom(["data", "format"], "Expected 'plaintext' | 'markdown'.")])
    created_at = ctx.ws.clock.now()
    if "created_at" in data:
        parsed = parse_timestamp(data["created_at"])
        if parsed is None or parsed[0].timestamp() < 0 or parsed[0].timestamp() > time.time():
            raise validation(
                [
                    custom(
                        ["data", "created_at"],
                        "created_at must be a timestamp between 1970 and now.",
                    )
                ]
            )
        created_at = normalize_timestamp(data["created_at"]) or created_at
    obj = ctx.ws.get_object(data["parent_object"])
    ctx.ws.get_record(obj, data["parent_record_id"])
    if data.get("meeting_id") is not None:
        raise not_found(f'Meeting with ID "{data["meeting_id"]}" not found.')  # none exist here
    content = data["content"]
    markdown = data["format"] == "markdown"
    note = {
        "id": ctx.ws.ids.new(),
        "parent_object": obj.api_slug,
        "parent_record_id": data["parent_record_id"],
        "title": data["title"],
        "meeting_id": None,
        "content_plaintext": _plaintext(content) if markdown else content,
        "content_markdown": content,
        "tags": [],
        "created_by_actor": {"type": "api-token", "id": ctx.token_id},
        "created_at": created_at,
    }
    ctx.ws.notes[note["id"]] = note
    log_event(
        ctx,
        "note.created",
        {"note_id": note["id"]},
        parent_object_id=obj.id,
        parent_record_id=note["parent_record_id"],
    )
    return {"data": note_shape(ctx, note)}


@endpoint
def list_notes(ctx: Ctx) -> Any:
    limit, offset = ctx.paging(default=10, maximum=50)
    parent_object, parent_record = ctx.query("parent_object"), ctx.query("parent_record_id")
    if parent_record and not parent_object:
        raise validation(
            [custom(["parent_object"], "parent_object is required with parent_record_id.")],
            "Query parameter validation error.",
        )
    notes = list(ctx.ws.notes.values())
    if parent_object:
        slug = ctx.ws.get_object(parent_object).api_slug
        notes = [n for n in notes if n["parent_object"] == slug]
    if parent_record:
        notes = [n for n in notes if n["parent_record_id"] == parent_record]
    return {"data": [note_shape(ctx, n) for n in notes[offset : offset + limit]]}


def _note(ctx: Ctx) -> dict[str, Any]:
    note = ctx.ws.notes.get(ctx.path("note_id"))
    if note is None:
        raise not_found(f'Note with ID "{ctx.path("note_id")}" not found.')
    return note


@endpoint
def get_note(ctx: Ctx) -> Any:
    return {"data": note_shape(ctx, _note(ctx))}


@endpoint
def delete_note(ctx: Ctx) -> Any:
    del ctx.ws.notes[_note(ctx)["id"]]
    return {}


# --- tasks -----------------------------------------------------------------------------------
def _links(ctx: Ctx, raw: list[Any]) -> list[dict[str, str]]:
    for i, item in enumerate(raw):
        target = item.get("target_object") if isinstance(item, dict) else None
        if not isinstance(target, str) or ctx.ws.object_by(target) is None:
            raise validation(
                [
                    custom(
                        ["data", "linked_records", i, "target_object"],
                        "Only standard or custom object records can be linked to.",
                    )
                ]
            )
    attr = Attribute("", "", "linked_records", "", "record-reference", "", is_multiselect=True)
    out = []
    for p in V.normalize(attr, raw, ctx.ws):
        obj = ctx.ws.get_object(p["target_object"])
        # UNCONFIRMED whether reads carry the object's slug or id; the field name says id.
        out.append({"target_object_id": obj.id, "target_record_id": p["target_record_id"]})
    return out


def _assignees(ctx: Ctx, raw: list[Any]) -> list[dict[str, str]]:
    attr = Attribute("", "", "assignees", "", "actor-reference", "", is_multiselect=True)
    return V.normalize(attr, raw, ctx.ws)


def _deadline(raw: Any) -> str | None:
    if raw is None:
        return None
    out = normalize_timestamp(raw)
    if out is None:
        raise validation([custom(["data", "deadline_at"], "Invalid timestamp.")])
    return out


def task_shape(ctx: Ctx, task: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": {"workspace_id": ctx.ws.workspace_id, "task_id": task["id"]},
        **{k: v for k, v in task.items() if k != "id"},
    }


@endpoint
def create_task(ctx: Ctx) -> Any:
    data = ctx.data(
        {
            "content": "string",
            "format": "string",
            "deadline_at": "string | null",
            "is_completed": "boolean",
            "linked_records": "array",
            "assignees": "array",
        }
    )
    problems = []
    if len(data["content"]) > TASK_CONTENT_MAX:
        problems.append(
            {
                "code": "too_big",
                "maximum": TASK_CONTENT_MAX,
                "type": "string",
                "inclusive": True,
                "path": ["data", "content"],
                "message": f"String must contain at most {TASK_CONTENT_MAX} character(s)",
            }
        )
    if data["format"] != "plaintext":
        problems.append(custom(["data", "format"], 'Invalid literal value, expected "plaintext"'))
    if problems:
        raise validation(problems)
    task = {
        "id": ctx.ws.ids.new(),
        "content_plaintext": data["content"],
        "deadline_at": _deadline(data["deadline_at"]),
        "is_completed": data["is_completed"],
        "linked_records": _links(ctx, data["linked_records"]),
        "assignees": _assignees(ctx, data["assignees"]),
        "created_by_actor": {"type": "api-token", "id": ctx.token_id},
        "created_at": ctx.ws.clock.now(),
    }
    ctx.ws.tasks[task["id"]] = task
    log_event(ctx, "task.created", {"task_id": task["id"]})
    return {"data": task_shape(ctx, task)}


@endpoint
def list_tasks(ctx: Ctx) -> Any:
    limit, offset = ctx.paging(default=500)
    tasks = list(ctx.ws.tasks.values())
    sort = ctx.query("sort") or "created_at:asc"
    if sort not in ("created_at:asc", "created_at:desc"):
        raise validation(
            [custom(["sort"], "Expected 'created_at:asc' | 'created_at:desc'.")],
            "Query parameter validation error.",
        )
    if sort.endswith("desc"):
        tasks.reverse()
    linked_object, linked_record = ctx.query("linked_object"), ctx.query("linked_record_id")
    if bool(linked_object) != bool(linked_record):
        raise validation(
            [custom(["linked_object"], "linked_object and linked_record_id go together.")],
            "Query parameter validation error.",
        )
    if linked_object and linked_record:
        oid = ctx.ws.get_object(linked_object).id
        tasks = [
            t
            for t in tasks
            if {"target_object_id": oid, "target_record_id": linked_record} in t["linked_records"]
        ]
    assignee = ctx.query("assignee")
    if assignee is not None:
        if assignee == "null":
            tasks = [t for t in tasks if not t["assignees"]]
        else:
            member = ctx.ws.member_by(assignee)
            wanted = member.id if member else assignee
            tasks = [
                t for t in tasks if any(a["referenced_actor_id"] == wanted for a in t["assignees"])
            ]
    completed = ctx.query("is_completed")
    if completed is not None:
        tasks = [t for t in tasks if t["is_completed"] == (completed == "true")]
    return {"data": [task_shape(ctx, t) for t in tasks[offset : offset + limit]]}


def _task(ctx: Ctx) -> dict[str, Any]:
    task = ctx.ws.tasks.get(ctx.path("task_id"))
    if task is None:
        raise not_found(f'Task with ID "{ctx.path("task_id")}" not found.')
    return task


@endpoint
def get_task(ctx: Ctx) -> Any:
    return {"data": task_shape(ctx, _task(ctx))}


@endpoint
def patch_task(ctx: Ctx) -> Any:
    task = _task(ctx)
    data = ctx.data(
        {},
        {
            "deadline_at": "string | null",
            "is_completed": "boolean",
            "linked_records": "array",
            "assignees": "array",
        },
    )
    changes: dict[str, Any] = {}
    if "deadline_at" in data:
        changes["deadline_at"] = _deadline(data["deadline_at"])
    if "is_completed" in data:
        changes["is_completed"] = data["is_completed"]
    if "linked_records" in data:
        changes["linked_records"] = _links(ctx, data["linked_records"])
    if "assignees" in data:
        changes["assignees"] = _assignees(ctx, data["assignees"])
    changed = {k: v for k, v in changes.items() if task.get(k) != v}
    task.update(changes)
    if changed:
        log_event(ctx, "task.updated", {"task_id": task["id"]})
    return {"data": task_shape(ctx, task)}


@endpoint
def delete_task(ctx: Ctx) -> Any:
    task_id = _task(ctx)["id"]
    del ctx.ws.tasks[task_id]
    log_event(ctx, "task.deleted", {"task_id": task_id})
    return {}


ROUTES = [
    Route("/v2/notes", create_note, methods=["POST"]),
    Route("/v2/notes", list_notes, methods=["GET"]),
    Route("/v2/notes/{note_id}", get_note, methods=["GET"]),
    Route("/v2/notes/{note_id}", delete_note, methods=["DELETE"]),
    Route("/v2/tasks", create_task, methods=["POST"]),
    Route("/v2/tasks", list_tasks, methods=["GET"]),
    Route("/v2/tasks/{task_id}", get_task, methods=["GET"]),
    Route("/v2/tasks/{task_id}", patch_task, methods=["PATCH"]),
    Route("/v2/tasks/{task_id}", delete_task, methods=["DELETE"]),
]
