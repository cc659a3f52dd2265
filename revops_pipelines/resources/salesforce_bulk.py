"""Bulk API 2.0 query jobs for big extracts (create, poll, page the CSV by `Sforce-Locator`)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import requests

from revops_pipelines.domain.soql import (
    format_salesforce_datetime,
    parse_salesforce_datetime,
)
from revops_pipelines.resources.salesforce_http import SalesforceApiError

# simple-salesforce is imported where a request is made: loading the definitions must not load it.
if TYPE_CHECKING:
    from simple_salesforce import Salesforce


class BulkReads:
    """Bulk API 2.0 reads, mixed into `SalesforceResource` (uses its `_call` and settings)."""

    def _bulk_request(
        self, sf: Salesforce, method: str, path: str, **kwargs: Any
    ) -> requests.Response:
        from simple_salesforce.util import exception_handler

        headers = {"Authorization": f"Bearer {sf.session_id}", "Content-Type": "application/json"}
        headers["Accept"] = kwargs.pop("accept", "application/json")
        response = sf.session.request(method, sf.bulk2_url + path, headers=headers, **kwargs)
        if response.status_code >= 300:
            exception_handler(response, "bulk2")
        return response

    def _bulk_create(self, query: str, include_deleted: bool) -> dict[str, Any]:
        body = {
            "operation": "queryAll" if include_deleted else "query",
            "query": query,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        return self._call(
            "bulk job", lambda sf: self._bulk_request(sf, "POST", "query", json=body).json()
        )

    def _bulk_pages(self, job: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Poll a Bulk API 2.0 query job until JobComplete, then page its CSV by Sforce-Locator."""
        deadline = time.monotonic() + self.bulk_timeout_seconds
        while job["state"] not in {"JobComplete", "Failed", "Aborted"}:
            if time.monotonic() > deadline:
                raise SalesforceApiError(
                    None, "TIMEOUT", f"Bulk job {job['id']} still {job['state']}", []
                )
            time.sleep(self.bulk_poll_seconds)
            path = f"query/{job['id']}"
            job = self._call(
                "bulk poll", lambda sf, p=path: self._bulk_request(sf, "GET", p).json()
            )
        if job["state"] != "JobComplete":
            raise SalesforceApiError(
                None, job["state"].upper(), str(job.get("errorMessage", "")), []
            )
        types = {name: spec["type"] for name, spec in self.describe_fields("Account").items()}
        locator = ""
        while True:
            params = {"maxRecords": 50_000, **({"locator": locator} if locator else {})}
            response = self._call(
                "bulk results",
                lambda sf, p=params: self._bulk_request(
                    sf, "GET", f"query/{job['id']}/results", params=p, accept="text/csv"
                ),
            )
            rows = csv.DictReader(io.StringIO(response.content.decode("utf-8")))
            yield [
                {k: _from_csv(v, types.get(k, "string")) for k, v in row.items()} for row in rows
            ]
            locator = response.headers.get("Sforce-Locator", "null")
            if not locator or locator == "null":
                return

    # ---- writes -------------------------------------------------------------------------------


def _from_csv(value: str | None, kind: str) -> Any:
    """A Bulk CSV cell as the REST API would give it (empty cells are nulls)."""
    if value is None or value == "":
        return None
    if kind == "boolean":
        return value.lower() == "true"
    if kind == "int":
        return int(value)
    if kind in {"double", "currency", "percent"}:
        return float(value)
    if kind == "datetime":
        return format_salesforce_datetime(parse_salesforce_datetime(value))
    return value
