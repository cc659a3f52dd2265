"""Glue between Starlette and the workspace: body parsing, payload checks, error answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from revops_sandbox.attio.errors import (
    ApiError,
    custom,
    required,
    unrecognized,
    validation,
    wrong_type,
)
from revops_sandbox.attio.writes import Writer

if TYPE_CHECKING:
    from revops_sandbox.attio.sandbox import AttioSandbox
    from revops_sandbox.attio.state import Workspace

log = logging.getLogger(__name__)
_MISSING = object()
INTERNAL_ERROR = {
    "status_code": 500,
    "type": "internal_server_error",
    "code": "internal_server_error",
    "message": "An unexpected error occurred, please try again later.",
}
TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "string | null": lambda v: v is None or isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "any": lambda v: True,
}


@dataclass
class Ctx:
    """One request, seen from inside the lock."""

    sandbox: AttioSandbox
    request: Request
    body: Any

    @property
    def ws(self) -> Workspace:
        return self.sandbox.workspace

    @property
    def token_id(self) -> str:
        return str(self.request.scope.get("attio.token_id", ""))

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    def writer(self) -> Writer:
        return Writer(
            self.ws, self.token_id, auto_company=self.sandbox.auto_create_company_from_email
        )

    def data(
        self, fields: dict[str, str], optional: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """`body["data"]` checked like Attio's zod schemas: required keys, types, no extras."""
        optional = optional or {}
        body = self.body
        if not isinstance(body, dict) or "data" not in body:
            raise validation([required(["data"], "object")])
        data = body["data"]
        if not isinstance(data, dict):
            raise validation([wrong_type(["data"], "object", data)])
        errors = []
        for key, expected in {**fields, **optional}.items():
            value = data.get(key, _MISSING)
            if value is _MISSING:
                if key in fields:
                    errors.append(required(["data", key], expected))
            elif not TYPES[expected](value):
                errors.append(wrong_type(["data", key], expected, value))
        extra = sorted(set(data) - set(fields) - set(optional))
        if extra:
            errors.append(unrecognized(["data"], extra))
        if errors:
            raise validation(errors)
        return data

    def paging(
        self, *, default: int, maximum: int | None = None, source: Any = None
    ) -> tuple[int, int]:
        """limit/offset from the JSON body (`source`) or else the query string."""
        out = []
        for name, fallback in (("limit", default), ("offset", 0)):
            if source is not None:
                raw: Any = source.get(name, fallback)
            else:
                raw = self.query(name) or fallback
                if isinstance(raw, str):
                    raw = int(raw) if raw.isdigit() else raw
            low = 1 if name == "limit" else 0
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < low:
                raise validation([custom([name], f"{name} must be an integer of at least {low}.")])
            if name == "limit" and maximum is not None and raw > maximum:
                raise validation([custom([name], f"limit must be at most {maximum}.")])
            out.append(raw)
        return out[0], out[1]


def endpoint(fn: Callable[[Ctx], Any]) -> Callable[[Request], Any]:
    """Read the body, run `fn` under the workspace lock, and answer `{"data": ...}` or an error."""

    async def handle(request: Request) -> Response:
        sandbox: AttioSandbox = request.app.state.sandbox
        try:
            body: Any = None
            if request.method in ("POST", "PUT", "PATCH"):
                raw = await request.body()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise validation(
                            [{"code": "invalid_json", "path": [], "message": "Invalid JSON body."}]
                        ) from None
            with sandbox.lock:
                result = fn(Ctx(sandbox, request, body))
        except ApiError as exc:
            return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)
        except ClientDisconnect:
            # The client went away before its body arrived (a killed run): nothing was applied
            # and nobody is left to answer.
            return Response(status_code=499)
        except Exception:
            # A sandbox bug must not look like a dropped connection to the client under test.
            log.exception("Attio sandbox failed on %s %s", request.method, request.url.path)
            return JSONResponse(INTERNAL_ERROR, status_code=500)
        return JSONResponse(result)

    return handle


def endpoint_not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods both get Attio's 404 (observed for GET on .../records)."""
    message = f'Could not find endpoint "{request.method} {request.url.path}".'
    return JSONResponse(ApiError(404, "not_found", message).body(), status_code=404)
