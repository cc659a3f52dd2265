"""The Attio client: one object per credential and event loop, grouping the endpoint families."""

from __future__ import annotations

from types import TracebackType

import httpx

from revops_pipelines.infra.breaker import breaker_for
from revops_pipelines.infra.cache import Cache
from revops_pipelines.infra.rate_budget import INTERACTIVE, Priority, RateBudget, budget_for
from revops_pipelines.infra.retry import RetrySettings
from revops_pipelines.resources.attio.activities import ListsAPI, NotesAPI, TasksAPI
from revops_pipelines.resources.attio.records import RecordsAPI
from revops_pipelines.resources.attio.transport import DEFAULT_BASE_URL, AttioTransport
from revops_pipelines.resources.attio.workspace import WorkspaceAPI


class AttioClient:
    """Async Attio v2 client. Many calls may run at once (`asyncio.gather`); the shared budget
    spaces them within Attio's rate limits and the retry policy absorbs transient failures.

    ```python
    async with AttioClient.connect(api_key=...) as attio:
        company = await attio.records.assert_record(
            "companies", matching_attribute="domains", values={"domains": ["acme.com"]}
        )
    ```
    """

    def __init__(
        self,
        transport: AttioTransport,
        *,
        schema_cache: Cache | None = None,
        record_cache: Cache | None = None,
    ) -> None:
        self.transport = transport
        self.records = RecordsAPI(transport, record_cache)
        self.lists = ListsAPI(transport)
        self.notes = NotesAPI(transport)
        self.tasks = TasksAPI(transport)
        self.workspace = WorkspaceAPI(transport, schema_cache)

    @classmethod
    def connect(
        cls,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        write_rate: float = 25.0,
        read_rate: float = 100.0,
        retry: RetrySettings | None = None,
        timeout_seconds: float = 30.0,
        max_concurrency: int = 16,
        http_transport: httpx.AsyncBaseTransport | None = None,
        schema_cache: Cache | None = None,
        record_cache: Cache | None = None,
        budget: RateBudget | None = None,
        priority: Priority = INTERACTIVE,
    ) -> AttioClient:
        """`budget`: the credential's shared budget (default: from the settings at these
        rates); `priority`: interactive callers draw first, bulk ones take what is left."""
        transport = AttioTransport(
            api_key=api_key,
            base_url=base_url,
            budget=budget
            or budget_for("Attio", base_url, api_key, {"write": write_rate, "read": read_rate}),
            retry=retry or RetrySettings(),
            timeout_seconds=timeout_seconds,
            max_concurrency=max_concurrency,
            breaker=breaker_for("Attio", base_url, api_key),
            http_transport=http_transport,
            priority=priority,
        )
        return cls(transport, schema_cache=schema_cache, record_cache=record_cache)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> AttioClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
