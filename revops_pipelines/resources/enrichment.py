"""Company enrichment from a Clearbit-format API, cached per domain in the store.

`EnrichmentResource.company(domain)` answers found (name, employees, industry, country),
pending (the API queued the lookup: 202), not_found (404) or error; it never raises, because
enrichment is optional and must not block a lead. Found results are cached for days, pending
and not_found ones for minutes, errors not at all, so a second lookup of a domain in that time
makes no HTTP call. 429 (honouring `Retry-After`), 5xx, timeouts and dropped connections are
retried briefly with backoff and jitter (a GET is safe to repeat); past that bound the result
is an error. The key goes only into the `Authorization` header: never into logs or results.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import dagster as dg
import httpx
import sqlalchemy as sa
import tenacity
from pydantic import Field, PrivateAttr

from revops_pipelines.infra.breaker import CircuitOpenError, is_transient_status
from revops_pipelines.infra.retry import retry_after_seconds
from revops_pipelines.resources.http_api import HttpApiResource
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.tables import enrichment_cache

log = logging.getLogger("revops.enrichment")
DEFAULT_BASE_URL = "https://company.clearbit.com"
FIND_PATH = "v2/companies/find"
ENV_VARS = {"api_key": "ENRICHMENT_API_KEY", "base_url": "ENRICHMENT_BASE_URL"}
Status = Literal["found", "pending", "not_found", "error"]
_TRANSIENT = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class CompanyProfile:
    """The fields the lead flow uses from a Clearbit company."""

    domain: str
    name: str | None
    employees: int | None
    employees_range: str | None
    industry: str | None
    country: str | None  # the country's name, as Clearbit's geo.country
    country_code: str | None  # ISO 3166 alpha-2

    @classmethod
    def from_payload(cls, domain: str, payload: dict[str, Any]) -> CompanyProfile:
        category, geo = payload.get("category") or {}, payload.get("geo") or {}
        metrics = payload.get("metrics") or {}
        employees = metrics.get("employees")
        return cls(
            domain=str(payload.get("domain") or domain),
            name=payload.get("name"),
            employees=employees if isinstance(employees, int) else None,
            employees_range=metrics.get("employeesRange"),
            industry=category.get("industry") or category.get("industryGroup")
            or category.get("sector"),
            country=geo.get("country"),
            country_code=geo.get("countryCode"),
        )  # fmt: skip

    def as_fields(self) -> dict[str, Any]:
        """What goes into `Lead.enrichment` (and the Slack message reads)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class EnrichmentResult:
    domain: str
    status: Status
    company: CompanyProfile | None = None
    error: str | None = None  # why, when status is "error" (never the key)
    from_cache: bool = False
    payload: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def found(self) -> bool:
        return self.status == "found"


class _Failed(Exception):
    def __init__(
        self, reason: str, retryable: bool, retry_after: float | None = None, *, outage: bool
    ) -> None:
        super().__init__(reason)
        self.reason, self.retryable, self.retry_after = reason, retryable, retry_after
        self.outage = outage  # no answer, 408 or 5xx: counts toward opening the breaker


def normalize_domain(domain: str) -> str:
    text = (domain or "").strip().lower().rstrip(".")
    return text.removeprefix("www.")


