"""Comments: create (on a record, on a list entry, or in a thread) and get a thread with its
comments.

Shapes from Attio's "Create a comment" and "Get a thread" pages (shared/reference
integrations.md §4.5): a comment has `thread_id`, `content_plaintext`, `record{object_id,
record_id}` or `entry{list_id, entry_id}`, `resolved_at`, `resolved_by`, `author`, `created_at`.
Creating one logs `comment.created` with the ids Attio's event carries (`thread_id`,
`object_id`, `record_id`, `list_id`, `entry_id`; §4.3).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from revops_sandbox.attio.errors import custom, not_found, validation
from revops_sandbox.attio.http import Ctx, endpoint
from revops_sandbox.attio.routes_activity import log_event


def comment_shape(ctx: Ctx, comment: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": {"workspace_id": ctx.ws.workspace_id, "comment_id": comment["id"]},
        **{k: v for k, v in comment.items() if k != "id"},
    }


def _target(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    """Where the comment goes: (thread, record, entry) from exactly one of the three keys."""
    given = [k for k in ("thread_id", "record", "entry") if data.get(k) is not None]
    if len(given) != 1:
        raise validation([custom(["data"], "Provide exactly one of thread_id, record or entry.")])
    if given == ["thread_id"]:
        first = next(
            (c for c in ctx.ws.comments.values() if c["thread_id"] == data["thread_id"]), None
        )
        if first is None:
            raise not_found(f'Thread with ID "{data["thread_id"]}" not found.')
        return {"thread_id": first["thread_id"], "record": first["record"], "entry": first["entry"]}
    if given == ["record"]:
        ref = data["record"]
        obj = ctx.ws.get_object(str(ref.get("object")))
        ctx.ws.get_record(obj, str(ref.get("record_id")))
        record = {"object_id": obj.id, "record_id": ref["record_id"]}
        return {"thread_id": ctx.ws.ids.new(), "record": record, "entry": None}
    ref = data["entry"]
    lst = ctx.ws.get_list(str(ref.get("list")))
    item = ctx.ws.get_entry(lst, str(ref.get("entry_id")))
    entry = {"list_id": lst.id, "entry_id": item.id}
    record = {"object_id": item.parent_object_id, "record_id": item.parent_record_id}
    return {"thread_id": ctx.ws.ids.new(), "record": record, "entry": entry}


@endpoint
def create_comment(ctx: Ctx) -> Any:
    data = ctx.data(
        {"format": "string", "content": "string", "author": "object"},
        {"thread_id": "string | null", "record": "object", "entry": "object", "created_at": "any"},
    )
    if data["format"] != "plaintext":
        raise validation(
            [custom(["data", "format"], 'Invalid literal value, expected "plaintext"')]
        )
    author = data["author"]
    if author.get("type") != "workspace-member" or ctx.ws.member_by(str(author.get("id"))) is None:
        raise validation([custom(["data", "author"], "author must be a workspace member.")])
    where = _target(ctx, data)
    comment = {
        "id": ctx.ws.ids.new(),
        **where,
        "content_plaintext": data["content"],
        "resolved_at": None,
        "resolved_by": None,
        "author": {"type": "workspace-member", "id": author["id"]},
        "created_at": ctx.ws.clock.now(),
    }
    ctx.ws.comments[comment["id"]] = comment
    entry = where["entry"] or {}
    log_event(
        ctx,
        "comment.created",
        {"comment_id": comment["id"]},
        thread_id=where["thread_id"],
        object_id=where["record"]["object_id"],
        record_id=where["record"]["record_id"],
        list_id=entry.get("list_id"),
        entry_id=entry.get("entry_id"),
    )
    return {"data": comment_shape(ctx, comment)}


@endpoint
def get_thread(ctx: Ctx) -> Any:
    thread_id = ctx.path("thread_id")
    comments = [c for c in ctx.ws.comments.values() if c["thread_id"] == thread_id]
    if not comments:
        raise not_found(f'Thread with ID "{thread_id}" not found.')
    return {
        "data": {
            "id": {"workspace_id": ctx.ws.workspace_id, "thread_id": thread_id},
            "comments": [comment_shape(ctx, c) for c in comments],
            "created_at": comments[0]["created_at"],
        }
    }


ROUTES = [
    Route("/v2/comments", create_comment, methods=["POST"]),
    Route("/v2/threads/{thread_id}", get_thread, methods=["GET"]),
]
