"""Salesforce's error shapes: a JSON array of `{"message", "errorCode", "fields"?}` objects."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class SalesforceApiError(Exception):
    """An error the sandbox answers with, in the shape of the real API."""

    def __init__(
        self, status: int, error_code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def not_found() -> SalesforceApiError:
    return SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> SalesforceApiError:
    return SalesforceApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def limit_exceeded() -> SalesforceApiError:
    return SalesforceApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def entity_deleted() -> SalesforceApiError:
    return SalesforceApiError(404, "ENTITY_IS_DELETED", "entity is deleted")


# What an injected fault answers when the caller gave no error code of its own.
FAULT_DEFAULTS: dict[int, tuple[str, str]] = {
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: "
        "1870931290-52135 (-1155245416)",
    ),
    502: ("SERVER_UNAVAILABLE", "Bad gateway"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable; please try again later"),
    504: ("SERVER_UNAVAILABLE", "Gateway timeout"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    400: ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"),
    429: ("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
}
