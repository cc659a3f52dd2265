"""Building SOQL text: datetime literals, string literals, identifiers and `[start, end)` windows.

Pure functions, no I/O. SOQL datetime literals are unquoted ISO 8601 with a zone designator
(`2026-11-20T00:00:00Z`); Salesforce renders datetimes in responses as
`2026-11-20T08:00:00.000+0000`. Salesforce stores datetimes to the second (the API always shows
`.000`), so a bound with a fractional second is rounded *up* to the next whole second: for any
second-precision value `x`, `x >= t` is the same test as `x >= ceil(t)` and `x < t` the same as
`x < ceil(t)`. That keeps every literal in the documented form and windows exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
# Responses: 2026-11-20T08:00:00.000+0000 (also accepts Z and +00:00 forms).
_RESPONSE_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:?\d{2})$"
)
_STRING_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def _require_aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value.isoformat()} has no time zone; pass an aware datetime")
    return value.astimezone(UTC)


def ceil_to_second(value: datetime) -> datetime:
    """`value` in UTC, rounded up to a whole second."""
    value = _require_aware(value, "datetime")
    if value.microsecond:
        value = value.replace(microsecond=0) + timedelta(seconds=1)
    return value


def soql_datetime(value: datetime) -> str:
    """A SOQL datetime literal in UTC: `2026-11-20T00:00:00Z` (fractions rounded up)."""
    return ceil_to_second(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_salesforce_datetime(value: datetime) -> str:
    """A datetime as Salesforce renders it in REST responses: `2026-11-20T08:00:00.000+0000`."""
    value = _require_aware(value, "datetime")
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_salesforce_datetime(text: str) -> datetime:
    """Parse a datetime as Salesforce returns it (REST `...000+0000` or Bulk `...000Z`), in UTC."""
    match = _RESPONSE_DATETIME.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a Salesforce datetime: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0").ljust(6, "0"))
    if zone == "Z":
        offset = timedelta(0)
    else:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    naive = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    return (naive - offset).replace(tzinfo=UTC)


def soql_identifier(name: str) -> str:
    """`name` if it is a valid SOQL field or object name, else ValueError naming it."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"not a valid SOQL field or object name: {name!r}")
    return name


def soql_string(value: str) -> str:
    """A quoted SOQL string literal with Salesforce's backslash escapes."""
    return "'" + "".join(_STRING_ESCAPES.get(ch, ch) for ch in value) + "'"


def window_clause(field: str, start: datetime, end: datetime) -> str:
    """`field >= start AND field < end`, a half-open window that never repeats or skips a row."""
    soql_identifier(field)
    lower, upper = ceil_to_second(start), ceil_to_second(end)
    if lower >= upper:
        raise ValueError(
            f"empty window on {field}: start {start.isoformat()} is not before "
            f"end {end.isoformat()}"
        )
    return f"{field} >= {soql_datetime(lower)} AND {field} < {soql_datetime(upper)}"


def _dedupe(fields: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for name in fields:
        soql_identifier(name)
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def select_query(
    sobject: str,
    fields: Sequence[str],
    *,
    where: str | None = None,
    order_by: Sequence[str] = (),
    limit: int | None = None,
) -> str:
    """`SELECT f1, f2 FROM sobject [WHERE ...] [ORDER BY ...] [LIMIT n]` (fields de-duplicated)."""
    names = _dedupe(fields)
    if not names:
        raise ValueError("a SOQL query needs at least one field")
    parts = [f"SELECT {', '.join(names)} FROM {soql_identifier(sobject)}"]
    if where:
        parts.append(f"WHERE {where}")
    if order_by:
        parts.append("ORDER BY " + ", ".join(_order_term(term) for term in order_by))
    if limit is not None:
        if limit < 0:
            raise ValueError(f"LIMIT must not be negative, got {limit}")
        parts.append(f"LIMIT {int(limit)}")
    return " ".join(parts)


def _order_term(term: str) -> str:
    name, _, direction = term.partition(" ")
    soql_identifier(name)
    if direction and direction.upper() not in {"ASC", "DESC"}:
        raise ValueError(f"ORDER BY direction must be ASC or DESC, got {direction!r}")
    return f"{name} {direction.upper()}".strip()


def count_query(sobject: str, *, where: str | None = None) -> str:
    """`SELECT count() FROM sobject [WHERE ...]`; the answer is the response's `totalSize`."""
    query = f"SELECT count() FROM {soql_identifier(sobject)}"
    return f"{query} WHERE {where}" if where else query


def window_query(
    sobject: str,
    fields: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    cursor: str = "SystemModstamp",
) -> str:
    """The incremental extract: `fields` (plus Id and the cursor) in `[start, end)` on `cursor`,
    ordered by the cursor then Id so that pages are stable and ties are broken the same way."""
    names = _dedupe(["Id", *fields, cursor])
    return select_query(
        sobject, names, where=window_clause(cursor, start, end), order_by=(cursor, "Id")
    )
