"""Salesforce as a Dagster resource, over simple-salesforce.

Reads Accounts in `[start, end)` windows on `SystemModstamp` with queryAll (so soft-deleted rows
arrive with `IsDeleted = true`), following `nextRecordsUrl`, or through a Bulk API 2.0 `queryAll`
job for big extracts. Transient failures (5xx, 429, dropped connections, timeouts, row locks,
concurrency limits) are retried with bounded exponential backoff and full jitter. The daily API
limit (`REQUEST_LIMIT_EXCEEDED`, or this resource's own budget from `Sforce-Limit-Info`) raises
`SalesforceRequestLimitExceeded`, which a run catches to stop cleanly and resume next time.

Records come back as the REST API returns them, minus `attributes`: datetimes as Salesforce
strings (`2026-11-20T08:00:00.000+0000`), numbers, booleans, None. The Bulk path gives the same.
Secrets (token, password, security token) are never logged, put in errors, or shown in `repr`.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlparse

import dagster as dg
import requests
import tenacity
from pydantic import Field, PrivateAttr
from simple_salesforce import Salesforce
from simple_salesforce import exceptions as sf_exc
from simple_salesforce.login import SalesforceLogin
from simple_salesforce.util import exception_handler

from revops_pipelines.domain.soql import (
    count_query,
    format_salesforce_datetime,
    parse_salesforce_datetime,
    window_clause,
    window_query,
)

T = TypeVar("T")
ENV_VARS = {
    "instance_url": "SALESFORCE_INSTANCE_URL",
    "access_token": "SALESFORCE_ACCESS_TOKEN",
    "username": "SALESFORCE_USERNAME",
    "password": "SALESFORCE_PASSWORD",
    "security_token": "SALESFORCE_SECURITY_TOKEN",
    "domain": "SALESFORCE_DOMAIN",
}
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}


class SalesforceError(Exception):
    """Base of the errors this resource raises."""


class SalesforceNotConfigured(SalesforceError):
    """Credentials are absent or incomplete; the integration should be skipped, not crash."""


class SalesforceAuthenticationError(SalesforceError):
    """The login was refused."""


class SalesforceUnknownField(SalesforceError):
    def __init__(self, sobject: str, unknown: list[str], suggestions: dict[str, str]) -> None:
        hints = "".join(
            f" (did you mean '{suggestions[n]}'?)" if n in suggestions else "" for n in unknown[:1]
        )
        names = ", ".join(f"'{n}'" for n in unknown)
        super().__init__(f"{sobject} has no field {names}{hints}; check the field mapping")
        self.sobject, self.unknown = sobject, unknown


class SalesforceApiError(SalesforceError):
    """A request Salesforce refused for a reason of its own (validation, bad query, ...)."""

    def __init__(
        self, status: int | None, error_code: str, message: str, fields: list[str]
    ) -> None:
        super().__init__(f"{error_code}: {message}".strip())
        self.status, self.error_code, self.message, self.fields = (
            status,
            error_code,
            message,
            fields,
        )


@dataclass(frozen=True)
class ApiUsage:
    used: int
    total: int

    @property
    def limit(self) -> int:
        """The daily allowance (`total`, as simple-salesforce calls it)."""
        return self.total

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.total if self.total else 100.0


class SalesforceRequestLimitExceeded(SalesforceError):
    """The org's daily API limit (or this resource's share of it) is spent. Stop the run cleanly;
    the next run resumes. `resume_from` is the SystemModstamp of the last record handed out, if
    any: reading again from there (inclusive) loses nothing."""

    def __init__(
        self, message: str, api_usage: ApiUsage | None, resume_from: datetime | None = None
    ) -> None:
        super().__init__(message)
        self.api_usage, self.resume_from = api_usage, resume_from


def parse_limit_info(header: str | None) -> ApiUsage | None:
    match = _LIMIT_INFO.search(header or "")
    return ApiUsage(int(match.group(1)), int(match.group(2))) if match else None


def _error_details(exc: sf_exc.SalesforceError) -> tuple[str, str, list[str]]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return (
            str(first.get("errorCode", "")),
            str(first.get("message", "")),
            list(first.get("fields") or []),
        )
    return "", str(content)[:500], []


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: 5xx/429, dropped or timed-out connections, row locks, and the
    concurrent-request limit (unlike the daily total, it clears by itself)."""
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(
        exc, requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError
    ):
        return True
    if isinstance(exc, sf_exc.SalesforceAuthenticationFailed):
        return isinstance(exc.code, int) and exc.code in _TRANSIENT_STATUS
    if isinstance(exc, sf_exc.SalesforceError):
        code, message, _ = _error_details(exc)
        if exc.status in _TRANSIENT_STATUS and not (
            exc.status == 429 and "TotalRequests" in message
        ):
            return True
        if code == "UNABLE_TO_LOCK_ROW":
            return True
        return code == "REQUEST_LIMIT_EXCEEDED" and "Concurrent" in message
    return False


