"""How each attribute type accepts a written value: the forms it takes, what it refuses, and
the payload it stores (for a select, only the option id)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from revops_sandbox.attio import addresses as addr
from revops_sandbox.attio.errors import (
    custom,
    required,
    unrecognized,
    value_not_found,
    wrong_type,
)
from revops_sandbox.attio.schema import Attribute, Member, ObjectDef

Payload = dict[str, Any]
LOCATION_KEYS = (
    "line_1",
    "line_2",
    "line_3",
    "line_4",
    "locality",
    "region",
    "postcode",
    "country_code",
    "latitude",
    "longitude",
)
_LAT = re.compile(r"^[-+]?([1-8]?\d(\.\d+)?|90(\.0+)?)$")
_LNG = re.compile(r"^[-+]?(180(\.0+)?|((1[0-7]\d)|([1-9]?\d))(\.\d+)?)$")


class Lookup(Protocol):
    """What normalizing a reference needs from the workspace."""

    workspace_id: str

    def object_by(self, slug_or_id: str) -> ObjectDef | None: ...

    def record_exists(self, object_id: str, record_id: str) -> bool: ...

    def match_unique(self, obj: ObjectDef, attr: Attribute, payload: Payload) -> str | None: ...

    def member_by(self, id_or_email: str) -> Member | None: ...


class Invalid(Exception):
    """Validation errors with paths relative to the value, as Attio reports them."""

    def __init__(self, *errors: dict[str, Any]) -> None:
        super().__init__(errors)
        self.errors = list(errors)


def identity(attr: Attribute, payload: Payload) -> str:
    """The key that makes two values "the same" (case-insensitive for emails and domains)."""
    t = attr.type
    if t == "email-address":
        return payload["email_address"]
    if t == "domain":
        return payload["domain"]
    if t == "record-reference":
        return f"{payload['target_object']}:{payload['target_record_id']}"
    if t == "actor-reference":
        return f"{payload['referenced_actor_type']}:{payload['referenced_actor_id']}"
    if t == "phone-number":
        return payload["phone_number"]
    if t == "select":
        return payload["option"]
    if t == "status":
        return payload["status"]
    return json.dumps(payload, sort_keys=True)


def unique_key(attr: Attribute, payload: Payload) -> str:
    """The JSON Attio quotes in a uniqueness_conflict message, e.g. {"domain":"acme.com"}."""
    if attr.type == "email-address":
        shown: Payload = {"email_address": payload["email_address"]}
    elif attr.type == "domain":
        shown = {"domain": payload["domain"]}
    else:
        shown = {"value": payload.get("value", identity(attr, payload))}
    return json.dumps(shown, separators=(",", ":"))


def unwrap(item: Any, key: str, allowed: tuple[str, ...] = ()) -> Any:
    """A scalar, or the `key` of an object form such as {"value": ...}."""
    if isinstance(item, dict):
        extra = sorted(set(item) - {key, *allowed})
        if extra:
            raise Invalid(unrecognized([], extra))
        if key not in item:
            raise Invalid(required([key], "value"))
        return item[key]
    return item


def text(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    v = unwrap(item, "value")
    if not isinstance(v, str):
        raise Invalid(wrong_type(["value"], "string", v))
    return {"value": v}


def number(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    v = unwrap(item, "value")
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise Invalid(wrong_type(["value"], "number", v))
    if attr.type == "rating" and (v not in range(6)):
        raise Invalid(custom(["value"], "Rating must be an integer between 0 and 5."))
    return {"value": v}


def checkbox(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    v = unwrap(item, "value")
    if v in ("true", "false"):
        v = v == "true"
    if not isinstance(v, bool):
        raise Invalid(wrong_type(["value"], "boolean", v))
    return {"value": v}


def currency(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    # The code is a property of the attribute and cannot be written, so it is refused here.
    v = unwrap(item, "currency_value")
    if isinstance(v, str):
        try:
            v = float(Decimal(v.strip()))
        except InvalidOperation:
            raise Invalid(wrong_type(["currency_value"], "number", v)) from None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise Invalid(wrong_type(["currency_value"], "number", v))
    exponent = Decimal(repr(v)).normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        raise Invalid(custom(["currency_value"], "A maximum of 4 decimal places is allowed."))
    return {"currency_value": v, "currency_code": attr.currency_code}


def dated(
    fn: Callable[[str], str | None], what: str
) -> Callable[[Attribute, Any, Lookup], Payload]:
    def normalize_one(attr: Attribute, item: Any, ws: Lookup) -> Payload:
        v = unwrap(item, "value")
        out = fn(v) if isinstance(v, str) else None
        if out is None:
            raise Invalid(custom(["value"], f"Invalid {what} value."))
        return {"value": out}

    return normalize_one


def email(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    v = unwrap(item, "email_address")
    if not isinstance(v, str):
        raise Invalid(wrong_type(["email_address"], "string", v))
    parsed = addr.parse_email(v)
    if parsed is None:
        raise Invalid(
            {
                "code": "invalid_string",
                "validation": "email",
                "path": ["email_address"],
                "message": "Invalid email",
            }
        )
    return dict(parsed)


def domain(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    v = unwrap(item, "domain")
    host = addr.parse_domain(v) if isinstance(v, str) else None
    if host is None:
        raise Invalid(custom(["domain"], f"Invalid domain {v!r}."))
    return {"domain": host, "root_domain": addr.root_domain(host)}


def personal_name(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    keys = ("first_name", "last_name", "full_name")
    if isinstance(item, str):
        last, sep, first = item.partition(",")
        if not sep:  # "text without a comma is taken as the first name only"
            return {"first_name": item.strip(), "last_name": "", "full_name": item.strip()}
        first, last = first.strip(), last.strip()
        return {"first_name": first, "last_name": last, "full_name": f"{first} {last}".strip()}
    if not isinstance(item, dict):
        raise Invalid(wrong_type([], "object", item))
    errors = [required([k], "string") for k in keys if k not in item]
    errors += [
        wrong_type([k], "string", item[k])
        for k in keys
        if k in item and not isinstance(item[k], str)
    ]
    extra = sorted(set(item) - set(keys))
    if extra:
        errors.append(unrecognized([], extra))
    if errors:
        raise Invalid(*errors)
    return {k: item[k] for k in keys}


def select(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    v = unwrap(item, "option")
    if not isinstance(v, str):
        raise Invalid(wrong_type(["option"], "string", v))
    live = [o for o in attr.options if not o.is_archived]
    found = next((o for o in live if o.id == v), None) or next(
        (o for o in live if o.title == v), None
    )
    if found is None:
        raise value_not_found(f'Cannot find select attribute with select option title "{v}".')
    return {"option": found.id}


def status(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    v = unwrap(item, "status")
    if not isinstance(v, str):
        raise Invalid(wrong_type(["status"], "string", v))
    live = [s for s in attr.statuses if not s.is_archived]
    found = next((s for s in live if s.id == v), None) or next(
        (s for s in live if s.title == v), None
    )
    if found is None:
        # UNCONFIRMED wording; mirrors the observed select message.
        raise value_not_found(f'Cannot find status attribute with status title "{v}".')
    return {"status": found.id}


def location(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    # Strict: the docs also show a free-text address string, whose parsing is unspecified.
    if not isinstance(item, dict):
        raise Invalid(wrong_type([], "object", item))
    errors = [required([k], "string | null") for k in LOCATION_KEYS if k not in item]
    errors += [
        wrong_type([k], "string | null", item[k])
        for k in LOCATION_KEYS
        if k in item and item[k] is not None and not isinstance(item[k], str)
    ]
    extra = sorted(set(item) - set(LOCATION_KEYS))
    if extra:
        errors.append(unrecognized([], extra))
    cc = item.get("country_code")
    if isinstance(cc, str) and not re.fullmatch(r"[A-Z]{2}", cc):
        errors.append(custom(["country_code"], "Invalid ISO 3166-1 alpha-2 country code."))
    for key, rx in (("latitude", _LAT), ("longitude", _LNG)):
        if isinstance(item.get(key), str) and not rx.match(item[key]):
            errors.append(custom([key], f"Invalid {key}."))
    if errors:
        raise Invalid(*errors)
    return {k: item[k] for k in LOCATION_KEYS}


def phone(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    raw = unwrap(item, "original_phone_number", ("country_code",))
    cc = item.get("country_code") if isinstance(item, dict) else None
    parsed = addr.parse_phone(raw, cc) if isinstance(raw, str) else None
    if parsed is None:
        raise Invalid(custom(["original_phone_number"], "Invalid phone number."))
    return parsed


def not_writable(attr: Attribute, item: Any, ws: Lookup) -> Payload:
    raise Invalid(custom([], f'Attributes of type "{attr.type}" cannot be written.'))
