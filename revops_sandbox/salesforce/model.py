"""Small pieces of the sandbox's state: injected faults, query cursors, and record rendering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from revops_sandbox.salesforce.datetimes import parse_salesforce_datetime, salesforce_datetime
from revops_sandbox.salesforce.errors import SalesforceApiError


@dataclass
class Fault:
    """One injected failure, served to the next `count` matching requests."""

    status: int | None = 503
    error_code: str | None = None
    message: str | None = None
    drop: str | None = None  # "before": reset without answering; "after": do it, then reset
    path: str | None = None  # substring of the request path; None matches every API path
    method: str | None = None
    count: int = 1
    retry_after: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path is None or self.path in path
        )


@dataclass
class Cursor:
    records: list[dict[str, Any]]
    endpoint: str
    batch: int
    version: str


def floor_second(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def json_value(value: Any) -> Any:
    return salesforce_datetime(value) if isinstance(value, datetime) else value


def render_record(row: dict[str, Any], fields: tuple[str, ...], version: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "attributes": {
            "type": "Account",
            "url": f"/services/data/v{version}/sobjects/Account/{row['Id']}",
        }
    }
    for name in fields:
        record[name] = json_value(row.get(name))
    return record


def parse_any_datetime(value: Any) -> datetime:
    """Admin writes accept Salesforce's `...000+0000`, ISO 8601 with an offset, or `Z`."""
    if isinstance(value, str):
        try:
            return floor_second(parse_salesforce_datetime(value))
        except ValueError:
            pass
    raise SalesforceApiError(400, "INVALID_FIELD", f"not a datetime with a time zone: {value!r}")