class _Session(requests.Session):
    """A session that trusts the configured CA bundle even when REQUESTS_CA_BUNDLE points
    elsewhere, applies a default timeout, and records `Sforce-Limit-Info`."""

    def __init__(
        self, ca_bundle: str | None, timeout: float, on_usage: Callable[[ApiUsage], None]
    ) -> None:
        super().__init__()
        self._ca_bundle, self._timeout = ca_bundle, timeout
        self.hooks["response"].append(lambda response, *a, **k: self._usage(response, on_usage))

    @staticmethod
    def _usage(response: requests.Response, on_usage: Callable[[ApiUsage], None]) -> None:
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            on_usage(usage)
        if response.status_code >= 300:
            # An error's response lives on in the raised exception's traceback; read it now and
            # give its connection back to the pool rather than hold it until garbage collection.
            _ = response.content
            response.close()

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:  # type: ignore[override]
        if self._ca_bundle and kwargs.get("verify") is None:
            kwargs["verify"] = self._ca_bundle
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


class _State:
    def __init__(self) -> None:
        self.client: Salesforce | None = None
        self.usage: ApiUsage | None = None
        self.describes: dict[str, dict[str, dict[str, Any]]] = {}


class SalesforceResource(dg.ConfigurableResource):
    """Salesforce REST (and Bulk API 2.0) for the sync. Build it with `from_env()`."""

    instance_url: str | None = Field(default=None, description="SALESFORCE_INSTANCE_URL (https).")
    access_token: str | None = Field(
        default=None, repr=False, description="SALESFORCE_ACCESS_TOKEN."
    )
    username: str | None = Field(default=None, description="SALESFORCE_USERNAME.")
    password: str | None = Field(default=None, repr=False, description="SALESFORCE_PASSWORD.")
    security_token: str | None = Field(
        default=None, repr=False, description="SALESFORCE_SECURITY_TOKEN."
    )
    domain: str | None = Field(
        default=None,
        description="SALESFORCE_DOMAIN: 'login', 'test', a My Domain prefix ('acme.my'), or a full "
        "https:// login URL (e.g. a sandbox). Empty: the instance URL if given, else 'login'.",
    )
    api_version: str = Field(default="59.0")
    ca_bundle: str | None = Field(
        default=None,
        description="CA file to trust; empty uses REQUESTS_CA_BUNDLE, then SSL_CERT_FILE.",
    )
    timeout_seconds: float = Field(default=60.0, gt=0)
    page_size: int = Field(default=2000, ge=200, le=2000, description="REST batchSize hint.")
    bulk_threshold: int = Field(
        default=10_000, ge=0, description="Rows from which 'auto' uses Bulk 2.0."
    )
    max_attempts: int = Field(default=5, ge=1, description="Attempts per request, first included.")
    retry_initial_seconds: float = Field(default=1.0, ge=0)
    retry_max_seconds: float = Field(default=30.0, ge=0)
    max_api_usage_percent: float = Field(
        default=90.0, gt=0, le=100, description="Stop before the org's daily API usage passes this."
    )
    bulk_poll_seconds: float = Field(default=2.0, ge=0)
    bulk_timeout_seconds: float = Field(default=600.0, gt=0)

    _state: _State = PrivateAttr(default_factory=_State)

    @classmethod
    def from_env(cls, **overrides: Any) -> SalesforceResource:
        """Wire each SALESFORCE_* variable that is set through `dg.EnvVar` (unset ones are left
        out, so an absent integration is skipped rather than failing to load)."""
        values: dict[str, Any] = {
            field: dg.EnvVar(var) for field, var in ENV_VARS.items() if os.environ.get(var)
        }
        return cls(**{**values, **overrides})

    # ---- configuration ------------------------------------------------------------------------

    def configuration_problem(self) -> str | None:
        """Why this resource cannot connect, naming the variables (never their values); or None."""
        if self.access_token:
            if not self.instance_url:
                return "SALESFORCE_ACCESS_TOKEN is set but SALESFORCE_INSTANCE_URL is not"
        elif not (self.username and self.password):
            return (
                "Salesforce is not configured: set SALESFORCE_INSTANCE_URL and "
                "SALESFORCE_ACCESS_TOKEN, or SALESFORCE_USERNAME, SALESFORCE_PASSWORD and "
                "SALESFORCE_SECURITY_TOKEN"
            )
        for name, url in (
            ("SALESFORCE_INSTANCE_URL", self.instance_url),
            ("SALESFORCE_DOMAIN", self.domain),
        ):
            if url and "://" in url and urlparse(url).scheme != "https":
                return f"{name} must be an https:// URL (simple-salesforce only speaks HTTPS)"
        return None

    def is_configured(self) -> bool:
        return self.configuration_problem() is None

    def login_url(self) -> str:
        """Where the SOAP login goes: a URL in SALESFORCE_DOMAIN, a named domain, the instance."""
        if self.domain and "://" in self.domain:
            return self.domain.rstrip("/")
        if self.domain:
            return f"https://{self.domain}.salesforce.com"
        return (self.instance_url or "https://login.salesforce.com").rstrip("/")

    def resolved_ca_bundle(self) -> str | None:
        return (
            self.ca_bundle
            or os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("SSL_CERT_FILE")
            or None
        )

    @property
    def api_usage(self) -> ApiUsage | None:
        """The org's API usage from the last `Sforce-Limit-Info` header seen."""
        return self._state.usage

    def _record_usage(self, usage: ApiUsage) -> None:
        self._state.usage = usage

    # ---- connection and the retry loop --------------------------------------------------------

    def client(self) -> Salesforce:
        """The simple-salesforce client (logged in on first use)."""
        if self._state.client is None:
            self._state.client = self._connect()
        return self._state.client

    def close(self) -> None:
        """Close the HTTP session (its keep-alive connections); the next call connects again."""
        client, self._state.client = self._state.client, None
        if client is not None:
            client.session.close()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def _connect(self) -> Salesforce:
        problem = self.configuration_problem()
        if problem:
            raise SalesforceNotConfigured(problem)
        session = _Session(self.resolved_ca_bundle(), self.timeout_seconds, self._record_usage)
        if self.access_token:
            return Salesforce(
                instance_url=self.instance_url,
                session_id=self.access_token,
                version=self.api_version,
                session=session,
            )
        try:
            session_id, instance = self._retrying("login")(
                lambda: SalesforceLogin(
                    username=self.username,
                    password=self.password,
                    security_token=self.security_token or None,
                    sf_version=self.api_version,
                    session=session,
                    scratch_url=self.login_url(),
                )
            )
        except sf_exc.SalesforceAuthenticationFailed as exc:
            raise SalesforceAuthenticationError(
                f"Salesforce login at {self.login_url()} failed: {exc.code}: {exc.auth_message}"
            ) from None
        return Salesforce(
            instance=instance, session_id=session_id, version=self.api_version, session=session
        )

    def _retrying(self, what: str) -> tenacity.Retrying:
        log = dg.get_dagster_logger()

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            detail = _error_details(exc)[0] if isinstance(exc, sf_exc.SalesforceError) else ""
            log.warning(
                f"Salesforce {what}: attempt {state.attempt_number} failed "
                f"({type(exc).__name__} {detail}); retrying in {state.upcoming_sleep:.1f}s"
            )

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_transient),
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=tenacity.wait_random_exponential(
                multiplier=self.retry_initial_seconds, max=self.retry_max_seconds
            ),
            before_sleep=before_sleep,
            reraise=True,
        )

    def _check_budget(self) -> None:
        usage = self._state.usage
        if usage is not None and usage.percent >= self.max_api_usage_percent:
            self._state.usage = None  # a later call asks the org afresh instead of staying stuck
            raise SalesforceRequestLimitExceeded(
                f"Salesforce API usage is {usage.used}/{usage.total} ({usage.percent:.0f}%), at or "
                f"above this resource's budget of {self.max_api_usage_percent:.0f}%; stopping so "
                "the next run resumes",
                usage,
            )

    def _call(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        """Run one request with retries; map Salesforce's refusals to this module's errors."""
        for relogin in (True, False):
            self._check_budget()
            client = self.client()
            try:
                return self._retrying(what)(fn, client)
            except sf_exc.SalesforceExpiredSession:
                if relogin and not self.access_token:
                    self._state.client = None  # the password session expired: log in again
                    continue
                raise SalesforceAuthenticationError(
                    f"Salesforce {what}: the session is expired or invalid (INVALID_SESSION_ID)"
                ) from None
            except sf_exc.SalesforceError as exc:
                code, message, fields = _error_details(exc)
                if code == "REQUEST_LIMIT_EXCEEDED" or exc.status == 429:
                    usage, self._state.usage = self._state.usage, None
                    raise SalesforceRequestLimitExceeded(
                        f"Salesforce refused {what} with {code or exc.status}: {message}; stopping "
                        "so the next run resumes",
                        usage,
                    ) from None
                raise SalesforceApiError(
                    exc.status, code or str(exc.status), message, fields
                ) from None
            except requests.RequestException as exc:  # retries spent, or not worth retrying
                raise SalesforceApiError(
                    None, "CONNECTION_ERROR", f"Salesforce {what}: {type(exc).__name__}: {exc}", []
                ) from exc
        raise AssertionError("unreachable")

    # ---- schema -------------------------------------------------------------------------------

    def describe_fields(self, sobject: str = "Account") -> dict[str, dict[str, Any]]:
        """Field name -> its describe entry (type, updateable, ...), fetched once per resource."""
        if sobject not in self._state.describes:
            described = self._call(
                f"describe {sobject}", lambda sf: getattr(sf, sobject).describe()
            )
            self._state.describes[sobject] = {f["name"]: dict(f) for f in described["fields"]}
        return self._state.describes[sobject]

    def validate_fields(self, fields: Sequence[str], sobject: str = "Account") -> list[str]:
        """The canonical names of `fields`; SalesforceUnknownField naming any the org lacks."""
        known = self.describe_fields(sobject)
        by_lower = {name.lower(): name for name in known}
        unknown = [f for f in fields if f.lower() not in by_lower]
        if unknown:
            suggestions = {
                n: match[0]
                for n in unknown
                if (match := difflib.get_close_matches(n, list(known), n=1))
            }
            raise SalesforceUnknownField(sobject, unknown, suggestions)
        return [by_lower[f.lower()] for f in fields]

    # ---- reads --------------------------------------------------------------------------------

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

    def _bulk_request(
        self, sf: Salesforce, method: str, path: str, **kwargs: Any
    ) -> requests.Response:
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

    def update_account(self, account_id: str, fields: Mapping[str, Any]) -> None:
        """PATCH an Account. Validation failures raise SalesforceApiError with Salesforce's
        errorCode, message and field names, for the caller to record as a rejected row."""
        if not fields:
            raise ValueError("update_account needs at least one field")
        data = dict(fields)
        self._call(f"update Account {account_id}", lambda sf: sf.Account.update(account_id, data))


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
