"""Refusing chosen records for good: a write that names a chosen value (an email address, a
domain, a record id) is answered with Attio's validation error, every time, until cleared.

A write "names" the value when a string of its JSON body, or a segment of its path, equals it
(ignoring case): `{"email_addresses": ["maria@northwind.io"]}`, `{"domains": ["northwind.io"]}`,
`/v2/objects/people/records/<id>`, a note's `parent_record_id`. Reads are never refused.

The answer keeps Attio's four-key error shape with `validation_errors[]` (reference §5.2):

    {"status_code": 400, "type": "invalid_request_error", "code": "validation_type",
     "message": "An invalid value was passed to attribute with slug \"email_addresses\".",
     "validation_errors": [{"code": "custom", "path": ["data", "values", "email_addresses", 0],
                            "message": "Invalid value \"maria@northwind.io\"."}]}

(`message` names the attribute when the value sits under `data.values.<slug>`, else Attio's
generic "Body payload validation error."). A rule may set its own `code` (any 400 code of the
reference, §5.3) and `message` (the validation entry's).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from revops_sandbox.attio.errors import ApiError

# The 400 codes of the reference (§5.3) a refusal may carry.
CODES = frozenset(
    {
        "validation_type",
        "value_not_found",
        "missing_value",
        "immutable_value",
        "uniqueness_conflict",
        "system_edit_unauthorized",
    }
)
Path = list[str | int]


@dataclass(frozen=True)
class Refusal:
    value: str  # lowercased
    code: str = "validation_type"
    message: str | None = None  # the validation entry's message; default quotes the value

    def error(self, found_at: Path, original: str) -> ApiError:
        entry = {
            "code": "custom",
            "path": found_at,
            "message": self.message or f'Invalid value "{original}".',
        }
        slug = _attribute_slug(found_at)
        top = (
            f'An invalid value was passed to attribute with slug "{slug}".'
            if slug
            else "Body payload validation error."
        )
        if self.code == "validation_type":
            return ApiError(400, self.code, top, validation_errors=[entry])
        return ApiError(400, self.code, str(entry["message"]))


def parse_refusals(spec: Any) -> list[Refusal]:
    """`[{"value": "maria@northwind.io", "code"?: "...", "message"?: "..."}, ...]` (a bare
    string is `{"value": ...}`)."""
    if not isinstance(spec, list):
        raise ValueError("refuse must be a list of values or {value, code, message} objects")
    out = []
    for entry in spec:
        rule = {"value": entry} if isinstance(entry, str) else entry
        if not isinstance(rule, dict) or set(rule) - {"value", "code", "message"}:
            raise ValueError(f"a refusal is a value or {{value, code, message}}, not {entry!r}")
        value, code = rule.get("value"), rule.get("code", "validation_type")
        if not isinstance(value, str) or not value.strip():
            raise ValueError("a refusal needs a non-empty string value")
        if code not in CODES:
            raise ValueError(f"unknown refusal code {code!r}; use one of {sorted(CODES)}")
        message = rule.get("message")
        if message is not None and not isinstance(message, str):
            raise ValueError("a refusal's message must be a string")
        out.append(Refusal(value.strip().lower(), code, message))
    return out


def refusal_for(refusals: list[Refusal], path: str, body: bytes) -> ApiError | None:
    """Attio's answer for the first refusal this write names, or None."""
    if not refusals:
        return None
    segments = [s.lower() for s in path.split("/") if s]
    strings = list(_strings(_json(body), []))
    for rule in refusals:
        if rule.value in segments:
            return rule.error([], rule.value)
        for at, text in strings:
            if text.lower() == rule.value:
                return rule.error(at, text)
    return None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else None
    except ValueError:
        return None  # the route answers a malformed body with its own error


def _strings(value: Any, at: Path) -> Any:
    if isinstance(value, str):
        yield at, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, [*at, str(key)])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, [*at, i])


_VALUES = re.compile(r"^(data)\.(values|entry_values)\.([^.]+)")


def _attribute_slug(at: Path) -> str | None:
    match = _VALUES.match(".".join(str(p) for p in at))
    return match.group(3) if match else None
