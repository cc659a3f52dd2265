"""Bulk API 2.0 query jobs (`/services/data/vXX.X/jobs/query`): create, poll, page CSV results
by `Sforce-Locator`, abort, delete. The result is a snapshot taken when the job is created."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from revops_sandbox.salesforce import errors
from revops_sandbox.salesforce.errors import SalesforceApiError
from revops_sandbox.salesforce.org import USER_IDS
from revops_sandbox.salesforce.schema import SOBJECTS
from revops_sandbox.salesforce.soql import SoqlError, compile_query

if TYPE_CHECKING:
    from revops_sandbox.salesforce.sandbox import SalesforceSandbox

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
DEFAULT_MAX_RECORDS = 50_000


def _csv_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return str(value)


def _csv_line(values: list[str | None], delimiter: str) -> str:
    """Bulk results quote every value (doubling inner quotes); a null is an empty cell."""
    return delimiter.join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values)


def _job_info(job: dict[str, Any], sandbox: SalesforceSandbox) -> dict[str, Any]:
    info = {
        k: job[k]
        for k in (
            "id",
            "operation",
            "object",
            "state",
            "concurrencyMode",
            "contentType",
            "apiVersion",
            "lineEnding",
            "columnDelimiter",
            "createdDate",
            "systemModstamp",
            "createdById",
        )
    }
    if job["state"] == "JobComplete":
        info.update(numberRecordsProcessed=len(job["rows"]), retries=0, totalProcessingTime=42)
    return info


async def create_job(sandbox: SalesforceSandbox, request: Request, version: str) -> Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"invalid JSON: {exc}") from None
    operation = body.get("operation")
    if operation not in {"query", "queryAll"}:
        raise SalesforceApiError(
            400, "INVALIDJOB", f"Invalid operation '{operation}': use query or queryAll"
        )
    delimiter = body.get("columnDelimiter", "COMMA")
    line_ending = body.get("lineEnding", "LF")
    if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
        raise SalesforceApiError(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
    text = body.get("query")
    if not isinstance(text, str) or not text.strip():
        raise SalesforceApiError(400, "INVALIDJOB", "A query is required for query jobs")
    try:
        query = compile_query(text, SOBJECTS)
    except SoqlError as exc:
        raise SalesforceApiError(400, exc.error_code, exc.render(text)) from None
    if query.count is not None:
        raise SalesforceApiError(
            400, "INVALIDJOB", "Aggregate queries (COUNT) are not supported by Bulk API 2.0"
        )
    rows = sandbox.run_query(query, include_deleted=operation == "queryAll")
    stamp = sandbox.now().strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    job = {
        "id": sandbox.next_id("750"),
        "operation": operation,
        "object": "Account",
        "state": "UploadComplete",
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": float(version),
        "lineEnding": line_ending,
        "columnDelimiter": delimiter,
        "createdDate": stamp,
        "systemModstamp": stamp,
        "createdById": USER_IDS[0],
        "fields": query.fields,
        "rows": [[_csv_value(r.get(f)) for f in query.fields] for r in rows],
        "polls_left": sandbox.bulk_polls_in_progress,
    }
    with sandbox.lock:
        sandbox.bulk_jobs[job["id"]] = job
    sandbox.counts["bulk2_jobs"] += 1
    return JSONResponse(_job_info(job, sandbox))


def _job(sandbox: SalesforceSandbox, job_id: str) -> dict[str, Any]:
    job = sandbox.bulk_jobs.get(job_id)
    if job is None:
        raise errors.not_found()
    return job


async def job_resource(
    sandbox: SalesforceSandbox, request: Request, version: str, job_id: str
) -> Response:
    job = _job(sandbox, job_id)
    if request.method == "DELETE":
        with sandbox.lock:
            sandbox.bulk_jobs.pop(job_id, None)
        return Response(status_code=204)
    if request.method == "PATCH":
        state = json.loads(await request.body() or b"{}").get("state")
        if state != "Aborted":
            raise SalesforceApiError(400, "INVALIDJOBSTATE", f"Cannot set a query job to {state}")
        job["state"] = "Aborted"
        return JSONResponse(_job_info(job, sandbox))
    sandbox.counts["bulk2_polls"] += 1
    if job["state"] == "UploadComplete":
        job["state"] = "InProgress"
    if job["state"] == "InProgress":
        if job["polls_left"] <= 0:
            job["state"] = "JobComplete"
        job["polls_left"] -= 1
    return JSONResponse(_job_info(job, sandbox))


async def job_results(
    sandbox: SalesforceSandbox, request: Request, version: str, job_id: str
) -> Response:
    job = _job(sandbox, job_id)
    if job["state"] != "JobComplete":
        raise SalesforceApiError(
            400, "INVALIDJOBSTATE", f"Job {job_id} is {job['state']}; results need JobComplete"
        )
    sandbox.counts["bulk2_results"] += 1
    params = request.query_params
    try:
        offset = int(base64.b64decode(params["locator"]).decode()) if params.get("locator") else 0
        max_records = int(params.get("maxRecords") or DEFAULT_MAX_RECORDS)
    except (ValueError, binascii.Error):
        raise SalesforceApiError(400, "INVALID_LOCATOR", "Invalid locator or maxRecords") from None
    if max_records <= 0 or offset < 0 or offset > len(job["rows"]):
        raise SalesforceApiError(400, "INVALID_LOCATOR", "Invalid locator or maxRecords")
    delimiter = DELIMITERS[job["columnDelimiter"]]
    newline = LINE_ENDINGS[job["lineEnding"]]
    page = job["rows"][offset : offset + max_records]
    lines = [_csv_line(list(job["fields"]), delimiter)]
    lines += [_csv_line(row, delimiter) for row in page]
    end = offset + len(page)
    locator = base64.b64encode(str(end).encode()).decode() if end < len(job["rows"]) else "null"
    headers = {"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(len(page))}
    body = newline.join(lines) + newline
    return Response(body, media_type="text/csv; charset=UTF-8", headers=headers)


async def list_jobs(sandbox: SalesforceSandbox, request: Request, version: str) -> Response:
    with sandbox.lock:
        records = [_job_info(job, sandbox) for job in sandbox.bulk_jobs.values()]
    return JSONResponse({"done": True, "records": records, "nextRecordsUrl": None})
