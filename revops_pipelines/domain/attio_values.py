"""Reading Attio's record shape: every attribute is an array of value objects."""

from __future__ import annotations

from typing import Any

Record = dict[str, Any]


def record_id(record: Record) -> str:
    return str(record["id"]["record_id"])


def active_values(record: Record, attribute: str) -> list[dict[str, Any]]:
    """The attribute's current values (historic ones carry an `active_until`)."""
    values = record.get("values", {}).get(attribute) or []
    return [v for v in values if v.get("active_until") is None]


def first_value(record: Record, attribute: str, field: str = "value") -> Any:
    """`field` of the attribute's first current value, or None."""
    values = active_values(record, attribute)
    return values[0].get(field) if values else None


def all_values(record: Record, attribute: str, field: str) -> list[Any]:
    return [v.get(field) for v in active_values(record, attribute)]


def select_title(record: Record, attribute: str) -> str | None:
    option = first_value(record, attribute, "option")
    return option.get("title") if option else None
