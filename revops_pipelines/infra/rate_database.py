"""A rate budget kept in the store's database (when Redis is not configured): the `Backend` of
`rate_backends.py` over the store's SQL (`store/rate_budget.py`, handed in by definitions.py as
a `RateLog`, since infra may not import the store).

The same semantics as `RedisBackend`: one sliding-window log per key where bulk callers see the
smaller limit of `Limit.rates`, an admitted request counted as in flight for `HOLD_MS` until its
answer restamps it, and the 429 pause and interactive demand kept beside the log for everyone.
The store signals a database that does not answer with a `ConnectionError`; here it becomes
`BackendUnavailable`, and the budget falls back to its local share.

A transaction costs several round trips (Redis: one), and the calls block the caller's event
loop while they run, so each process spares the database what it already knows:
- pause and demand are read before every request, and a waiting bulk caller looks at the demand
  every 10 ms: the last answer per key is kept for `STATE_TTL_SECONDS`;
- a refused `take` says how long until a slot frees: until then the process's other callers of
  that key and priority are told to wait without asking (sixteen lanes waiting cost one query
  per free slot, not sixteen). Only ever later than the database would say, never sooner.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from revops_pipelines.infra.rate_backends import (
    HOLD_MS,
    MIN_WAIT,
    BackendUnavailable,
    Limit,
    Priority,
)

T = TypeVar("T")
# How long a process trusts its last read of a key's pause and demand.
STATE_TTL_SECONDS = 0.01


class RateLog(Protocol):
    """The store's side: each call one transaction; `ConnectionError` when it does not answer."""

    def admit(self, key: str, rates: Sequence[tuple[int, int]], hold_ms: int, member: str) -> int:
        """0 when admitted, else the milliseconds before asking again."""

    def restamp(self, key: str, member: str, backdate_ms: int = 0) -> None: ...

    def timers_ms(self, key: str) -> tuple[int, int]:
        """Milliseconds left of the key's pause and of its interactive demand."""

    def pause(self, key: str, ms: int) -> None: ...

    def announce(self, key: str, ms: int) -> None: ...


class DatabaseBackend:
    """Budgets in the store's database, shared by every process that uses it."""

    name = "database"

    def __init__(self, log: RateLog) -> None:
        self.log = log
        self._lock = threading.Lock()
        # key -> (monotonic time of the read, pause ends, demand ends), in this process's clock
        self._timers: dict[str, tuple[float, float, float]] = {}
        # (key, priority) -> when the last refusal said a slot may be free (monotonic)
        self._refused_until: dict[tuple[str, Priority], float] = {}

    def _guard(self, op: Callable[[], T]) -> T:
        try:
            return op()
        except ConnectionError as exc:
            raise BackendUnavailable(str(exc)) from exc

    def take(self, key: str, limit: Limit, priority: Priority) -> tuple[float, object]:
        now = time.monotonic()
        with self._lock:
            until = self._refused_until.get((key, priority), 0.0)
        if until > now:
            return max(MIN_WAIT, until - now), None
        member = f"{priority}:{uuid.uuid4().hex}"
        rates = [(rate.interval, rate.limit) for rate in limit.rates(priority)]
        wait_ms = self._guard(lambda: self.log.admit(key, rates, HOLD_MS, member))
        if wait_ms <= 0:
            return 0.0, member
        wait = max(MIN_WAIT, wait_ms / 1000)
        with self._lock:
            self._refused_until[(key, priority)] = time.monotonic() + wait
        return wait, None

    def release(self, key: str, slot: object, backdate_ms: int = 0) -> None:
        self._guard(lambda: self.log.restamp(key, str(slot), backdate_ms))

    def _read(self, key: str) -> tuple[float, float]:
        """(pause ends, demand ends) on the monotonic clock, read at most every TTL."""
        now = time.monotonic()
        with self._lock:
            cached = self._timers.get(key)
        if cached is not None and now - cached[0] < STATE_TTL_SECONDS:
            return cached[1], cached[2]
        paused_ms, demand_ms = self._guard(lambda: self.log.timers_ms(key))
        timers = (now, now + paused_ms / 1000, now + demand_ms / 1000)
        with self._lock:
            self._timers[key] = timers
        return timers[1], timers[2]

    def _forget(self, key: str) -> None:
        with self._lock:
            self._timers.pop(key, None)

    def paused_for(self, key: str) -> float:
        return max(0.0, self._read(key)[0] - time.monotonic())

    def pause(self, key: str, seconds: float) -> None:
        self._guard(lambda: self.log.pause(key, max(1, math.ceil(seconds * 1000))))
        self._forget(key)

    def announce(self, key: str, seconds: float) -> None:
        self._guard(lambda: self.log.announce(key, max(1, math.ceil(seconds * 1000))))
        self._forget(key)

    def demand(self, key: str) -> bool:
        return self._read(key)[1] > time.monotonic()
