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

import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import dagster as dg
import requests
from pydantic import Field, PrivateAttr

from revops_pipelines.infra.breaker import counts_toward_opening
from revops_pipelines.infra.retry import RetrySettings, call
from revops_pipelines.resources.salesforce_bulk import BulkReads
from revops_pipelines.resources.salesforce_http import (  # noqa: F401  (re-exported)
    ENV_VARS,
    ApiUsage,
    SalesforceApiError,
    SalesforceAuthenticationError,
    SalesforceBreaker,
    SalesforceError,
    SalesforceNotConfigured,
    SalesforceRequestLimitExceeded,
    SalesforceUnknownField,
    T,
    _error_details,
    _Session,
    _State,
    connection_error,
    is_transient,
    parse_limit_info,
    refusal,
)
from revops_pipelines.resources.salesforce_reads import RestReads

# simple-salesforce is imported where a request is made: loading the definitions must not load it.
if TYPE_CHECKING:
    from simple_salesforce import Salesforce


class SalesforceResource(RestReads, BulkReads, SalesforceBreaker, dg.ConfigurableResource):
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
    max_total_wait_seconds: float = Field(
        default=120.0, ge=0, description="Cap on time spent waiting between attempts of a call."
    )
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
        from simple_salesforce import Salesforce
        from simple_salesforce import exceptions as sf_exc
        from simple_salesforce.login import SalesforceLogin

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

        def login() -> tuple[str, str]:
            try:
                return SalesforceLogin(
                    username=self.username,
                    password=self.password,
                    security_token=self.security_token or None,
                    sf_version=self.api_version,
                    session=session,
                    scratch_url=self.login_url(),
                )
            except sf_exc.SalesforceAuthenticationFailed as exc:
                raise SalesforceAuthenticationError(
                    f"Salesforce login at {self.login_url()} failed: {exc.code}: "
                    f"{exc.auth_message}",
                    retryable=is_transient(exc),
                    outage=counts_toward_opening(exc),
                ) from None
            except requests.RequestException as exc:
                raise connection_error("login", exc) from exc

        session_id, instance = self._with_retries("login", login)
        return Salesforce(
            instance=instance, session_id=session_id, version=self.api_version, session=session
        )

    def retry_settings(self) -> RetrySettings:
        return RetrySettings(
            max_attempts=self.max_attempts,
            max_total_wait_seconds=self.max_total_wait_seconds,
            initial_backoff_seconds=self.retry_initial_seconds,
            max_backoff_seconds=self.retry_max_seconds,
        )

    def _with_retries(self, what: str, attempt: Callable[[], T]) -> T:
        """`attempt` under the shared retry policy and this org's breaker and rate budget."""

        def budgeted() -> T:
            self.rate_budget().acquire_sync("api")
            return attempt()

        return call(
            budgeted,
            self.retry_settings(),
            breaker=self.circuit_breaker(),
            what=f"Salesforce {what}",
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
        """Run one request with retries; Salesforce's refusals arrive as this module's errors
        (transient ones retried first: see `is_transient`)."""
        from simple_salesforce import exceptions as sf_exc

        for relogin in (True, False):
            self._check_budget()
            client = self.client()
            try:
                return self._with_retries(what, partial(self._attempt, what, fn, client))
            except sf_exc.SalesforceExpiredSession:
                if relogin and not self.access_token:
                    self._state.client = None  # the password session expired: log in again
                    continue
                raise SalesforceAuthenticationError(
                    f"Salesforce {what}: the session is expired or invalid (INVALID_SESSION_ID)"
                ) from None
        raise AssertionError("unreachable")

    def _attempt(self, what: str, fn: Callable[[Salesforce], T], client: Salesforce) -> T:
        """One request; a failure becomes an `ApiError` of this module (an expired session
        stays simple-salesforce's, for `_call` to log in again)."""
        from simple_salesforce import exceptions as sf_exc

        try:
            return fn(client)
        except sf_exc.SalesforceExpiredSession:
            raise
        except sf_exc.SalesforceError as exc:
            refused = refusal(what, exc, self._state.usage)
            if isinstance(refused, SalesforceRequestLimitExceeded):
                self._state.usage = None  # a later call asks the org afresh
            raise refused from None
        except requests.RequestException as exc:
            raise connection_error(what, exc) from exc

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

    def update_account(self, account_id: str, fields: Mapping[str, Any]) -> None:
        """PATCH an Account. Validation failures raise SalesforceApiError with Salesforce's
        errorCode, message and field names, for the caller to record as a rejected row."""
        if not fields:
            raise ValueError("update_account needs at least one field")
        data = dict(fields)
        self._call(f"update Account {account_id}", lambda sf: sf.Account.update(account_id, data))
