"""The HTTP face of the Salesforce sandbox: the REST paths simple-salesforce calls, the SOAP
login, Bulk API 2.0 query jobs, admin routes under `/_sandbox/`, and fault injection."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from revops_sandbox.salesforce import bulk, errors
from revops_sandbox.salesforce.admin import admin_routes
from revops_sandbox.salesforce.datetimes import salesforce_datetime
from revops_sandbox.salesforce.errors import SalesforceApiError
from revops_sandbox.salesforce.faults import FaultInjector
from revops_sandbox.salesforce.model import render_record
from revops_sandbox.salesforce.schema import (
    ACCOUNT_FIELD_MAP,
    ACCOUNT_FIELDS,
    SOBJECTS,
    describe_account,
    sobject_summary,
)
from revops_sandbox.salesforce.soap import soap_login
from revops_sandbox.salesforce.soql import SoqlError, compile_query

if TYPE_CHECKING:
    from revops_sandbox.salesforce.sandbox import SalesforceSandbox

Handler = Callable[..., Awaitable[Any]]
_VERSION = re.compile(r"^v(\d{2,3}\.0)(?:/(.*))?$")


def _versions(sandbox: SalesforceSandbox) -> list[dict[str, str]]:
    top = int(float(sandbox.api_version))
    return [
        {"label": f"API {v}.0", "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
        for v in range(31, top + 1)
    ]


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from None


def _account(sobject: str) -> None:
    if sobject.lower() != "account":
        raise errors.not_found()


async def _resources(sb: SalesforceSandbox, request: Request, v: str) -> Any:
    base = f"/services/data/v{v}"
    return {name: f"{base}/{name}" for name in ("sobjects", "query", "queryAll", "limits")}


async def _limits(sb: SalesforceSandbox, request: Request, v: str) -> Any:
    remaining = max(0, sb.daily_api_limit - sb.api_used)
    return {"DailyApiRequests": {"Max": sb.daily_api_limit, "Remaining": remaining}}


async def _describe_global(sb: SalesforceSandbox, request: Request, v: str) -> Any:
    return {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [sobject_summary(v)]}


def _batch_size(request: Request, default: int) -> int:
    options = request.headers.get("sforce-query-options", "")
    match = re.search(r"batchSize\s*=\s*(\d+)", options)
    return min(2000, max(200, int(match.group(1)))) if match else default


async def _query(sb: SalesforceSandbox, request: Request, v: str, endpoint: str) -> Any:
    text = request.query_params.get("q")
    if not text or not text.strip():
        raise SalesforceApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    try:
        compiled = compile_query(text, SOBJECTS)
    except SoqlError as exc:
        raise SalesforceApiError(400, exc.error_code, exc.render(text)) from None
    return sb.start_query(
        compiled,
        include_deleted=endpoint == "queryAll",
        version=v,
        batch=_batch_size(request, sb.page_size),
    )


async def _query_more(
    sb: SalesforceSandbox, request: Request, v: str, endpoint: str, locator: str
) -> Any:
    return sb.query_more(locator)


async def _describe(sb: SalesforceSandbox, request: Request, v: str, sobject: str) -> Any:
    _account(sobject)
    sb.counts["describe"] += 1
    return describe_account(v)


async def _sobject(sb: SalesforceSandbox, request: Request, v: str, sobject: str) -> Any:
    _account(sobject)
    if request.method == "POST":
        row = sb.create_account(_body(await request.body()))
        return JSONResponse({"id": row["Id"], "success": True, "errors": []}, status_code=201)
    return {"objectDescribe": sobject_summary(v), "recentItems": []}


async def _record(
    sb: SalesforceSandbox, request: Request, v: str, sobject: str, record_id: str
) -> Any:
    _account(sobject)
    if request.method == "PATCH":
        sb.update_account(record_id, _body(await request.body()))
        return Response(status_code=204)
    if request.method == "DELETE":
        sb.delete_account(record_id)
        return Response(status_code=204)
    row = sb.account(record_id)
    if row is None:
        raise errors.not_found()
    if row["IsDeleted"]:
        raise errors.entity_deleted()
    wanted = request.query_params.get("fields")
    names = tuple(f.name for f in ACCOUNT_FIELDS)
    if wanted:
        specs = [ACCOUNT_FIELD_MAP.get(n.strip().lower()) for n in wanted.split(",")]
        bad = [n for n, s in zip(wanted.split(","), specs, strict=True) if s is None]
        if bad:
            raise SalesforceApiError(
                400, "INVALID_FIELD", f"No such column '{bad[0]}' on entity 'Account'"
            )
        names = tuple(s.name for s in specs if s is not None)
    return render_record(row, names, v)


def _window_param(request: Request, name: str) -> datetime:
    raw = request.query_params.get(name, "")
    try:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError
        return value
    except ValueError:
        raise SalesforceApiError(
            400, "INVALID_REPLICATION_DATE", f"'{name}' must be an ISO 8601 datetime with an offset"
        ) from None


async def _replication(
    sb: SalesforceSandbox, request: Request, v: str, sobject: str, kind: str
) -> Any:
    _account(sobject)
    start, end = _window_param(request, "start"), _window_param(request, "end")
    now = sb.now()
    earliest = now - timedelta(days=15)
    if start < earliest - timedelta(days=15) or start > end:
        raise SalesforceApiError(400, "INVALID_REPLICATION_DATE", "start date is out of range")
    covered = min(end, now)
    with sb.lock:
        if kind == "deleted":
            items = [
                {"id": i, "deletedDate": salesforce_datetime(when)}
                for i, when in sb.deleted_at.items()
                if start <= when <= covered and i in sb.accounts
            ]
            return {
                "deletedRecords": items,
                "earliestDateAvailable": salesforce_datetime(earliest),
                "latestDateCovered": salesforce_datetime(covered),
            }
        ids = [
            r["Id"]
            for r in sb.accounts.values()
            if not r["IsDeleted"] and start <= r["SystemModstamp"] <= covered
        ]
    return {"ids": ids, "latestDateCovered": salesforce_datetime(covered)}


_ROUTES: list[tuple[frozenset[str], re.Pattern[str], Handler]] = [
    (frozenset({"GET"}), re.compile(r"^$"), _resources),
    (frozenset({"GET"}), re.compile(r"^limits/?$"), _limits),
    (frozenset({"GET"}), re.compile(r"^sobjects/?$"), _describe_global),
    (frozenset({"GET"}), re.compile(r"^(?P<endpoint>query|queryAll)/?$"), _query),
    (
        frozenset({"GET"}),
        re.compile(r"^(?P<endpoint>query|queryAll)/(?P<locator>\w+-\d+)/?$"),
        _query_more,
    ),
    (frozenset({"GET"}), re.compile(r"^sobjects/(?P<sobject>\w+)/describe/?$"), _describe),
    (
        frozenset({"GET"}),
        re.compile(r"^sobjects/(?P<sobject>\w+)/(?P<kind>deleted|updated)/?$"),
        _replication,
    ),
    (frozenset({"GET", "POST"}), re.compile(r"^sobjects/(?P<sobject>\w+)/?$"), _sobject),
    (
        frozenset({"GET", "PATCH", "DELETE"}),
        re.compile(r"^sobjects/(?P<sobject>\w+)/(?P<record_id>\w{15}|\w{18})/?$"),
        _record,
    ),
    (frozenset({"POST"}), re.compile(r"^jobs/query/?$"), bulk.create_job),
    (frozenset({"GET"}), re.compile(r"^jobs/query/?$"), bulk.list_jobs),
    (
        frozenset({"GET", "PATCH", "DELETE"}),
        re.compile(r"^jobs/query/(?P<job_id>\w+)/?$"),
        bulk.job_resource,
    ),
    (frozenset({"GET"}), re.compile(r"^jobs/query/(?P<job_id>\w+)/results/?$"), bulk.job_results),
]


async def _dispatch(sb: SalesforceSandbox, request: Request) -> Response:
    bearer = request.headers.get("authorization", "")
    token = bearer[7:] if bearer[:7].lower() == "bearer " else ""
    if token not in sb.sessions:
        sb.counts["rejected_session"] += 1
        raise errors.invalid_session()
    match = _VERSION.match(request.path_params["rest"])
    if match is None or float(match.group(1)) > float(sb.api_version):
        raise errors.not_found()
    version, tail = match.group(1), match.group(2) or ""
    allowed: set[str] = set()
    for methods, pattern, handler in _ROUTES:
        found = pattern.match(tail)
        if found is None:
            continue
        if request.method not in methods:
            allowed |= methods
            continue
        sb.charge_api_call()
        result = await handler(sb, request, version, **found.groupdict())
        return result if isinstance(result, Response) else JSONResponse(result)
    if allowed:
        raise SalesforceApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{request.method}' not allowed. Allowed are {','.join(sorted(allowed))}",
        )
    raise errors.not_found()


def build_app(sb: SalesforceSandbox) -> ASGIApp:
    async def data_api(request: Request) -> Response:
        try:
            response = await _dispatch(sb, request)
        except SalesforceApiError as exc:
            sb.counts[f"error_{exc.error_code}"] += 1
            response = exc.response()
        response.headers["Sforce-Limit-Info"] = sb.limit_header()
        return response

    async def versions(request: Request) -> Response:
        return JSONResponse(_versions(sb))

    async def login(request: Request) -> Response:
        return await soap_login(sb, request)

    methods = ["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"]
    routes = [
        Route("/services/data", versions, methods=["GET"]),
        Route("/services/data/", versions, methods=["GET"]),
        Route("/services/data/{rest:path}", data_api, methods=methods),
        Route("/services/Soap/u/{version}", login, methods=["POST"]),
        Mount("/_sandbox", routes=admin_routes(sb)),
    ]
    return FaultInjector(sb, Starlette(routes=routes))
