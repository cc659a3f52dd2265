"""Helpers for the Attio client tests: a client on the sandbox, and a wire recorder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from revops_pipelines.resources.attio import AttioClient, RetrySettings

KEY = "sandbox-attio-key"
FAST_RETRY = RetrySettings(max_attempts=6, max_total_wait_seconds=20, initial_backoff_seconds=0.02)


@dataclass
class Exchange:
    method: str
    path: str
    sent_at: float
    body: bytes = b""
    status: int | None = None
    retry_after: str | None = None
    answered_at: float | None = None


@dataclass
class RecordingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, noting when each request left and what came back."""

    inner: httpx.AsyncHTTPTransport = field(default_factory=httpx.AsyncHTTPTransport)
    exchanges: list[Exchange] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        exchange = Exchange(request.method, request.url.path, time.time(), request.content)
        self.exchanges.append(exchange)
        response = await self.inner.handle_async_request(request)
        exchange.status = response.status_code
        exchange.retry_after = response.headers.get("Retry-After")
        exchange.answered_at = time.time()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def connect(sandbox: Any, **kwargs: Any) -> AttioClient:
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("api_key", KEY)
    return AttioClient.connect(base_url=sandbox.api_url, **kwargs)


def admin(sandbox: Any, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{sandbox.url}/_sandbox/{path}", **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None
