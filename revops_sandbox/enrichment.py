"""`EnrichmentSandbox`: a Clearbit-format company API (`GET /v2/companies/find?domain=`).

Answers as Clearbit's Company API did: 200 with the company (name, legalName, domain, category,
geo, metrics, ...); 202 while a lookup is queued (the first lookups of the "pending" domains),
then 200; 404 for a domain it does not know; 422 for a malformed domain; 401 without a valid key
(`Authorization: Bearer <key>`, or HTTP Basic with the key as the user name); 429 with
`Retry-After: <seconds>` past the per-key request rate. Point `ENRICHMENT_BASE_URL` at the
server's root. Admin routes under `/_sandbox/` (faults, config, reset, stats) are the Attio
sandbox's; `lookups()` and `stats()` count what reached the API.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from revops_sandbox.attio.gateway import send_json
from revops_sandbox.attio.limits import RateLimiter
from revops_sandbox.front import SandboxFront, authorization

ENRICHMENT_SANDBOX_KEY = "sk_sandbox_enrichment"
FIND_PATH = "/v2/companies/find"
_DOMAIN = re.compile(
    r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$"
)
# (domain, name, employees, employeesRange, sector, industry, city, country, countryCode)
SEED_COMPANIES = (
    ("analytical.example", "Analytical Engines", 540, "251-1K", "Information Technology",
     "Internet Software & Services", "London", "United Kingdom", "GB"),
    ("navy.example", "Navy Compilers", 12000, "10K-50K", "Industrials",
     "Aerospace & Defense", "Arlington", "United States", "US"),
    ("kernel.example", "Kernel Labs", 85, "51-250", "Information Technology",
     "Systems Software", "Helsinki", "Finland", "FI"),
    ("apollo.example", "Apollo Guidance", 2300, "1K-5K", "Industrials",
     "Aerospace & Defense", "Cambridge", "United States", "US"),
    ("acme.example", "Acme Corp", 48, "11-50", "Consumer Discretionary",
     "Specialty Retail", "Paris", "France", "FR"),
    ("globex.example", "Globex", 7400, "5K-10K", "Energy",
     "Oil, Gas & Consumable Fuels", "Singapore", "Singapore", "SG"),
)  # fmt: skip
PENDING_DOMAINS = ("kernel.example", "globex.example")  # queued (202) on their first lookups
# UNCONFIRMED: the exact error bodies; these follow Clearbit's {"error": {"type", "message"}}.
ERRORS = {
    401: ("auth_required", "The API key is missing or invalid."),
    404: ("unknown_record", "Unknown company domain."),
    422: ("invalid_domain", "The domain parameter is missing or not a valid domain."),
    429: ("rate_limit", "Rate limit exceeded. Retry after the number of seconds in Retry-After."),
    500: ("internal_error", "Something went wrong on our end."),
    503: ("service_unavailable", "The service is temporarily unavailable."),
}
# rate: requests/s per key (None = off); latency_ms; pending_lookups: 202s before a pending 200.
CONFIG_KEYS = ("rate", "latency_ms", "pending_lookups")


def _error(status: int) -> dict[str, Any]:
    kind, message = ERRORS[status]
    return {"error": {"type": kind, "message": message}}


def company_payload(
    domain: str,
    name: str,
    employees: int,
    employees_range: str,
    sector: str,
    industry: str,
    city: str,
    country: str,
    country_code: str,
) -> dict[str, Any]:
    """A company in the Clearbit Company API's shape (the fields in the reference, §7.3)."""
    return {
        "id": hashlib.sha1(domain.encode()).hexdigest()[:24],
        "name": name,
        "legalName": f"{name} Ltd",
        "domain": domain,
        "domainAliases": [],
        "category": {"sector": sector, "industryGroup": None, "industry": industry,
                     "subIndustry": None, "sicCode": None, "naicsCode": None},
        "tags": [],
        "description": f"{name} ({industry}).",
        "foundedYear": None,
        "type": "private",
        "ticker": None,
        "geo": {"city": city, "state": None, "stateCode": None, "country": country,
                "countryCode": country_code, "lat": None, "lng": None},
        "metrics": {"employees": employees, "employeesRange": employees_range,
                    "estimatedAnnualRevenue": None, "raised": None, "annualRevenue": None},
        "tech": [],
        "techCategories": [],
        "parent": {"domain": None},
        "ultimateParent": {"domain": None},
        "indexedAt": "2026-11-01T00:00:00.000Z",
    }  # fmt: skip


