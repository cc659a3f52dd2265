"""Company enrichment from a Clearbit-format API: the client, and nothing else.

`EnrichmentResource.lookup(domain)` answers found (name, employees, industry, country), pending
(the API queued the lookup: 202), not_found (404) or error; it never raises, because enrichment
is optional and must not block a lead. A GET is safe to repeat, so 429 (honouring
`Retry-After`), 5xx, timeouts and dropped connections are retried under the shared retry policy;
past its bound the result is an error. Caching the answers is the caller's (the lead flow's
`services/leads/enrichment.py`). The key goes only into the `Authorization` header: never into
logs or results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import dagster as dg
import httpx
from pydantic import Field, PrivateAttr

from revops_pipelines.infra.breaker import is_transient_status
from revops_pipelines.infra.errors import ApiError
from revops_pipelines.infra.retry import RetrySettings, call, retry_after_seconds
from revops_pipelines.resources.http_api import HttpApiResource

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
    description: str | None = None
    city: str | None = None

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
            description=payload.get("description"),
            city=geo.get("city"),
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


class EnrichmentError(ApiError):
    """A failed lookup; `lookup` turns it into an error result, never raises it."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        outage: bool,
        status_code: int | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason, self.retryable, self.status_code = reason, retryable, status_code
        self.retry_after_seconds = retry_after_seconds
        self.outage = outage  # no answer, 408 or 5xx: counts toward opening the breaker


def normalize_domain(domain: str) -> str:
    text = (domain or "").strip().lower().rstrip(".")
    return text.removeprefix("www.")


class EnrichmentResource(HttpApiResource, dg.ConfigurableResource):
    """A Clearbit-format company API (`GET /v2/companies/find?domain=`). Build with `from_env()`."""

    api_key: str | None = Field(default=None, repr=False, description="ENRICHMENT_API_KEY.")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="ENRICHMENT_BASE_URL.")
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, description="Attempts per lookup.")
    max_total_wait_seconds: float = Field(default=10.0, ge=0, description="Retry wait cap.")

    _http: httpx.Client | None = PrivateAttr(default=None)

    @classmethod
    def from_env(cls, **overrides: Any) -> EnrichmentResource:
        """ENRICHMENT_API_KEY through `dg.EnvVar` when set (else the resource is unconfigured
        and lookups answer "error" with the reason); ENRICHMENT_BASE_URL read now."""
        return cls(**{**cls.env_values(ENV_VARS), **overrides})

    def configuration_problem(self) -> str | None:
        """Why lookups cannot run, naming the variable (never its value); or None."""
        if not (self.api_key or "").strip():
            return "enrichment is not configured: set ENRICHMENT_API_KEY (and ENRICHMENT_BASE_URL)"
        if not self.base_url.startswith(("http://", "https://")):
            return "ENRICHMENT_BASE_URL must be an http(s):// URL"
        return None

    def breaker_identity(self) -> tuple[str, str, str]:
        return "Enrichment", self.base_url, (self.api_key or "").strip()

    def retry_settings(self) -> RetrySettings:
        # A lead waits on the lookup: backoff stays short (5 s at most).
        return RetrySettings(
            max_attempts=self.max_attempts,
            max_total_wait_seconds=self.max_total_wait_seconds,
            max_backoff_seconds=5.0,
        )

    # --- the lookup ------------------------------------------------------------------------
    def lookup(self, domain: str) -> EnrichmentResult:
        """The company behind `domain`, asked of the API (retries included, under the breaker:
        open, it answers at once); failures are error results."""
        domain = normalize_domain(domain)
        if not domain:
            return EnrichmentResult(domain, "error", error="no domain to look up")
        problem = self.configuration_problem()
        if problem:
            return EnrichmentResult(domain, "error", error=problem)
        try:
            return call(
                lambda: self._get(domain), self.retry_settings(), breaker=self.circuit_breaker()
            )
        except ApiError as exc:  # its own failures, and an open breaker's refusal
            log.warning("enrichment of %s failed: %s", domain, exc)
            return EnrichmentResult(domain, "error", error=str(exc))

    def _client(self) -> httpx.Client:
        return self._open_http(
            self.base_url,
            {"Authorization": f"Bearer {(self.api_key or '').strip()}"},
            self.timeout_seconds,
        )

    def _get(self, domain: str) -> EnrichmentResult:
        client = self._client()
        self.rate_budget().acquire_sync("read")
        try:
            response = client.get(FIND_PATH, params={"domain": domain})
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__} reaching the enrichment API"
            raise EnrichmentError(reason, retryable=True, outage=True) from exc
        status = response.status_code
        if status == 200:
            try:
                payload = response.json()
            except ValueError:
                reason = "the enrichment API answered 200 with no JSON"
                raise EnrichmentError(reason, retryable=True, outage=False) from None
            company = CompanyProfile.from_payload(domain, payload)
            return EnrichmentResult(domain, "found", company=company, payload=payload)
        if status == 202:
            return EnrichmentResult(domain, "pending")
        if status == 404:
            return EnrichmentResult(domain, "not_found")
        wait = None
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
        reason = f"HTTP {status} {_error_type(response)}".strip()
        if status in (401, 403):
            reason += " (check ENRICHMENT_API_KEY)"
        raise EnrichmentError(
            reason,
            retryable=status in _TRANSIENT,
            outage=is_transient_status(status),
            status_code=status,
            retry_after_seconds=wait,
        )


def _error_type(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        return str(error.get("type") or "")
    except (ValueError, AttributeError):
        return ""