class EnrichmentResource(HttpApiResource, dg.ConfigurableResource):
    """A Clearbit-format company API (`GET /v2/companies/find?domain=`). Build with `from_env()`."""

    api_key: str | None = Field(default=None, repr=False, description="ENRICHMENT_API_KEY.")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="ENRICHMENT_BASE_URL.")
    database_url: str = Field(default="", description="The store; empty: REVOPS_DATABASE_URL.")
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, description="Attempts per lookup.")
    max_total_wait_seconds: float = Field(default=10.0, ge=0, description="Retry wait cap.")
    found_ttl_days: float = Field(default=7.0, ge=0)
    pending_ttl_minutes: float = Field(default=5.0, ge=0)
    not_found_ttl_minutes: float = Field(default=60.0, ge=0)

    _http: httpx.Client | None = PrivateAttr(default=None)

    @classmethod
    def from_env(cls, **overrides: Any) -> EnrichmentResource:
        """ENRICHMENT_API_KEY through `dg.EnvVar` when set (else the resource is unconfigured
        and lookups answer "error" with the reason); ENRICHMENT_BASE_URL read now."""
        values: dict[str, Any] = {}
        if os.environ.get(ENV_VARS["api_key"]):
            values["api_key"] = dg.EnvVar(ENV_VARS["api_key"])
        if os.environ.get(ENV_VARS["base_url"]):
            values["base_url"] = os.environ[ENV_VARS["base_url"]]
        return cls(**{**values, **overrides})

    def configuration_problem(self) -> str | None:
        """Why lookups cannot run, naming the variable (never its value); or None."""
        if not (self.api_key or "").strip():
            return "enrichment is not configured: set ENRICHMENT_API_KEY (and ENRICHMENT_BASE_URL)"
        if not self.base_url.startswith(("http://", "https://")):
            return "ENRICHMENT_BASE_URL must be an http(s):// URL"
        return None

    def breaker_identity(self) -> tuple[str, str, str]:
        return "Enrichment", self.base_url, (self.api_key or "").strip()

    # --- the lookup ------------------------------------------------------------------------
    def company(self, domain: str) -> EnrichmentResult:
        """The company behind `domain`: from the cache while fresh, else from the API."""
        domain = normalize_domain(domain)
        if not domain:
            return EnrichmentResult(domain, "error", error="no domain to look up")
        problem = self.configuration_problem()
        if problem:
            return EnrichmentResult(domain, "error", error=problem)
        cached = self._cached(domain)
        if cached is not None:
            return cached
        try:
            # The breaker counts whole lookups (retries included); open, it answers at once.
            with self.circuit_breaker().calling():
                result = self._lookup(domain)
        except (_Failed, CircuitOpenError) as exc:
            log.warning("enrichment of %s failed: %s", domain, exc)
            return EnrichmentResult(domain, "error", error=str(exc))
        self._store(result)
        return result

    def _lookup(self, domain: str) -> EnrichmentResult:
        for attempt in self._retrying():
            with attempt:
                return self._get(domain)
        raise AssertionError("unreachable: the retry loop returns or raises")

    def _retrying(self) -> tenacity.Retrying:
        cap = self.max_total_wait_seconds

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Failed) and exc.retry_after is not None:
                return exc.retry_after + random.uniform(0, 0.1)
            return random.uniform(0, min(5.0, 0.25 * 2 ** (state.attempt_number - 1)))

        def too_long(state: tenacity.RetryCallState) -> bool:
            return state.idle_for + (state.upcoming_sleep or 0.0) > cap

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, _Failed) and e.retryable),
            wait=wait,
            stop=tenacity.stop_after_attempt(self.max_attempts) | too_long,
            reraise=True,
        )

    def _client(self) -> httpx.Client:
        return self._open_http(
            self.base_url,
            {"Authorization": f"Bearer {(self.api_key or '').strip()}"},
            self.timeout_seconds,
        )

    def _get(self, domain: str) -> EnrichmentResult:
        try:
            response = self._client().get(FIND_PATH, params={"domain": domain})
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__} reaching the enrichment API"
            raise _Failed(reason, True, outage=True) from exc
        status = response.status_code
        if status == 200:
            try:
                payload = response.json()
            except ValueError:
                reason = "the enrichment API answered 200 with no JSON"
                raise _Failed(reason, True, outage=False) from None
            company = CompanyProfile.from_payload(domain, payload)
            return EnrichmentResult(domain, "found", company=company, payload=payload)
        if status == 202:
            return EnrichmentResult(domain, "pending")
        if status == 404:
            return EnrichmentResult(domain, "not_found")
        wait = None
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"), now=datetime.now(UTC))
        reason = f"HTTP {status} {_error_type(response)}".strip()
        if status in (401, 403):
            reason += " (check ENRICHMENT_API_KEY)"
        raise _Failed(reason, status in _TRANSIENT, wait, outage=is_transient_status(status))

    # --- the cache -------------------------------------------------------------------------
    def _ttl(self, status: Status) -> timedelta:
        if status == "found":
            return timedelta(days=self.found_ttl_days)
        minutes = self.pending_ttl_minutes if status == "pending" else self.not_found_ttl_minutes
        return timedelta(minutes=minutes)

    def _engine(self) -> sa.Engine:
        return store_engine.get_engine(self.database_url or None)

    def _cached(self, domain: str) -> EnrichmentResult | None:
        try:
            with self._engine().connect() as connection:
                row = connection.execute(
                    sa.select(enrichment_cache).where(enrichment_cache.c.domain == domain)
                ).mappings().first()  # fmt: skip
        except sa.exc.SQLAlchemyError as exc:
            log.warning("enrichment cache unreadable (%s); asking the API", type(exc).__name__)
            return None
        if row is None or row["expires_at"] <= datetime.now(UTC):
            return None
        payload = row["payload"] or {}
        company = CompanyProfile.from_payload(domain, payload) if row["status"] == "found" else None
        return EnrichmentResult(domain, row["status"], company, from_cache=True, payload=payload)

    def _store(self, result: EnrichmentResult) -> None:
        now = datetime.now(UTC)
        row = {
            "domain": result.domain,
            "status": result.status,
            "payload": result.payload or None,
            "fetched_at": now,
            "expires_at": now + self._ttl(result.status),
        }
        try:
            with self._engine().begin() as connection:
                if connection.dialect.name == "postgresql":
                    from sqlalchemy.dialects.postgresql import insert
                else:
                    from sqlalchemy.dialects.sqlite import insert
                statement = insert(enrichment_cache).values(**row)
                changed = {k: statement.excluded[k] for k in row if k != "domain"}
                connection.execute(
                    statement.on_conflict_do_update(index_elements=["domain"], set_=changed)
                )
        except sa.exc.SQLAlchemyError as exc:
            log.warning("enrichment cache not written (%s)", type(exc).__name__)


def _error_type(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        return str(error.get("type") or "")
    except (ValueError, AttributeError):
        return ""
