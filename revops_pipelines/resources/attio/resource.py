"""The Attio Dagster resource."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dagster as dg
from pydantic import Field

from revops_pipelines.infra.breaker import BreakerGuard
from revops_pipelines.infra.cache import Cache, CacheStats, cache_for
from revops_pipelines.infra.rate_budget import (
    INTERACTIVE,
    Priority,
    RateBudget,
    RateBudgeted,
    budget_for,
)
from revops_pipelines.infra.retry import RetrySettings
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.transport import DEFAULT_BASE_URL

BASE_URL_ENV = "ATTIO_BASE_URL"
SCHEMA_ENTRIES = 4096  # far more than a workspace's objects, lists and their attributes


class AttioResource(BreakerGuard, RateBudgeted, dg.ConfigurableResource):
    """Attio CRM over its REST API v2, within the documented rate budgets.

    Build it from the environment: `AttioResource(api_key=dg.EnvVar("ATTIO_API_KEY"))`.
    Every client of the credential, in every process, shares its rate budget (Redis when
    `redis_url` is set, else the store's database). `priority` says who draws first:
    interactive flows (leads, Attio events) or bulk ones (syncs, usage), which take what is
    left; a flow's asset passes its own to `client(priority=...)`.
    """

    api_key: str = Field(description="Attio access token (ATTIO_API_KEY).")
    base_url: str = Field(
        default="", description="API root; empty reads ATTIO_BASE_URL when a run starts."
    )
    write_rate_per_second: float = Field(default=25.0, gt=0, description="Write budget.")
    read_rate_per_second: float = Field(default=100.0, gt=0, description="Read budget.")
    max_attempts: int = Field(default=6, ge=1, description="Attempts per call, first included.")
    max_total_wait_seconds: float = Field(
        default=60.0, ge=0, description="Cap on time spent waiting between attempts of one call."
    )
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_concurrency: int = Field(default=16, ge=1, description="Requests in flight at once.")
    # Off unless set: the code location sets them from the REVOPS_ENV profile (resource_defs).
    schema_cache_ttl_seconds: float = Field(default=0.0, ge=0, description="Schema cache TTL.")
    record_cache_ttl_seconds: float = Field(default=0.0, ge=0, description="Record cache TTL.")
    record_cache_size: int = Field(default=10_000, ge=0, description="In-memory record LRU size.")
    redis_url: str | None = Field(
        default=None, description="Rate budget, schema and record caches in Redis (REDIS_URL)."
    )
    priority: Priority = Field(
        default=INTERACTIVE, description="interactive (drawn first) or bulk (what is left)."
    )

    def resolved_base_url(self) -> str:
        return self.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL

    def schema_cache(self) -> Cache:
        return cache_for(
            "Attio",
            "schema",
            self.resolved_base_url(),
            self.api_key,
            ttl=self.schema_cache_ttl_seconds,
            size=SCHEMA_ENTRIES,
            redis_url=self.redis_url,
        )

    def record_cache(self) -> Cache:
        return cache_for(
            "Attio",
            "record",
            self.resolved_base_url(),
            self.api_key,
            ttl=self.record_cache_ttl_seconds,
            size=self.record_cache_size,
            redis_url=self.redis_url,
        )

    def cache_snapshot(self) -> tuple[CacheStats, CacheStats]:
        """The caches' counters now; give it back to `cache_metadata` at the end of a step."""
        return self.schema_cache().stats.copy(), self.record_cache().stats.copy()

    def cache_metadata(self, since: tuple[CacheStats, CacheStats]) -> dict[str, object]:
        """Hits, misses and hit rate of both caches since the snapshot (asset metadata)."""
        schema = self.schema_cache().stats.since(since[0])
        records_cache = self.record_cache()
        records = records_cache.stats.since(since[1])
        return {
            "schema_cache_hits": schema.hits,
            "schema_cache_misses": schema.misses,
            "schema_cache_hit_rate": schema.hit_rate if schema.hit_rate is not None else "n/a",
            "record_cache": records_cache.backend if records_cache.enabled else "off",
            "record_cache_hits": records.hits,
            "record_cache_misses": records.misses,
            "record_cache_hit_rate": records.hit_rate if records.hit_rate is not None else "n/a",
            "record_cache_evictions": records.evictions,
            "record_cache_errors": records.errors,  # the store failed (Redis down): misses
        }

    def breaker_identity(self) -> tuple[str, str, str]:
        return "Attio", self.resolved_base_url(), self.api_key

    def rate_limits(self) -> dict[str, float | None]:
        return {"write": self.write_rate_per_second, "read": self.read_rate_per_second}

    def rate_budget(self) -> RateBudget:
        api, base_url, credential = self.breaker_identity()
        return budget_for(api, base_url, credential, self.rate_limits(), redis_url=self.redis_url)

    @asynccontextmanager
    async def client(self, priority: Priority | None = None) -> AsyncIterator[AttioClient]:
        """An open client for the current event loop, closed when the block ends; its requests
        draw from the shared budget at `priority` (default: the resource's)."""
        client = AttioClient.connect(
            api_key=self.api_key,
            base_url=self.resolved_base_url(),
            write_rate=self.write_rate_per_second,
            read_rate=self.read_rate_per_second,
            retry=RetrySettings(
                max_attempts=self.max_attempts, max_total_wait_seconds=self.max_total_wait_seconds
            ),
            timeout_seconds=self.timeout_seconds,
            max_concurrency=self.max_concurrency,
            schema_cache=self.schema_cache(),
            record_cache=self.record_cache(),
            budget=self.rate_budget(),
            priority=priority or self.priority,
        )
        try:
            yield client
        finally:
            await client.aclose()
