"""Request-rate budgets per API credential, shared by every thread, process, run and machine.

A budget holds one limit per kind of request ("read", "write"; a client may name others, and a
call may add a `scope`, e.g. Slack's channel) for one API, base URL and credential. The state
lives in a shared backend: Redis when `REDIS_URL` is set (`rate_backends.py`), else the store's
database (`rate_database.py`, registered by definitions.py through `register_database_backend`),
else this process alone (a process that never loaded the definitions, e.g. a CLI command).
Each kind is a sliding-window log (pyrate-limiter): at most `limit` requests in any rolling
window, the window a little longer than the API's (`REVOPS_RATE_BUDGET_MARGIN_MS`).

On top of the library, a thin layer of ours:
- priority: interactive callers (leads, Attio events) draw from the whole budget; bulk callers
  (syncs, usage) stop one slot short of it, and yield while an interactive caller waits (it
  announces its demand in the backend), but never for longer than one window per request, so
  bulk always progresses;
- a 429 pauses the kind for everyone until its Retry-After (`pause`);
- when the shared store does not answer, a local budget of `REVOPS_RATE_BUDGET_FALLBACK_FRACTION`
  of the limit per process takes over (logged once; `mode()` says so for run metadata), and
  the shared budget is tried again every few seconds. A request never fails because of it.
  Each switch (to the fallback, or back) waits out one window first: the new log starts empty
  while the API's window still counts the requests the old one admitted.

A request counts from when it is admitted until its answer, then for one window from its answer:
however late it reaches the API, the API never sees more than the limit in its window. That
costs throughput, since each slot is held for a request's latency on top of the window (at 100 ms
a budget of 25/s gives about 22/s). With `REVOPS_RATE_BUDGET_TRANSIT_MS` set, a request whose
body was sent counts from then plus that allowance instead (the client marks `Slot.sent`): the
window holds as long as the API sees each request within the allowance of its sending; one it
sees later can meet a 429, which pauses the budget until Retry-After and is then resent (Attio:
"a rate limited response means that we have not processed the request").
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from revops_pipelines.infra.rate_backends import (
    BULK,
    INTERACTIVE,
    Backend,
    BackendUnavailable,
    Limit,
    LocalBackend,
    Priority,
    RedisBackend,
)
from revops_pipelines.infra.settings import load_settings

__all__ = ["BULK", "INTERACTIVE", "Limit", "Priority", "RateBudget", "budget_for"]

log = logging.getLogger("revops.rate_budget")

# How often a budget in fallback asks the shared store again.
PROBE_SECONDS = 5.0
# A waiting bulk caller looks again this often while an interactive caller has demand.
_YIELD_STEP_SECONDS = 0.01

_local = LocalBackend()  # this process's budgets: the fallback and the no-store default
_database_factory: Callable[[], Backend] | None = None
_redis: dict[str, RedisBackend] = {}
_registry_lock = threading.Lock()


def register_database_backend(factory: Callable[[], Backend]) -> None:
    """The budget kept in the store's database when Redis is not configured: infra may not
    import the store, so definitions.py registers its backend here. The factory is called for
    each new budget, so it follows the store's URL at that moment; it returns the same backend
    for the same database."""
    global _database_factory
    _database_factory = factory


def shared_backend(redis_url: str | None) -> Backend | None:
    """The backend every process shares: Redis, else the registered database, else none."""
    if redis_url:
        with _registry_lock:
            if redis_url not in _redis:
                _redis[redis_url] = RedisBackend(redis_url)
            return _redis[redis_url]
    return _database_factory() if _database_factory is not None else None


class RateBudget:
    """The request limits of one API credential; each kind (and scope) is limited on its own."""

    def __init__(
        self,
        api: str,
        rates: Mapping[str, float | None],
        *,
        key: str,
        backend: Backend | None,
        margin_ms: int = 10,
        fallback_fraction: float = 0.25,
        transit_ms: int | None = None,
    ) -> None:
        self.api = api
        self.transit_ms = transit_ms
        self.rates = dict(rates)
        self.key = key
        self.limits = {
            kind: Limit.per_second(rate, margin_ms=margin_ms)
            for kind, rate in rates.items()
            if rate is not None
        }
        self._fallback_limits = {
            kind: limit.scaled(fallback_fraction, margin_ms) for kind, limit in self.limits.items()
        }
        self._shared = backend
        self._fallback_reason: str | None = None
        self._next_probe = 0.0
        self._switched_at = float("-inf")
        self._lock = threading.Lock()

    def rate(self, kind: str) -> float | None:
        return self.rates.get(kind)

    def mode(self) -> str:
        """Where the budget is kept now: redis, database, local, or the local fallback."""
        if self._shared is None:
            return "local"
        if self._fallback_reason is not None:
            return f"local fallback ({self._shared.name} unreachable)"
        return self._shared.name

    def state(self) -> dict[str, Any]:
        """For run metadata: the mode and each kind's limit (and its fallback)."""
        return {
            "mode": self.mode(),
            "limits": {kind: limit.describe() for kind, limit in self.limits.items()},
            "fallback_limits": {k: v.describe() for k, v in self._fallback_limits.items()},
            "counts_from": "answer" if self.transit_ms is None else f"sent + {self.transit_ms} ms",
        }

    def _key(self, kind: str, scope: str | None) -> str:
        return f"{self.key}:{kind}" + (f":{scope}" if scope else "")

    def _backend(self, kind: str) -> tuple[Backend, Limit, bool]:
        """The backend to use now, its limit for `kind`, and whether it is the shared one."""
        if self._shared is None:
            return _local, self.limits[kind], False
        if self._fallback_reason is not None and time.monotonic() < self._next_probe:
            return _local, self._fallback_limits[kind], False
        return self._shared, self.limits[kind], True

    def _fell_back(self, exc: BackendUnavailable) -> None:
        with self._lock:
            self._next_probe = time.monotonic() + PROBE_SECONDS
            if self._fallback_reason is None:
                self._fallback_reason = str(exc)
                self._switched_at = time.monotonic()
                log.warning(
                    "%s rate budget: the shared store is unreachable (%s); using a local budget "
                    "of %s per process until it answers",
                    self.api,
                    exc,
                    ", ".join(f"{k} {v.describe()}" for k, v in self._fallback_limits.items()),
                )

    def _recovered(self) -> None:
        with self._lock:
            if self._fallback_reason is not None:
                self._fallback_reason = None
                self._switched_at = time.monotonic()
                log.warning("%s rate budget: back on the shared %s budget", self.api, self.mode())

    def _turns(
        self, kind: str, priority: Priority, scope: str | None
    ) -> Generator[float, None, tuple[Backend, str, object] | None]:
        """Seconds to sleep, one after the other, until a request may go; returns its slot."""
        if kind not in self.limits:
            return None
        if priority not in (INTERACTIVE, BULK):
            raise ValueError(f"priority must be {INTERACTIVE!r} or {BULK!r}, not {priority!r}")
        key = self._key(kind, scope)
        started = time.monotonic()
        window = self.limits[kind].window_ms / 1000
        while True:
            settling = self._switched_at + window - time.monotonic()
            if settling > 0:
                yield settling
                continue
            backend, limit, shared = self._backend(kind)
            try:
                wait, token = self._ask(backend, key, limit, priority, started)
            except BackendUnavailable as exc:
                self._fell_back(exc)
                continue
            if shared:
                self._recovered()
            if wait <= 0:
                return backend, key, token
            yield wait

    @staticmethod
    def _ask(
        backend: Backend, key: str, limit: Limit, priority: Priority, started: float
    ) -> tuple[float, object]:
        paused = backend.paused_for(key)
        if paused > 0:
            return paused + random.uniform(0, 0.05), None  # spread the waiters it releases
        window = limit.window_ms / 1000
        if priority == BULK and time.monotonic() - started < window and backend.demand(key):
            return _YIELD_STEP_SECONDS, None
        wait, token = backend.take(key, limit, priority)
        if wait > 0 and priority == INTERACTIVE:
            backend.announce(key, wait + _YIELD_STEP_SECONDS * 5)
        if wait > 0 and priority == BULK:
            wait += random.uniform(0, _YIELD_STEP_SECONDS)
        return wait, token

    @asynccontextmanager
    async def slot(
        self, kind: str, priority: Priority = INTERACTIVE, *, scope: str | None = None
    ) -> AsyncIterator[Slot]:
        """Wait (without blocking the loop) for a turn and send inside the block; the slot
        says how long it waited. It counts until the block ends, then for one window (see the
        module docstring)."""
        started = time.monotonic()
        turns = self._turns(kind, priority, scope)
        try:
            while True:
                await asyncio.sleep(next(turns))
        except StopIteration as done:
            taken = Slot(self, done.value, time.monotonic() - started)
        try:
            yield taken
        finally:
            taken.release()

    @contextmanager
    def slot_sync(
        self, kind: str, priority: Priority = INTERACTIVE, *, scope: str | None = None
    ) -> Iterator[Slot]:
        """`slot` for a thread: blocks while waiting."""
        started = time.monotonic()
        turns = self._turns(kind, priority, scope)
        try:
            while True:
                time.sleep(next(turns))
        except StopIteration as done:
            taken = Slot(self, done.value, time.monotonic() - started)
        try:
            yield taken
        finally:
            taken.release()

    async def acquire(
        self, kind: str, priority: Priority = INTERACTIVE, *, scope: str | None = None
    ) -> float:
        """Wait for a turn whose slot counts from now (no answer to wait for); seconds waited."""
        async with self.slot(kind, priority, scope=scope) as taken:
            return taken.waited

    def acquire_sync(
        self, kind: str, priority: Priority = INTERACTIVE, *, scope: str | None = None
    ) -> float:
        """`acquire` for a thread."""
        with self.slot_sync(kind, priority, scope=scope) as taken:
            return taken.waited

    def pause(self, kind: str, seconds: float, *, scope: str | None = None) -> None:
        """The API answered 429: nobody sends this kind for `seconds` (its Retry-After)."""
        if seconds <= 0:
            return
        key = self._key(kind, scope)
        backend, _, _ = self._backend(kind)
        try:
            backend.pause(key, seconds)
        except BackendUnavailable as exc:
            self._fell_back(exc)
            _local.pause(key, seconds)
        log.info("%s rate budget: %s paused %.2f s after a 429", self.api, kind, seconds)


