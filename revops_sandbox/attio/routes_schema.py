"""Discovery and schema routes: objects and attributes (and the shapes the list routes share)."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Route

from revops_sandbox.attio.errors import ApiError, custom, not_found, validation
from revops_sandbox.attio.http import Ctx, endpoint
from revops_sandbox.attio.schema import (
    ATTRIBUTE_TYPES,
    Attribute,
    Container,
    ListDef,
    ObjectDef,
    SelectOption,
    new_attribute,
)
from revops_sandbox.attio.state import Workspace

SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
CREATABLE_TYPES = tuple(t for t in ATTRIBUTE_TYPES if t not in ("interaction", "personal-name"))
MULTISELECT_TYPES = {
    "select",
    "record-reference",
    "email-address",
    "domain",
    "phone-number",
    "actor-reference",
}


def object_shape(ws: Workspace, o: ObjectDef) -> dict[str, Any]:
    return {
        "id": {"workspace_id": ws.workspace_id, "object_id": o.id},
        "api_slug": o.api_slug,
        "singular_noun": o.singular_noun,
        "plural_noun": o.plural_noun,
        "created_at": o.created_at,
    }


def list_shape(ws: Workspace, x: ListDef) -> dict[str, Any]:
    return {
        "id": {"workspace_id": ws.workspace_id, "list_id": x.id},
        "api_slug": x.api_slug,
        "name": x.name,
        "parent_object": [x.parent_object],
        "workspace_access": x.workspace_access,
        "workspace_member_access": x.workspace_member_access,
        "created_by_actor": x.created_by_actor,
        "created_at": x.created_at,
    }


def attribute_shape(ws: Workspace, a: Attribute) -> dict[str, Any]:
    relationship = None
    other = ws.attribute_by_id(a.relationship_id) if a.relationship_id else None
    if other is not None:
        relationship = {
            "id": {
                "workspace_id": ws.workspace_id,
                "object_id": other.parent_id,
                "attribute_id": other.id,
            },
            "object_slug": ws.container(other.parent_id).api_slug,
            "title": other.title,
            "api_slug": other.api_slug,
            "is_multiselect": other.is_multiselect,
        }
    return {
        "id": {"workspace_id": ws.workspace_id, "object_id": a.parent_id, "attribute_id": a.id},
        "title": a.title,
        "description": a.description,
        "api_slug": a.api_slug,
        "type": a.type,
        "is_system_attribute": a.is_system,
        "is_writable": a.is_writable,
        "is_required": a.is_required,
        "is_unique": a.is_unique,
        "is_multiselect": a.is_multiselect,
        "is_default_value_enabled": False,
        "is_archived": a.is_archived,
        "default_value": None,
        "relationship": relationship,
        "created_at": a.created_at,
        "config": {
            "currency": {"default_currency_code": a.currency_code, "display_type": a.display_type},
            "record_reference": {"allowed_object_ids": a.allowed_object_ids},
        },
    }


def option_shape(ws: Workspace, a: Attribute, o: SelectOption) -> dict[str, Any]:
    return {
        "id": {
            "workspace_id": ws.workspace_id,
            "object_id": a.parent_id,
            "attribute_id": a.id,
            "option_id": o.id,
        },
        "title": o.title,
        "is_archived": o.is_archived,
    }


def _target(ctx: Ctx) -> Container:
    target, ident = ctx.path("target"), ctx.path("identifier")
    if target == "objects":
        return ctx.ws.get_object(ident)
    if target == "lists":
        return ctx.ws.get_list(ident)
    raise not_found(f'Could not find endpoint "{ctx.request.method} {ctx.request.url.path}".')


def attribute_from_path(ctx: Ctx) -> tuple[Container, Attribute]:
    c = _target(ctx)
    a = c.attribute(ctx.path("attribute"))
    if a is None:
        raise not_found(f'Could not find attribute with slug/ID "{ctx.path("attribute")}".')
    return c, a


@endpoint
def list_objects(ctx: Ctx) -> Any:
    return {"data": [object_shape(ctx.ws, o) for o in ctx.ws.objects.values()]}


@endpoint
def get_object(ctx: Ctx) -> Any:
    return {"data": object_shape(ctx.ws, ctx.ws.get_object(ctx.path("object")))}


@endpoint
def list_attributes(ctx: Ctx) -> Any:
    c = _target(ctx)
    limit, offset = ctx.paging(default=10**9)
    archived = ctx.query("show_archived") == "true"
    attrs = [a for a in c.attributes.values() if archived or not a.is_archived]
    return {"data": [attribute_shape(ctx.ws, a) for a in attrs[offset : offset + limit]]}


@endpoint
def get_attribute(ctx: Ctx) -> Any:
    return {"data": attribute_shape(ctx.ws, attribute_from_path(ctx)[1])}


@endpoint
def create_attribute(ctx: Ctx) -> Any:
    c = _target(ctx)
    data = ctx.data(
        {
            "title": "string",
            "description": "string | null",
            "api_slug": "string",
            "type": "string",
            "is_required": "boolean",
            "is_unique": "boolean",
            "is_multiselect": "boolean",
            "config": "object",
        },
        {"default_value": "any", "relationship": "any"},
    )
    slug, type_ = data["api_slug"], data["type"]
    problems = []
    if not SLUG.match(slug):
        problems.append(custom(["data", "api_slug"], "api_slug must be snake_case."))
    if type_ not in CREATABLE_TYPES:
        problems.append(custom(["data", "type"], f"Invalid enum value, received '{type_}'"))
    elif type_ == "status" and isinstance(c, ObjectDef):
        problems.append(custom(["data", "type"], "Status attributes cannot be created on objects."))
    if data["is_multiselect"] and type_ not in MULTISELECT_TYPES:
        problems.append(custom(["data", "is_multiselect"], f"{type_} cannot be multiselect."))
    if data["is_unique"] and (
        type_ in ("select", "status") or c.api_slug in ("companies", "people")
    ):
        # Documented for companies; UNCONFIRMED for people, refused there too (the strict choice).
        problems.append(custom(["data", "is_unique"], "Unique attributes cannot be created here."))
    if data.get("default_value") is not None:
        problems.append(custom(["data", "default_value"], "Default values are not supported."))
    if problems:
        raise validation(problems)
    if c.attribute(slug) is not None:
        raise ApiError(409, "slug_conflict", f'An attribute with slug "{slug}" already exists.')
    config = data["config"]
    currency = config.get("currency") or {}
    allowed = None
    if type_ == "record-reference":
        wanted = (config.get("record_reference") or {}).get("allowed_objects") or []
        allowed = [ctx.ws.get_object(w).id for w in wanted] or None
    a = new_attribute(
        c,
        ctx.ws.ids,
        ctx.ws.clock,
        api_slug=slug,
        title=data["title"],
        type=type_,
        description=data["description"],
        is_required=data["is_required"],
        is_unique=data["is_unique"],
        is_multiselect=data["is_multiselect"],
        currency_code=currency.get("default_currency_code") if type_ == "currency" else None,
        display_type=currency.get("display_type") if type_ == "currency" else None,
        allowed_object_ids=allowed,
    )
    rel = data.get("relationship")
    if rel:
        if type_ != "record-reference" or not isinstance(rel, dict):
            raise validation([custom(["data", "relationship"], "Invalid relationship.")])
        other = ctx.ws.get_object(str(rel.get("object")))
        inverse = new_attribute(
            other,
            ctx.ws.ids,
            ctx.ws.clock,
            api_slug=str(rel.get("api_slug")),
            title=str(rel.get("title")),
            type="record-reference",
            is_multiselect=bool(rel.get("is_multiselect")),
            allowed_object_ids=[c.id],
        )
        a.relationship_id, inverse.relationship_id = inverse.id, a.id
        a.allowed_object_ids = [other.id]
    return {"data": attribute_shape(ctx.ws, a)}


ATTRS = "/v2/{target}/{identifier}/attributes"
ROUTES = [
    Route("/v2/objects", list_objects, methods=["GET"]),
    Route("/v2/objects/{object}", get_object, methods=["GET"]),
    Route(ATTRS, list_attributes, methods=["GET"]),
    Route(ATTRS, create_attribute, methods=["POST"]),
    Route(ATTRS + "/{attribute}", get_attribute, methods=["GET"]),
]
