"""The Attio Dagster resource."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dagster as dg
from pydantic import Field

from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.retry import RetrySettings
from revops_pipelines.resources.attio.transport import DEFAULT_BASE_URL
from revops_pipelines.resources.breaker import BreakerGuard

BASE_URL_ENV = "ATTIO_BASE_URL"


class AttioResource(BreakerGuard, dg.ConfigurableResource):
    """Attio CRM over its REST API v2, within the documented rate budgets.

    Build it from the environment: `AttioResource(api_key=dg.EnvVar("ATTIO_API_KEY"))`.
    Every client opened from one resource in one process shares the credential's budget.
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

    def resolved_base_url(self) -> str:
        return self.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL

    def breaker_identity(self) -> tuple[str, str, str]:
        return "Attio", self.resolved_base_url(), self.api_key

    @asynccontextmanager
    async def client(self) -> AsyncIterator[AttioClient]:
        """An open client for the current event loop, closed when the block ends."""
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
        )
        try:
            yield client
        finally:
            await client.aclose()
