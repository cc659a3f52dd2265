"""Group commit for the receiver: deliveries that arrive together share one INSERT and one commit.

Each request waits for the commit that holds its row before it is answered, so an acknowledged
delivery is durable. At low load a batch is a single delivery (no added latency); under load, the
deliveries that queue up while a commit is in flight go into the next one. A batch that fails is
retried one delivery at a time, so one bad row cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent, StoreResult

logger = logging.getLogger("revops.webhooks")
_Item = tuple[NewEvent, "asyncio.Future[StoreResult]"]


class BatchWriter:
    def __init__(
        self,
        engine: sa.Engine,
        *,
        max_batch: int = 100,
        writers: int = 2,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._writers = writers
        self._timeout = timeout_seconds
        self._queue: asyncio.Queue[_Item] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def store(self, event: NewEvent) -> StoreResult:
        """Store `event`; returns once it is committed (or raises, e.g. the database is down)."""
        if self._queue is None or any(t.done() for t in self._tasks):
            self._start()
        assert self._queue is not None
        future: asyncio.Future[StoreResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event, future))
        return await asyncio.wait_for(asyncio.shield(future), self._timeout)

    def _start(self) -> None:
        """Start the writer tasks in the running loop (lazily: the app is built outside it)."""
        for task in self._tasks:
            task.cancel()
        self._queue = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._run()) for _ in range(self._writers)]

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                outcomes = await run_in_threadpool(self._write, [event for event, _ in batch])
            except Exception as exc:  # the thread pool itself failed: fail this batch only
                outcomes = [exc] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _write(self, events: list[NewEvent]) -> list[StoreResult | Exception]:
        try:
            return list(inbox.store_events(self._engine, events))
        except Exception as exc:
            if len(events) == 1:
                return [exc]
            logger.warning(
                "batch insert failed; storing one by one",
                extra={"fields": {"event": "batch_retry", "size": len(events)}},
            )
        outcomes: list[StoreResult | Exception] = []
        for event in events:
            try:
                outcomes.extend(inbox.store_events(self._engine, [event]))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes
