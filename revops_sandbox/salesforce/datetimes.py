"""Salesforce's datetime wire format, as the stand-in writes and reads it.

Responses render datetimes as `2013-05-07T22:07:19.000+0000`: UTC, milliseconds, and an offset
without a colon (Get Deleted example in Salesforce's REST docs; shared/reference
salesforce-and-sources.md §2.2). Written here from that description, on purpose apart from the
product's own formatter, so that a misreading on either side shows up as a failing test.
"""

from __future__ import annotations

from datetime import UTC, datetime


def salesforce_datetime(value: datetime) -> str:
    """`value` (aware) as Salesforce renders it in a response: `2026-11-20T08:00:00.000+0000`."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} has no time zone; Salesforce datetimes are absolute")
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def parse_salesforce_datetime(text: str) -> datetime:
    """A response-style datetime (`...000+0000`, `...000Z` as Bulk CSV has it, or `+00:00`), in UTC.

    Python 3.11's `fromisoformat` reads all three; a value without an offset is refused, since
    Salesforce always sends one.
    """
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        raise ValueError(f"not a Salesforce datetime (no offset): {text!r}")
    return parsed.astimezone(UTC)
