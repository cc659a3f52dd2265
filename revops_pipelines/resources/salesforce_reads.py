"""Reads over the REST API: windows of Accounts (REST or Bulk API 2.0), counts, any SOQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import dagster as dg

from revops_pipelines.domain.soql import (
    count_query,
    parse_salesforce_datetime,
    window_clause,
    window_query,
)
from revops_pipelines.resources.salesforce_http import (
    SalesforceApiError,
    SalesforceRequestLimitExceeded,
)


class RestReads:
    """Reads mixed into `SalesforceResource` (uses its `_call`, `validate_fields`, the Bulk
    mixin and its page settings)."""

    def count_accounts(
        self, start: datetime, end: datetime, *, include_deleted: bool = True
    ) -> int:
        """Accounts with SystemModstamp in `[start, end)` (deleted ones too, by default)."""
        query = count_query("Account", where=window_clause("SystemModstamp", start, end))
        result = self._call("count", lambda sf: sf.query(query, include_deleted=include_deleted))
        return int(result["totalSize"])

    def read_accounts(
        self,
        fields: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        include_deleted: bool = True,
        method: str = "rest",
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of Accounts with SystemModstamp in `[start, end)`, ordered by SystemModstamp, Id.

        `method`: "rest" (queryAll + nextRecordsUrl), "bulk" (a Bulk API 2.0 queryAll job), or
        "auto" (count first; Bulk from `bulk_threshold` rows on). Every record carries Id,
        IsDeleted and SystemModstamp besides `fields`. Unknown fields fail here, before any read.
        """
        if method not in {"rest", "bulk", "auto"}:
            raise ValueError(f"method must be 'rest', 'bulk' or 'auto', not {method!r}")
        names = self.validate_fields(["Id", "IsDeleted", *fields, "SystemModstamp"])
        query = window_query("Account", names, start, end)
        chosen = method
        if method == "auto":
            count = self.count_accounts(start, end, include_deleted=include_deleted)
            chosen = "bulk" if count >= self.bulk_threshold else "rest"
        if chosen == "bulk":
            try:
                job = self._bulk_create(query, include_deleted)
            except SalesforceApiError as exc:
                if method != "auto" or exc.status not in {400, 404, 405}:
                    raise
                # Like Airbyte: an org or object without Bulk API 2.0 is read over REST instead.
                dg.get_dagster_logger().warning(
                    f"Salesforce Bulk API 2.0 refused the extract ({exc.error_code}); using REST"
                )
            else:
                return self._resumable(self._bulk_pages(job))
        return self._resumable(self._rest_pages(query, include_deleted))

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[list[dict[str, Any]]]:
        """Pages of records for any SOQL (REST, `attributes` stripped). Salesforce's refusals
        arrive as SalesforceApiError carrying its errorCode and message."""
        return self._resumable(self._rest_pages(soql, include_deleted))

    @staticmethod
    def _resumable(
        pages: Iterator[list[dict[str, Any]]],
    ) -> Iterator[list[dict[str, Any]]]:
        last: dict[str, Any] | None = None
        try:
            for page in pages:
                if page:
                    last = page[-1]
                    yield page
        except SalesforceRequestLimitExceeded as exc:
            if last is not None and last.get("SystemModstamp"):
                exc.resume_from = parse_salesforce_datetime(last["SystemModstamp"])
            raise

    def _rest_pages(self, query: str, include_deleted: bool) -> Iterator[list[dict[str, Any]]]:
        headers = {"Sforce-Query-Options": f"batchSize={self.page_size}"}
        page = self._call(
            "query", lambda sf: sf.query(query, include_deleted=include_deleted, headers=headers)
        )
        while True:
            yield [{k: v for k, v in r.items() if k != "attributes"} for r in page["records"]]
            if page["done"]:
                return
            next_url = page["nextRecordsUrl"]
            page = self._call(
                "query_more",
                lambda sf, u=next_url: sf.query_more(u, identifier_is_url=True, headers=headers),
            )
