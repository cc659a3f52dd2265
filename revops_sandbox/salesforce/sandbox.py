"""The state of the Salesforce sandbox (org, sessions, API budget, faults, cursors) and its
Python accessors. The HTTP face is in `app.py`; admin routes in `admin.py` call these methods."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, OrderedDict, deque
from datetime import UTC, datetime, timedelta
from typing import Any

from revops_sandbox.salesforce import errors
from revops_sandbox.salesforce.datetimes import salesforce_datetime
from revops_sandbox.salesforce.errors import SalesforceApiError
from revops_sandbox.salesforce.model import (
    Cursor,
    Fault,
    floor_second,
    parse_any_datetime,
    render_record,
)
from revops_sandbox.salesforce.org import USER_IDS, generate_accounts, salesforce_id
from revops_sandbox.salesforce.schema import (
    ACCOUNT_FIELDS,
    validate_write,
)
from revops_sandbox.salesforce.soql import CompiledQuery

ORG_ID = "00DDn0000000001MAA"
MAX_OPEN_CURSORS = 200


class SalesforceSandbox:
    """A local Salesforce org over the REST API that simple-salesforce calls.

    `now` anchors the synthetic org (rows spread over the `days` before it) and the sandbox clock,
    which then runs with real time (stamps are whole seconds, like Salesforce's). `now=None` uses
    the current UTC day's midnight, so one day's org is always the same.
    """

    def __init__(
        self,
        accounts: int = 20_000,
        seed: int = 0,
        now: datetime | None = None,
        access_token: str = "sandbox-sf-token",
        api_version: str = "59.0",
        daily_api_limit: int = 100_000,
        page_size: int = 2000,
        *,
        username: str = "sandbox@example.com",
        password: str = "sandbox-password",
        security_token: str = "sandbox-security-token",
        days: int = 120,
        bulk_polls_in_progress: int = 1,
    ) -> None:
        if now is None:
            now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        elif now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.account_count, self.seed, self.days = accounts, seed, days
        self.access_token, self.api_version = access_token, api_version
        self.username, self.password, self.security_token = username, password, security_token
        self.page_size, self.bulk_polls_in_progress = page_size, bulk_polls_in_progress
        self.daily_api_limit = daily_api_limit
        self.lock = threading.RLock()
        self._anchor, self._t0 = floor_second(now), time.monotonic()
        self._counter = 0
        self.reset()
        from revops_sandbox.salesforce.app import build_app

        self.app = build_app(self)

    # ---- lifecycle and clock --------------------------------------------------------------

    def reset(self) -> None:
        """Regenerate the org from the seed and forget sessions, faults, cursors and usage."""
        with self.lock:
            org = generate_accounts(self.account_count, self.seed, self._anchor, self.days)
            self.accounts: dict[str, dict[str, Any]] = {row["Id"]: row for row in org.rows}
            self.deleted_at = {r["Id"]: r["SystemModstamp"] for r in org.rows if r["IsDeleted"]}
            self.notable = org.notable
            self.sessions = {self.access_token}
            self.api_used = 0
            self.faults: deque[Fault] = deque()
            self.cursors: OrderedDict[str, Cursor] = OrderedDict()
            self.bulk_jobs: dict[str, dict[str, Any]] = {}
            self.counts: Counter[str] = Counter()

    def now(self) -> datetime:
        """The sandbox's current time (whole seconds, UTC)."""
        return floor_second(self._anchor + timedelta(seconds=time.monotonic() - self._t0))

    def advance_clock(self, seconds: float) -> datetime:
        with self.lock:
            self._anchor += timedelta(seconds=seconds)
            return self.now()

    def set_clock(self, when: datetime) -> datetime:
        with self.lock:
            self._anchor, self._t0 = floor_second(when), time.monotonic()
            return self.now()

    def next_id(self, prefix: str) -> str:
        with self.lock:
            self._counter += 1
            return salesforce_id(prefix, self._counter, pod="Dn1")

    # ---- sessions, API budget, faults -----------------------------------------------------

    def new_session(self) -> str:
        token = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(24)}"
        with self.lock:
            self.sessions.add(token)
        return token

    def expire_sessions(self, include_access_token: bool = False) -> None:
        with self.lock:
            self.sessions = {self.access_token} - (
                {self.access_token} if include_access_token else set()
            )

    def charge_api_call(self) -> None:
        with self.lock:
            if self.api_used >= self.daily_api_limit:
                self.counts["rejected_request_limit"] += 1
                raise errors.limit_exceeded()
            self.api_used += 1

    def set_api_usage(
        self, *, used: int | None = None, limit: int | None = None, remaining: int | None = None
    ) -> tuple[int, int]:
        """Set the usage of the day; `remaining=0` fails the next call REQUEST_LIMIT_EXCEEDED."""
        with self.lock:
            if limit is not None:
                self.daily_api_limit = limit
            if used is not None:
                self.api_used = used
            if remaining is not None:
                self.api_used = max(0, self.daily_api_limit - remaining)
            return self.api_used, self.daily_api_limit

    def limit_header(self) -> str:
        return f"api-usage={self.api_used}/{self.daily_api_limit}"

    def inject_fault(self, **kwargs: Any) -> Fault:
        fault = Fault(**kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    self.counts["faults_served"] += 1
                    return fault
        return None

    # ---- accounts -------------------------------------------------------------------------

    def account(self, account_id: str) -> dict[str, Any] | None:
        """A copy of the row (Python values), deleted or not; None when there is none."""
        with self.lock:
            row = self.accounts.get(account_id)
            return dict(row) if row is not None else None

    def rows(self, include_deleted: bool = True) -> list[dict[str, Any]]:
        with self.lock:
            return [
                dict(r) for r in self.accounts.values() if include_deleted or not r["IsDeleted"]
            ]

    def _require(self, account_id: str, *, allow_deleted: bool = False) -> dict[str, Any]:
        row = self.accounts.get(account_id)
        if row is None:
            raise errors.not_found()
        if row["IsDeleted"] and not allow_deleted:
            raise errors.entity_deleted()
        return row

    def _touch(self, row: dict[str, Any], values: dict[str, Any]) -> None:
        stamp = self.now()
        row.update(values)
        row.setdefault("CreatedDate", stamp)
        if "LastModifiedDate" not in values:
            row["LastModifiedDate"] = stamp
        if "SystemModstamp" not in values:
            row["SystemModstamp"] = max(stamp, row["LastModifiedDate"])

    def update_account(
        self, account_id: str, fields: dict[str, Any], *, admin: bool = False
    ) -> dict[str, Any]:
        """Change fields as a user would (the stamps move to now). `admin=True` also lets the
        caller set CreatedDate/LastModifiedDate/SystemModstamp/IsDeleted explicitly."""
        values = validate_write(fields, allow_system=admin, parse_datetime=parse_any_datetime)
        with self.lock:
            row = self._require(account_id, allow_deleted=admin)
            self._touch(row, values)
            self.counts["account_updates"] += 1
            return dict(row)

    def create_account(self, fields: dict[str, Any], *, admin: bool = False) -> dict[str, Any]:
        values = validate_write(fields, allow_system=admin, parse_datetime=parse_any_datetime)
        if not values.get("Name"):
            raise SalesforceApiError(
                400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ["Name"]
            )
        row = {spec.name: None for spec in ACCOUNT_FIELDS}
        row.update(Id=self.next_id("001"), IsDeleted=False, OwnerId=USER_IDS[0])
        row.update(CreatedById=USER_IDS[0], LastModifiedById=USER_IDS[0])
        with self.lock:
            self._touch(row, values)
            self.accounts[row["Id"]] = row
            return dict(row)

    def delete_account(self, account_id: str) -> dict[str, Any]:
        """Soft-delete (to the Recycle Bin): IsDeleted = true, only queryAll still sees it."""
        with self.lock:
            row = self._require(account_id)
            self._touch(row, {"IsDeleted": True})
            self.deleted_at[account_id] = row["SystemModstamp"]
            return dict(row)

    def undelete_account(self, account_id: str) -> dict[str, Any]:
        with self.lock:
            row = self._require(account_id, allow_deleted=True)
            if not row["IsDeleted"]:
                raise SalesforceApiError(400, "UNDELETE_FAILED", "Entity is not in the recycle bin")
            self._touch(row, {"IsDeleted": False})
            self.deleted_at.pop(account_id, None)
            return dict(row)

    def purge_account(self, account_id: str) -> None:
        """Hard-delete: the row is gone even from queryAll (emptied Recycle Bin)."""
        with self.lock:
            self._require(account_id, allow_deleted=True)
            del self.accounts[account_id]
            self.deleted_at.pop(account_id, None)

    # ---- queries --------------------------------------------------------------------------

    def run_query(self, query: CompiledQuery, include_deleted: bool) -> list[dict[str, Any]]:
        with self.lock:
            rows = [r for r in self.accounts.values() if include_deleted or not r["IsDeleted"]]
            return [dict(r) for r in query.run(rows)]

    def start_query(
        self, query: CompiledQuery, *, include_deleted: bool, version: str, batch: int
    ) -> dict[str, Any]:
        endpoint = "queryAll" if include_deleted else "query"
        self.counts[endpoint] += 1
        rows = self.run_query(query, include_deleted)
        if query.count is True:
            return {"totalSize": len(rows), "done": True, "records": []}
        if query.count:
            value = sum(1 for r in rows if r.get(query.count) is not None)
            record = {"attributes": {"type": "AggregateResult"}, "expr0": value}
            return {"totalSize": 1, "done": True, "records": [record]}
        records = [render_record(r, query.fields, version) for r in rows]
        cursor = Cursor(records, endpoint, batch, version)
        with self.lock:
            self.counts["cursors"] += 1
            locator = salesforce_id("01g", self.counts["cursors"], "Dn0")
            self.cursors[locator] = cursor
            while len(self.cursors) > MAX_OPEN_CURSORS:
                self.cursors.popitem(last=False)
        return self._page(locator, cursor, 0)

    def query_more(self, locator_and_offset: str) -> dict[str, Any]:
        self.counts["query_more"] += 1
        locator, _, offset = locator_and_offset.partition("-")
        with self.lock:
            cursor = self.cursors.get(locator)
            if cursor is not None:
                self.cursors.move_to_end(locator)
        if cursor is None or not offset.isdigit() or int(offset) > len(cursor.records):
            raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(locator, cursor, int(offset))

    @staticmethod
    def _page(locator: str, cursor: Cursor, offset: int) -> dict[str, Any]:
        end = offset + cursor.batch
        page: dict[str, Any] = {
            "totalSize": len(cursor.records),
            "done": end >= len(cursor.records),
            "records": cursor.records[offset:end],
        }
        if not page["done"]:
            page["nextRecordsUrl"] = (
                f"/services/data/v{cursor.version}/{cursor.endpoint}/{locator}-{end}"
            )
        return page

    def stats(self) -> dict[str, Any]:
        with self.lock:
            deleted = sum(1 for r in self.accounts.values() if r["IsDeleted"])
            return {
                "counts": dict(self.counts),
                "api_usage": {"used": self.api_used, "limit": self.daily_api_limit},
                "accounts": {"total": len(self.accounts), "deleted": deleted},
                "open_cursors": len(self.cursors),
                "pending_faults": sum(f.count for f in self.faults),
                "now": salesforce_datetime(self.now()),
            }
