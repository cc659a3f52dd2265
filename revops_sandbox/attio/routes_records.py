"""Record and list-entry routes: create, assert, get, PATCH, PUT, DELETE, query."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from revops_sandbox.attio.errors import (
    ApiError,
    custom,
    required,
    unrecognized,
    validation,
    value_not_found,
)
from revops_sandbox.attio.filters import Query
from revops_sandbox.attio.http import Ctx, endpoint
from revops_sandbox.attio.schema import Container, ListDef
from revops_sandbox.attio.state import Item

QUERY_KEYS = {"filter", "sorts", "limit", "offset"}


def _query(ctx: Ctx, c: Container) -> list[Item]:
    body = ctx.body if ctx.body is not None else {}
    if not isinstance(body, dict):
        raise validation([custom([], "The body must be a JSON object.")])
    extra = sorted(set(body) - QUERY_KEYS)
    if extra:
        raise validation([unrecognized([], extra)])
    limit, offset = ctx.paging(default=500, source=body)
    q = Query(ctx.ws, c)
    keep = q.compile(body.get("filter"))
    found = q.sort([it for it in ctx.ws.records_of(c) if keep(it)], body.get("sorts"))
    # Offset paging with no totals: a short page is the only sign of the end.
    return found[offset : offset + limit]


# --- records ---------------------------------------------------------------------------------
@endpoint
def create_record(ctx: Ctx) -> Any:
    obj = ctx.ws.get_object(ctx.path("object"))
    data = ctx.data({"values": "object"})
    w = ctx.writer()
    item = w.create(obj, w.prepare(obj, data["values"], ["data", "values"]), link=True)
    return {"data": ctx.ws.record_shape(obj, item)}


@endpoint
def assert_record(ctx: Ctx) -> Any:
    obj = ctx.ws.get_object(ctx.path("object"))
    slug = ctx.query("matching_attribute")
    if not slug:
        raise validation(
            [required(["matching_attribute"], "string")], "Query parameter validation error."
        )
    match = obj.attribute(slug)
    if match is None:
        raise value_not_found(f'Cannot find attribute with slug/ID "{slug}".')
    if not match.is_unique or not match.is_writable:
        # record_id is unique but cannot be a match key (Attio support, pipedream#16302).
        raise ApiError(
            400,
            "matching_attribute_definition_not_unique",
            "The matching attribute specified is not a unique attribute.",
        )
    data = ctx.data({"values": "object"})
    w = ctx.writer()
    item, _ = w.assert_(obj, match, w.prepare(obj, data["values"], ["data", "values"]))
    return {"data": ctx.ws.record_shape(obj, item)}


@endpoint
def get_record(ctx: Ctx) -> Any:
    obj = ctx.ws.get_object(ctx.path("object"))
    return {"data": ctx.ws.record_shape(obj, ctx.ws.get_record(obj, ctx.path("record_id")))}


def _update_record(ctx: Ctx, mode: str) -> Any:
    obj = ctx.ws.get_object(ctx.path("object"))
    item = ctx.ws.get_record(obj, ctx.path("record_id"))
    data = ctx.data({"values": "object"})
    w = ctx.writer()
    w.update(obj, item, w.prepare(obj, data["values"], ["data", "values"]), mode)  # type: ignore[arg-type]
    return {"data": ctx.ws.record_shape(obj, item)}


@endpoint
def patch_record(ctx: Ctx) -> Any:
    return _update_record(ctx, "patch")


@endpoint
def put_record(ctx: Ctx) -> Any:
    return _update_record(ctx, "put")


@endpoint
def delete_record(ctx: Ctx) -> Any:
    obj = ctx.ws.get_object(ctx.path("object"))
    ctx.writer().delete(obj, ctx.ws.get_record(obj, ctx.path("record_id")))
    return {}


@endpoint
def query_records(ctx: Ctx) -> Any:
    obj = ctx.ws.get_object(ctx.path("object"))
    return {"data": [ctx.ws.record_shape(obj, it) for it in _query(ctx, obj)]}


@endpoint
def record_entries(ctx: Ctx) -> Any:
    obj = ctx.ws.get_object(ctx.path("object"))
    record = ctx.ws.get_record(obj, ctx.path("record_id"))
    limit, offset = ctx.paging(default=100, maximum=1000)
    found = [
        {
            "list_id": lst.id,
            "list_api_slug": lst.api_slug,
            "entry_id": e.id,
            "created_at": e.created_at,
        }
        for lst in ctx.ws.lists.values()
        for e in ctx.ws.records_of(lst)
        if e.parent_record_id == record.id
    ]
    return {"data": found[offset : offset + limit]}


# --- list entries ----------------------------------------------------------------------------
def _parent(ctx: Ctx, lst: ListDef, data: dict[str, Any]) -> tuple[str, str]:
    obj = ctx.ws.get_object(data["parent_object"])
    if obj.api_slug != lst.parent_object:
        raise validation(
            [
                custom(
                    ["data", "parent_object"],
                    f'Records of "{obj.api_slug}" cannot be added to this list.',
                )
            ]
        )
    if not ctx.ws.record_exists(obj.id, data["parent_record_id"]):
        raise value_not_found(f'Parent record with slug/ID "{data["parent_record_id"]}" not found.')
    return obj.id, data["parent_record_id"]


ENTRY_FIELDS = {"parent_record_id": "string", "parent_object": "string", "entry_values": "object"}


@endpoint
def create_entry(ctx: Ctx) -> Any:
    lst = ctx.ws.get_list(ctx.path("list"))
    data = ctx.data(ENTRY_FIELDS)
    object_id, record_id = _parent(ctx, lst, data)
    w = ctx.writer()
    prepared = w.prepare(lst, data["entry_values"], ["data", "entry_values"])
    item = w.create(lst, prepared, parent_object_id=object_id, parent_record_id=record_id)
    return {"data": ctx.ws.entry_shape(lst, item)}


@endpoint
def assert_entry(ctx: Ctx) -> Any:
    lst = ctx.ws.get_list(ctx.path("list"))
    data = ctx.data(ENTRY_FIELDS)
    object_id, record_id = _parent(ctx, lst, data)
    w = ctx.writer()
    prepared = w.prepare(lst, data["entry_values"], ["data", "entry_values"])
    same = [e for e in ctx.ws.records_of(lst) if e.parent_record_id == record_id]
    if len(same) > 1:
        raise ApiError(
            400,
            "multiple_match_results",
            "Multiple entries were founds for the given parent record, "
            "so the entry could not be asserted.",
        )
    if same:
        item = w.update(lst, same[0], prepared, "put")
    else:
        item = w.create(lst, prepared, parent_object_id=object_id, parent_record_id=record_id)
    return {"data": ctx.ws.entry_shape(lst, item)}


@endpoint
def get_entry(ctx: Ctx) -> Any:
    lst = ctx.ws.get_list(ctx.path("list"))
    return {"data": ctx.ws.entry_shape(lst, ctx.ws.get_entry(lst, ctx.path("entry_id")))}


def _update_entry(ctx: Ctx, mode: str) -> Any:
    lst = ctx.ws.get_list(ctx.path("list"))
    item = ctx.ws.get_entry(lst, ctx.path("entry_id"))
    data = ctx.data({"entry_values": "object"}, {"parent_record_id": "any", "parent_object": "any"})
    if "parent_record_id" in data or "parent_object" in data:
        raise ApiError(
            400,
            "immutable_value",
            "The parent record for a list entry cannot be updated once created.",
        )
    w = ctx.writer()
    w.update(lst, item, w.prepare(lst, data["entry_values"], ["data", "entry_values"]), mode)  # type: ignore[arg-type]
    return {"data": ctx.ws.entry_shape(lst, item)}


@endpoint
def patch_entry(ctx: Ctx) -> Any:
    return _update_entry(ctx, "patch")


@endpoint
def put_entry(ctx: Ctx) -> Any:
    return _update_entry(ctx, "put")


@endpoint
def delete_entry(ctx: Ctx) -> Any:
    lst = ctx.ws.get_list(ctx.path("list"))
    ctx.writer().delete(lst, ctx.ws.get_entry(lst, ctx.path("entry_id")))
    return {}


@endpoint
def query_entries(ctx: Ctx) -> Any:
    lst = ctx.ws.get_list(ctx.path("list"))
    return {"data": [ctx.ws.entry_shape(lst, it) for it in _query(ctx, lst)]}


RECORDS = "/v2/objects/{object}/records"
ENTRIES = "/v2/lists/{list}/entries"
ROUTES = [
    Route(RECORDS, create_record, methods=["POST"]),
    Route(RECORDS, assert_record, methods=["PUT"]),
    Route(RECORDS + "/query", query_records, methods=["POST"]),
    Route(RECORDS + "/{record_id}", get_record, methods=["GET"]),
    Route(RECORDS + "/{record_id}", patch_record, methods=["PATCH"]),
    Route(RECORDS + "/{record_id}", put_record, methods=["PUT"]),
    Route(RECORDS + "/{record_id}", delete_record, methods=["DELETE"]),
    Route(RECORDS + "/{record_id}/entries", record_entries, methods=["GET"]),
    Route(ENTRIES, create_entry, methods=["POST"]),
    Route(ENTRIES, assert_entry, methods=["PUT"]),
    Route(ENTRIES + "/query", query_entries, methods=["POST"]),
    Route(ENTRIES + "/{entry_id}", get_entry, methods=["GET"]),
    Route(ENTRIES + "/{entry_id}", patch_entry, methods=["PATCH"]),
    Route(ENTRIES + "/{entry_id}", put_entry, methods=["PUT"]),
    Route(ENTRIES + "/{entry_id}", delete_entry, methods=["DELETE"]),
]
