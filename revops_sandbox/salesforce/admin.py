"""Admin routes under `/_sandbox/` (no auth; loopback only) to change the org between runs.

GET    /_sandbox/stats                      request counts, API usage, accounts, clock
GET    /_sandbox/notable                    the planted edge cases (day-boundary ids, ...)
POST   /_sandbox/accounts                   create an account {field: value}
GET    /_sandbox/accounts/{id}              one row, deleted or not
PATCH  /_sandbox/accounts/{id}              change fields (stamps move to now unless given)
DELETE /_sandbox/accounts/{id}[?purge=true] soft-delete (or hard-delete with purge)
POST   /_sandbox/accounts/{id}/undelete     restore from the Recycle Bin
POST   /_sandbox/limits                     {"remaining": 0} | {"used": n} | {"limit": m}
POST   /_sandbox/faults                     {"status": 503, "count": 2, "path": "/query",
                                             "method": "GET", "error_code", "message",
                                             "drop": "before"|"after", "retry_after"}
DELETE /_sandbox/faults                     clear pending faults
POST   /_sandbox/clock                      {"advance_seconds": 86400} | {"now": "<iso>"}
POST   /_sandbox/sessions/expire            {"include_access_token": false}
POST   /_sandbox/reset                      regenerate the org, forget everything else
"""

from __future__ import annotations

import json
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from revops_sandbox.salesforce.datetimes import salesforce_datetime
from revops_sandbox.salesforce.errors import SalesforceApiError
from revops_sandbox.salesforce.model import Fault

if TYPE_CHECKING:
    from revops_sandbox.salesforce.sandbox import SalesforceSandbox


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: salesforce_datetime(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def admin_routes(sb: SalesforceSandbox) -> list[Route]:
    async def guarded(request: Request, action: Any) -> Response:
        try:
            return await action(request)
        except SalesforceApiError as exc:
            return _bad(exc.message, 404 if exc.status == 404 else 400)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))

    async def stats(request: Request) -> Response:
        return JSONResponse(sb.stats())

    async def notable(request: Request) -> Response:
        out = {
            key: {"stamp": salesforce_datetime(value["stamp"]), "ids": value["ids"]}
            for key, value in sb.notable.items()
        }
        return JSONResponse(out)

    async def accounts(request: Request) -> Response:
        async def act(request: Request) -> Response:
            row = sb.create_account(await _json(request), admin=True)
            return JSONResponse(_json_row(row), status_code=201)

        return await guarded(request, act)

    async def account(request: Request) -> Response:
        account_id = request.path_params["account_id"]

        async def act(request: Request) -> Response:
            if request.method == "PATCH":
                return JSONResponse(
                    _json_row(sb.update_account(account_id, await _json(request), admin=True))
                )
            if request.method == "DELETE":
                if request.query_params.get("purge", "").lower() in {"1", "true", "yes"}:
                    sb.purge_account(account_id)
                    return Response(status_code=204)
                return JSONResponse(_json_row(sb.delete_account(account_id)))
            row = sb.account(account_id)
            if row is None:
                return _bad(f"no account {account_id!r}", 404)
            return JSONResponse(_json_row(row))

        return await guarded(request, act)

    async def undelete(request: Request) -> Response:
        account_id = request.path_params["account_id"]

        async def act(request: Request) -> Response:
            return JSONResponse(_json_row(sb.undelete_account(account_id)))

        return await guarded(request, act)

    async def limits(request: Request) -> Response:
        async def act(request: Request) -> Response:
            body = await _json(request)
            unknown = set(body) - {"used", "limit", "remaining"}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}; use used, limit, remaining")
            used, limit = sb.set_api_usage(**{k: int(v) for k, v in body.items()})
            return JSONResponse({"used": used, "limit": limit})

        return await guarded(request, act)

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            sb.clear_faults()
            return Response(status_code=204)

        async def act(request: Request) -> Response:
            body = await _json(request)
            known = {f.name for f in dataclass_fields(Fault)}
            unknown = set(body) - known
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(known)}")
            if body.get("drop") not in {None, "before", "after"}:
                raise ValueError("drop must be 'before' or 'after'")
            fault = sb.inject_fault(**body)
            return JSONResponse({"queued": fault.count}, status_code=201)

        return await guarded(request, act)

    async def clock(request: Request) -> Response:
        async def act(request: Request) -> Response:
            body = await _json(request)
            if "now" in body:
                when = datetime.fromisoformat(str(body["now"]))
                if when.tzinfo is None:
                    raise ValueError("now needs a time zone offset")
                sb.set_clock(when)
            if "advance_seconds" in body:
                sb.advance_clock(float(body["advance_seconds"]))
            return JSONResponse({"now": salesforce_datetime(sb.now())})

        return await guarded(request, act)

    async def expire(request: Request) -> Response:
        async def act(request: Request) -> Response:
            body = await _json(request)
            sb.expire_sessions(bool(body.get("include_access_token", False)))
            return Response(status_code=204)

        return await guarded(request, act)

    async def reset(request: Request) -> Response:
        sb.reset()
        return Response(status_code=204)

    return [
        Route("/stats", stats, methods=["GET"]),
        Route("/notable", notable, methods=["GET"]),
        Route("/accounts", accounts, methods=["POST"]),
        Route("/accounts/{account_id}", account, methods=["GET", "PATCH", "DELETE"]),
        Route("/accounts/{account_id}/undelete", undelete, methods=["POST"]),
        Route("/limits", limits, methods=["POST"]),
        Route("/faults", faults, methods=["POST", "DELETE"]),
        Route("/clock", clock, methods=["GET", "POST"]),
        Route("/sessions/expire", expire, methods=["POST"]),
        Route("/reset", reset, methods=["POST"]),
    ]
