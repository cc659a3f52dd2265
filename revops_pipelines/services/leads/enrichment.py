"""Company enrichment for the lead flow, cache-aside over the store: look in the enrichment
cache, else ask the enrichment API, then keep the answer for its TTL.

Found answers are kept for days, pending and not_found ones for minutes, errors not at all, so
a second lookup of a domain in that time makes no HTTP call. A cache that cannot be read or
written (a broken store) is a miss, never a failed lookup: enrichment is optional.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from revops_pipelines.resources.enrichment import (
    CompanyProfile,
    EnrichmentResource,
    EnrichmentResult,
    Status,
    normalize_domain,
)
from revops_pipelines.store.enrichment import cached_answer, store_answer

log = logging.getLogger("revops.enrichment")


@dataclass(frozen=True)
class CachePolicy:
    """How long each kind of answer is kept (errors never are)."""

    found: timedelta = timedelta(days=7)
    pending: timedelta = timedelta(minutes=5)
    not_found: timedelta = timedelta(minutes=60)

    def ttl(self, status: Status) -> timedelta:
        return {"found": self.found, "pending": self.pending}.get(status, self.not_found)


@dataclass(frozen=True)
class CompanyEnrichment:
    """The enrichment client with the store's cache in front of it."""

    client: EnrichmentResource
    engine: sa.Engine
    policy: CachePolicy = CachePolicy()

    def company(self, domain: str) -> EnrichmentResult:
        """The company behind `domain`: from the cache while fresh, else from the API."""
        cached = self._cached(normalize_domain(domain))
        if cached is not None:
            return cached
        result = self.client.lookup(domain)
        if result.status != "error":
            self._store(result)
        return result

    def _cached(self, domain: str) -> EnrichmentResult | None:
        if not domain or self.client.configuration_problem():
            return None  # the client answers those with the reason, and nothing is cached
        try:
            row = cached_answer(self.engine, domain)
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
        try:
            store_answer(
                self.engine,
                result.domain,
                result.status,
                result.payload or None,
                fetched_at=now,
                expires_at=now + self.policy.ttl(result.status),
            )
        except sa.exc.SQLAlchemyError as exc:
            log.warning("enrichment cache not written (%s)", type(exc).__name__)
