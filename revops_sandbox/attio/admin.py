"""Admin routes under /_sandbox/ (no auth, never rate limited or faulted): faults, config,
reset and stats, so a test or `make demo` can steer a sandbox running in another process.

`POST /_sandbox/faults` takes the body of `limits.Faults.configure`: queued and random faults,
and `refuse`, values (an email, a domain, a record id) whose writes Attio refuses for good with
its 400 validation error (`refusals.py`); `DELETE` clears them all."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from revops_sandbox.attio.sandbox import AttioSandbox


def _sandbox(request: Request) -> AttioSandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


async def _json(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else {}


def _bad(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)


async def set_faults(request: Request) -> Response:
    sb = _sandbox(request)
    try:
        sb.faults.configure(await _json(request))
    except ValueError as exc:
        return _bad(str(exc))
    return JSONResponse(sb.faults.describe())


async def get_faults(request: Request) -> Response:
    return JSONResponse(_sandbox(request).faults.describe())


async def clear_faults(request: Request) -> Response:
    sb = _sandbox(request)
    sb.faults.clear()
    return JSONResponse(sb.faults.describe())


async def set_config(request: Request) -> Response:
    sb = _sandbox(request)
    try:
        body = await _json(request)
        if not isinstance(body, dict):
            raise ValueError("the configuration must be a JSON object")
        sb.configure(**body)
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))
    return JSONResponse(sb.config())


async def reset(request: Request) -> Response:
    _sandbox(request).reset()
    return JSONResponse({"reset": True})


async def stats(request: Request) -> Response:
    return JSONResponse(_sandbox(request).stats())


async def rate_log(request: Request) -> Response:
    """Rate-limited requests as they arrived: `?kind=write|read&since=<epoch s>&window=<s>`."""
    kind = request.query_params.get("kind", "write")
    if kind not in ("write", "read"):
        return _bad("kind must be write or read")
    try:
        since = float(request.query_params.get("since", "0"))
        window = float(request.query_params.get("window", "1"))
    except ValueError:
        return _bad("since and window must be numbers (epoch seconds, seconds)")
    if window <= 0:
        return _bad("window must be above 0")
    return JSONResponse(_sandbox(request).arrivals.report(kind, since, window))  # type: ignore[arg-type]


ROUTES = [
    Route("/_sandbox/faults", set_faults, methods=["POST"]),
    Route("/_sandbox/faults", get_faults, methods=["GET"]),
    Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
    Route("/_sandbox/config", set_config, methods=["POST"]),
    Route("/_sandbox/reset", reset, methods=["POST"]),
    Route("/_sandbox/stats", stats, methods=["GET"]),
    Route("/_sandbox/rate_log", rate_log, methods=["GET"]),
]