class EnrichmentSandbox(SandboxFront):
    """Companies by domain, some queued at first, behind keys, a rate limit and faults."""

    CONFIG_KEYS = CONFIG_KEYS
    INT_KEYS = frozenset({"pending_lookups"})

    def __init__(
        self,
        api_keys: Iterable[str] = (ENRICHMENT_SANDBOX_KEY,),
        pending_domains: Iterable[str] = PENDING_DOMAINS,
        pending_lookups: int = 1,
        rate: float | None = 10.0,
        latency_ms: float = 0.0,
    ) -> None:
        super().__init__()
        self.api_keys = frozenset(api_keys)
        self._seed_pending = frozenset(pending_domains)
        self.limiter = RateLimiter(None, rate)
        self.latency_ms, self.pending_lookups = float(latency_ms), int(pending_lookups)
        self.reset()

    # --- configuration and accessors -------------------------------------------------------
    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change rate (requests/s per key, None = off), latency_ms or pending_lookups."""
        self._check_keys(changes)
        if "rate" in changes:
            self.limiter.configure("read", changes["rate"])
        for key in ("latency_ms", "pending_lookups"):
            self._set(key, changes.get(key, getattr(self, key)))
        return self.config()

    def config(self) -> dict[str, Any]:
        return {
            "rate": self.limiter.rate("read"),
            "latency_ms": self.latency_ms,
            "pending_lookups": self.pending_lookups,
        }

    def _reset_state(self) -> None:
        """The seeded companies, nothing looked up yet, empty windows."""
        self.companies = {row[0]: company_payload(*row) for row in SEED_COMPANIES}
        self.pending = set(self._seed_pending)
        self._lookups: Counter[str] = Counter()
        self.limiter.reset()

    def add_company(self, domain: str, name: str, *, pending: bool = False, **fields: Any) -> None:
        """Add (or replace) a company; `fields` override the payload's top-level keys."""
        row = (domain, name, 10, "1-10", "Information Technology", "Software", "", "", "")
        with self.lock:
            self.companies[domain] = company_payload(*row) | fields
            if pending:
                self.pending.add(domain)

    def lookups(self) -> dict[str, int]:
        """How many requests reached the API per domain (answered or not)."""
        with self.lock:
            return dict(self._lookups)

    def stats(self) -> dict[str, Any]:
        return {**self._stats.snapshot(), "lookups": self.lookups()}

    # --- the API (the front's admin routes, latency and faults are around it) ---------------
    async def _send_fault(self, send: Send, status: int, headers: dict[str, str]) -> None:
        await send_json(send, status, _error(status))

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, body, headers = self._answer(scope)
        await send_json(send, status, body, headers)

    def _answer(self, scope: Scope) -> tuple[int, Any, dict[str, str]]:
        if scope["path"] != FIND_PATH:
            return 404, {"error": {"type": "not_found", "message": "Unknown endpoint."}}, {}
        if scope["method"] != "GET":
            return 405, {"error": {"type": "method_not_allowed", "message": "Use GET."}}, {}
        key = _api_key(authorization(scope))
        if key not in self.api_keys:
            return 401, _error(401), {"WWW-Authenticate": 'Bearer realm="enrichment"'}
        free_at = self.limiter.acquire(key, "read")
        if free_at is not None:
            self._stats.bump("rate_limited")
            wait = max(1, math.ceil(free_at - time.time()))
            return 429, _error(429), {"Retry-After": str(wait)}
        query = dict(_query(scope))
        domain = query.get("domain", "").strip().lower().removeprefix("www.").rstrip(".")
        if not _DOMAIN.match(domain):
            return 422, _error(422), {}
        with self.lock:
            self._lookups[domain] += 1
            if domain in self.pending and self._lookups[domain] <= self.pending_lookups:
                # UNCONFIRMED: the 202 body; Clearbit documents the status, not the body.
                queued = {"type": "queued", "message": "The lookup is queued; retry shortly."}
                return 202, {"error": queued}, {}
            company = self.companies.get(domain)
        if company is None:
            return 404, _error(404), {}
        return 200, company, {}


def _api_key(header: str) -> str:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip()).decode().partition(":")[0]
        except ValueError:
            return ""
    return ""


def _query(scope: Scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
