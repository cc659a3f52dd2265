"""Attio's error bodies, ids and timestamps, shared by every part of the sandbox."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

INVALID = "invalid_request_error"


class ApiError(Exception):
    """An Attio error answer: `{"status_code","type","code","message"}` (+ `validation_errors`)."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        type_: str = INVALID,
        validation_errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.type = type_
        self.validation_errors = validation_errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status_code": self.status_code,
            "type": self.type,
            "code": self.code,
            "message": self.message,
        }
        if self.validation_errors is not None:
            out["validation_errors"] = self.validation_errors
        return out


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def value_not_found(message: str) -> ApiError:
    return ApiError(400, "value_not_found", message)


def validation(
    errors: list[dict[str, Any]], message: str = "Body payload validation error."
) -> ApiError:
    return ApiError(400, "validation_type", message, validation_errors=errors)


def required(path: list[str | int], expected: str) -> dict[str, Any]:
    """The zod-style entry Attio sends for a missing key (observed on the wire)."""
    return {
        "code": "invalid_type",
        "path": path,
        "message": "Required",
        "expected": expected,
        "received": "undefined",
    }


def wrong_type(path: list[str | int], expected: str, value: Any) -> dict[str, Any]:
    received = type_name(value)
    return {
        "code": "invalid_type",
        "path": path,
        "message": f"Expected {expected}, received {received}",
        "expected": expected,
        "received": received,
    }


def custom(path: list[str | int], message: str) -> dict[str, Any]:
    return {"code": "custom", "path": path, "message": message}


def unrecognized(path: list[str | int], keys: list[str]) -> dict[str, Any]:
    quoted = ", ".join(f"'{k}'" for k in keys)
    return {
        "code": "unrecognized_keys",
        "keys": keys,
        "path": path,
        "message": f"Unrecognized key(s) in object: {quoted}",
    }


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class IdSource:
    """UUIDs from a seeded generator (`None` seeds from the OS)."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def new(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


class Clock:
    """Nanosecond-format timestamps that never repeat, so creation order is also sort order."""

    def __init__(self) -> None:
        self._last_us = 0

    def now_us(self) -> int:
        us = time.time_ns() // 1000
        self._last_us = max(us, self._last_us + 1)
        return self._last_us

    def now(self) -> str:
        return format_us(self.now_us())


def format_us(us: int) -> str:
    """Attio prints nine fractional digits; its own values carry microseconds padded with 000."""
    dt = datetime.fromtimestamp(us // 1_000_000, tz=UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{us % 1_000_000:06d}000Z"


def format_dt(dt: datetime, nanos: int | None = None) -> str:
    dt = dt.astimezone(UTC)
    frac = nanos if nanos is not None else dt.microsecond * 1000
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{frac:09d}Z"
