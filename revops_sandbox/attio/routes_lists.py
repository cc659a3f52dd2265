"""Select options, statuses, lists and workspace members."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from revops_sandbox.attio.errors import ApiError, custom, not_found, validation
from revops_sandbox.attio.http import Ctx, endpoint
from revops_sandbox.attio.routes_schema import (
    ATTRS,
    SLUG,
    attribute_from_path,
    list_shape,
    option_shape,
)
from revops_sandbox.attio.schema import ListDef, SelectOption, Status, new_attribute
from revops_sandbox.attio.values import status_shape

ACCESS = ("full-access", "read-and-write", "read-only")


@endpoint
def list_options(ctx: Ctx) -> Any:
    _, a = attribute_from_path(ctx)
    if a.type != "select":
        raise not_found(f'Could not find select attribute with slug/ID "{a.api_slug}".')
    archived = ctx.query("show_archived") == "true"
    shown = [o for o in a.options if archived or not o.is_archived]
    return {"data": [option_shape(ctx.ws, a, o) for o in shown]}


@endpoint
def create_option(ctx: Ctx) -> Any:
    _, a = attribute_from_path(ctx)
    if a.type != "select":
        raise not_found(f'Could not find select attribute with slug/ID "{a.api_slug}".')
    title = ctx.data({"title": "string"})["title"]
    if any(o.title == title for o in a.options):
        raise ApiError(
            409, "slug_conflict", f'A select option with title "{title}" already exists.'
        )
    option = SelectOption(ctx.ws.ids.new(), title)
    a.options.append(option)
    return {"data": option_shape(ctx.ws, a, option)}


@endpoint
def list_statuses(ctx: Ctx) -> Any:
    _, a = attribute_from_path(ctx)
    if a.type != "status":
        raise not_found(f'Could not find status attribute with slug/ID "{a.api_slug}".')
    archived = ctx.query("show_archived") == "true"
    shown = [s for s in a.statuses if archived or not s.is_archived]
    return {"data": [status_shape(a, s, ctx.ws.workspace_id) for s in shown]}


@endpoint
def create_status(ctx: Ctx) -> Any:
    _, a = attribute_from_path(ctx)
    if a.type != "status":
        raise not_found(f'Could not find status attribute with slug/ID "{a.api_slug}".')
    data = ctx.data(
        {"title": "string"}, {"celebration_enabled": "boolean", "target_time_in_status": "any"}
    )
    if any(s.title == data["title"] for s in a.statuses):
        raise ApiError(
            409, "slug_conflict", f'A status with title "{data["title"]}" already exists.'
        )
    st = Status(
        ctx.ws.ids.new(),
        data["title"],
        False,
        bool(data.get("celebration_enabled")),
        data.get("target_time_in_status"),
    )
    a.statuses.append(st)
    return {"data": status_shape(a, st, ctx.ws.workspace_id)}


@endpoint
def list_lists(ctx: Ctx) -> Any:
    return {"data": [list_shape(ctx.ws, x) for x in ctx.ws.lists.values()]}


@endpoint
def get_list(ctx: Ctx) -> Any:
    return {"data": list_shape(ctx.ws, ctx.ws.get_list(ctx.path("list")))}


@endpoint
def create_list(ctx: Ctx) -> Any:
    data = ctx.data(
        {
            "name": "string",
            "api_slug": "string",
            "parent_object": "string",
            "workspace_access": "string | null",
            "workspace_member_access": "array",
        }
    )
    problems = []
    if not SLUG.match(data["api_slug"]):
        problems.append(custom(["data", "api_slug"], "api_slug must be snake_case."))
    if data["workspace_access"] not in (*ACCESS, None):
        problems.append(custom(["data", "workspace_access"], "Invalid enum value."))
    if problems:
        raise validation(problems)
    parent = ctx.ws.get_object(data["parent_object"])
    if ctx.ws.list_by(data["api_slug"]) is not None:
        raise ApiError(
            409, "slug_conflict", f'A list with slug "{data["api_slug"]}" already exists.'
        )
    ws = ctx.ws
    lst = ListDef(
        ws.ids.new(),
        data["api_slug"],
        ws.clock.now(),
        name=data["name"],
        parent_object=parent.api_slug,
        workspace_access=data["workspace_access"],
        workspace_member_access=data["workspace_member_access"],
        created_by_actor={"type": "api-token", "id": ctx.token_id},
    )
    for slug, title, type_ in (
        ("entry_id", "Entry ID", "text"),
        ("created_at", "Created at", "timestamp"),
        ("created_by", "Created by", "actor-reference"),
    ):
        new_attribute(
            lst,
            ws.ids,
            ws.clock,
            api_slug=slug,
            title=title,
            type=type_,
            is_system=True,
            is_writable=False,
            is_unique=slug == "entry_id",
        )
    ws.lists[lst.id] = lst
    ws.items[lst.id] = {}
    return {"data": list_shape(ws, lst)}


@endpoint
def list_members(ctx: Ctx) -> Any:
    return {"data": [ctx.ws.member_shape(m) for m in ctx.ws.members.values()]}


@endpoint
def get_member(ctx: Ctx) -> Any:
    m = ctx.ws.members.get(ctx.path("member"))
    if m is None:
        raise not_found(f'Workspace member with ID "{ctx.path("member")}" not found.')
    return {"data": ctx.ws.member_shape(m)}


ROUTES = [
    Route(ATTRS + "/{attribute}/options", list_options, methods=["GET"]),
    Route(ATTRS + "/{attribute}/options", create_option, methods=["POST"]),
    Route(ATTRS + "/{attribute}/statuses", list_statuses, methods=["GET"]),
    Route(ATTRS + "/{attribute}/statuses", create_status, methods=["POST"]),
    Route("/v2/lists", list_lists, methods=["GET"]),
    Route("/v2/lists", create_list, methods=["POST"]),
    Route("/v2/lists/{list}", get_list, methods=["GET"]),
    Route("/v2/workspace_members", list_members, methods=["GET"]),
    Route("/v2/workspace_members/{member}", get_member, methods=["GET"]),
]
