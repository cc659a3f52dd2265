"""Per-type write validation and normalization, and the read shape of every value.

A stored value is the type's payload (for a select, only the option id) plus `active_from` and
`created_by_actor`; the read shape adds `active_until: null`, `attribute_type` and, for selects and
statuses, the full option/status object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from revops_sandbox.attio import addresses as addr
from revops_sandbox.attio import value_types as T
from revops_sandbox.attio.errors import (
    ApiError,
    custom,
    required,
    unrecognized,
    validation,
    value_not_found,
    wrong_type,
)
from revops_sandbox.attio.schema import Attribute
from revops_sandbox.attio.value_types import (
    Invalid,
    Lookup,
    Payload,
    identity,
    unique_key,
)

__all__ = ["Lookup", "Payload", "identity", "normalize", "read_shape", "status_shape", "unique_key"]


def normalize(attr: Attribute, raw: Any, ws: Lookup) -> list[Payload]:
    """The payloads a write of `raw` to `attr` stores, in order and deduplicated."""
    if raw is None:
        # UNCONFIRMED whether null clears a value; the strict choice refuses it ([] clears).
        raise _invalid_for(attr, [wrong_type([], "array", raw)])
    if isinstance(raw, list):
        items = raw
        if not attr.is_multiselect and len(items) > 1:
            raise _invalid_for(attr, [custom([], "This attribute accepts a single value.")])
    elif attr.is_multiselect:
        # Observed: a bare string for `domains` fails; multiselect values must be arrays.
        raise _invalid_for(attr, [wrong_type([], "array", raw)])
    else:
        items = [raw]
    out: list[Payload] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        try:
            payload = NORMALIZERS[attr.type](attr, item, ws)
        except Invalid as exc:
            prefix: list[str | int] = [i] if isinstance(raw, list) else []
            raise _invalid_for(
                attr, [{**e, "path": prefix + list(e["path"])} for e in exc.errors]
            ) from None
        key = identity(attr, payload)
        if key not in seen:
            seen.add(key)
            out.append(payload)
    return out


def _invalid_for(attr: Attribute, errors: list[dict[str, Any]]) -> ApiError:
    return validation(
        errors, f'An invalid value was passed to attribute with slug "{attr.api_slug}".'
    )


def _record_reference(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    allowed = attr.allowed_object_ids
    if isinstance(item, str):
        if not allowed or len(allowed) != 1:
            raise Invalid(custom([], "A plain string is only accepted when one object is allowed."))
        target = ws.object_by(allowed[0])
        assert target is not None
        slug = {"companies": "domains", "people": "email_addresses"}.get(target.api_slug)
        if slug is None:
            raise Invalid(
                custom([], f'Records of "{target.api_slug}" cannot be referenced by a string.')
            )
        item = {"target_object": target.api_slug, slug: [item]}
    if not isinstance(item, dict):
        raise Invalid(wrong_type([], "object", item))
    if "target_object" not in item:
        raise Invalid(required(["target_object"], "string"))
    target = ws.object_by(str(item["target_object"]))
    if target is None:
        raise value_not_found(f'Object with slug/ID "{item["target_object"]}" not found.')
    if allowed is not None and target.id not in allowed:
        raise Invalid(
            custom(["target_object"], f'Records of "{target.api_slug}" are not allowed here.')
        )
    rest = {k: v for k, v in item.items() if k != "target_object"}
    if set(rest) == {"target_record_id"}:
        rid = rest["target_record_id"]
        if not isinstance(rid, str) or not ws.record_exists(target.id, rid):
            raise value_not_found(
                f'Referenced record with ID "{rid}" was not found in object "{target.api_slug}".'
            )
        return {"target_object": target.api_slug, "target_record_id": rid}
    if len(rest) != 1:
        raise Invalid(custom([], "Give target_record_id or exactly one matching attribute."))
    ((slug, values),) = rest.items()
    match_attr = target.attribute(slug)
    if match_attr is None or not match_attr.is_unique or match_attr.api_slug == "record_id":
        raise value_not_found(
            f'Cannot find unique attribute with slug/ID "{slug}" on "{target.api_slug}".'
        )
    if not isinstance(values, list) or len(values) != 1:
        raise Invalid(
            custom([slug], "Matching on multiple values is not supported; give one value.")
        )
    try:
        payload = NORMALIZERS[match_attr.type](match_attr, values[0], ws)
    except Invalid as exc:
        raise Invalid(*({**e, "path": [slug, 0, *e["path"]]} for e in exc.errors)) from None
    # Stricter than the 2026 target_record_reference format: no record is created on a miss.
    rid = ws.match_unique(target, match_attr, payload)
    if rid is None:
        raise value_not_found(
            f'No "{target.api_slug}" record matches {slug} = {unique_key(match_attr, payload)}.'
        )
    return {"target_object": target.api_slug, "target_record_id": rid}


def _actor_reference(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    if not isinstance(item, dict):
        raise Invalid(wrong_type([], "object", item))
    if "workspace_member_email_address" in item:
        extra = sorted(set(item) - {"workspace_member_email_address"})
        key = item["workspace_member_email_address"]
    else:
        extra = sorted(set(item) - {"referenced_actor_type", "referenced_actor_id"})
        if item.get("referenced_actor_type") != "workspace-member":
            raise Invalid(
                custom(["referenced_actor_type"], "Only workspace members can be written.")
            )
        key = item.get("referenced_actor_id")
    if extra:
        raise Invalid(unrecognized([], extra))
    member = ws.member_by(key) if isinstance(key, str) else None
    if member is None:
        raise value_not_found(f'Workspace member "{key}" was not found.')
    return {"referenced_actor_type": "workspace-member", "referenced_actor_id": member.id}


NORMALIZERS: dict[str, Callable[[Attribute, Any, Lookup], Payload]] = {
    "text": T.text,
    "number": T.number,
    "rating": T.number,
    "checkbox": T.checkbox,
    "currency": T.currency,
    "date": T.dated(addr.normalize_date, "date"),
    "timestamp": T.dated(addr.normalize_timestamp, "timestamp"),
    "email-address": T.email,
    "domain": T.domain,
    "personal-name": T.personal_name,
    "select": T.select,
    "status": T.status,
    "record-reference": _record_reference,
    "actor-reference": _actor_reference,
    "location": T.location,
    "phone-number": T.phone,
    "interaction": T.not_writable,
}


def read_shape(attr: Attribute, stored: Payload, workspace_id: str) -> Payload:
    """One value as Attio returns it: envelope first, then the type's fields."""
    body = {k: v for k, v in stored.items() if k not in ("active_from", "created_by_actor")}
    if attr.type == "select":
        opt = next(o for o in attr.options if o.id == body["option"])
        body["option"] = {
            "id": {
                "workspace_id": workspace_id,
                "object_id": attr.parent_id,
                "attribute_id": attr.id,
                "option_id": opt.id,
            },
            "title": opt.title,
            "is_archived": opt.is_archived,
        }
    elif attr.type == "status":
        st = next(s for s in attr.statuses if s.id == body["status"])
        body["status"] = status_shape(attr, st, workspace_id)
    return {
        "active_from": stored["active_from"],
        "active_until": None,
        "created_by_actor": stored["created_by_actor"],
        **body,
        "attribute_type": attr.type,
    }


def status_shape(attr: Attribute, st: Any, workspace_id: str) -> Payload:
    return {
        "id": {
            "workspace_id": workspace_id,
            "object_id": attr.parent_id,
            "attribute_id": attr.id,
            "status_id": st.id,
        },
        "title": st.title,
        "is_archived": st.is_archived,
        "target_time_in_status": st.target_time_in_status,
        "celebration_enabled": st.celebration_enabled,
    }