class Slot:
    """One admitted request's entry in the log (none for a kind without a limit): how long it
    waited, and when its body was sent (`sent`); `release` restamps it when the answer came."""

    def __init__(
        self, budget: RateBudget, taken: tuple[Backend, str, object] | None, waited: float
    ) -> None:
        self.budget, self.taken, self.waited = budget, taken, waited
        self._sent_at: float | None = None

    def sent(self) -> None:
        """The request's body has left (an HTTP client's trace event)."""
        self._sent_at = time.monotonic()

    def backdate_ms(self) -> int:
        """How much earlier than its answer the request counts from: with a transit
        allowance, from its sending plus the allowance (never later than the answer)."""
        transit = self.budget.transit_ms
        if transit is None or self._sent_at is None:
            return 0
        return max(0, round((time.monotonic() - self._sent_at) * 1000) - transit)

    def release(self) -> None:
        if self.taken is None:
            return
        backend, key, token = self.taken
        if token is None:
            return
        try:
            backend.release(key, token, self.backdate_ms())
        except BackendUnavailable as exc:
            self.budget._fell_back(exc)


_budgets: dict[tuple[Any, ...], RateBudget] = {}
_lock = threading.Lock()


def budget_for(
    api: str,
    base_url: str,
    credential: str,
    rates: Mapping[str, float | None] | None = None,
    *,
    redis_url: str | None = None,
) -> RateBudget:
    """The shared budget of this API, URL, credential and rates (no rates: unlimited). Its
    backend follows the settings (`REDIS_URL`, unless `redis_url` is given), else the
    registered database."""
    settings = load_settings()
    redis_url = redis_url or settings.redis_url
    base = base_url.rstrip("/")
    digest = hashlib.sha256(f"{base}\n{credential.strip()}".encode()).hexdigest()[:24]
    chosen = tuple(sorted((rates or {}).items()))
    # The backend itself is part of the key: a budget follows REDIS_URL and the store's URL.
    backend = shared_backend(redis_url)
    key = (api, digest, chosen, backend, settings.rate_budget_prefix)
    knobs = (
        settings.rate_budget_margin_ms,
        settings.rate_budget_fallback_fraction,
        settings.rate_budget_transit_ms,
    )
    with _lock:
        if (key, knobs) not in _budgets:
            _budgets[(key, knobs)] = RateBudget(
                api,
                dict(chosen),
                key=f"{settings.rate_budget_prefix}:{api.lower()}:{digest}",
                backend=backend,
                margin_ms=knobs[0],
                fallback_fraction=knobs[1],
                transit_ms=knobs[2],
            )
        return _budgets[(key, knobs)]


class RateBudgeted:
    """Mixed into a resource that names its API credential in `breaker_identity()` (the
    breaker's mixin): `rate_budget()` is that credential's shared budget, at `rate_limits()`."""

    def breaker_identity(self) -> tuple[str, str, str]:
        raise NotImplementedError

    def rate_limits(self) -> Mapping[str, float | None]:
        """Requests per second by kind; none: not limited (no documented rate relied on)."""
        return {}

    def rate_budget(self) -> RateBudget:
        api, base_url, credential = self.breaker_identity()
        return budget_for(api, base_url, credential, self.rate_limits())


def budget_states(*resources: RateBudgeted) -> dict[str, dict[str, Any]]:
    """Each resource's budget by API name: one `rate_budgets` entry of asset metadata."""
    return {r.breaker_identity()[0].lower(): r.rate_budget().state() for r in resources}
