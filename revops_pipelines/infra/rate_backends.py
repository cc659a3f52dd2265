"""Where a rate budget keeps its state: Redis (shared by every process and machine), or the
process's memory (the fallback, and the budget when no shared store is configured). The third,
the store's database, is `rate_database.py` over the store's SQL, registered through
`rate_budget.register_database_backend` (infra may not import the store).

Each backend offers the same operations on a budget key (an API credential's kind, e.g.
Attio writes): `take` one request under a sliding-window log (at most `limit` requests in any
rolling `window_ms`: pyrate-limiter's `InMemoryBucket` here, pyrate's Redis log script extended
to count requests in flight in Redis) and `release` it when its answer came,
`pause`/`paused_for` (a 429's Retry-After for everyone), and `announce`/`demand` (an
interactive caller is waiting; bulk callers yield). Bulk callers draw from the same log with a
smaller limit (`Limit.rates`): the last `reserve` slots of every window are left to
interactive callers, atomically in the same step.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import redis
from pyrate_limiter import InMemoryBucket, Rate, RateItem

Priority = Literal["interactive", "bulk"]
INTERACTIVE: Priority = "interactive"
BULK: Priority = "bulk"
# Leak (drop expired log entries) after this many admissions per process and key.
_LEAK_EVERY = 64
# The shortest wait before asking again (a denied request never spins on the store).
MIN_WAIT = 0.005


class BackendUnavailable(RuntimeError):
    """The shared store did not answer; the caller falls back to a local budget."""


@dataclass(frozen=True)
class Limit:
    """At most `limit` requests in any rolling `window_ms`; bulk callers stop `reserve` short."""

    limit: int
    window_ms: int
    reserve: int = 0

    @classmethod
    def per_second(cls, rate: float, *, margin_ms: int = 0, reserve: int | None = None) -> Limit:
        """`rate` requests/s as a whole number per window (25 -> 25 per 1 s; 0.5 -> 1 per 2 s),
        the window `margin_ms` longer than the API's (clock rounding). Default reserve: one
        slot when the limit is 10 or more."""
        if rate <= 0:
            raise ValueError(f"a rate must be positive, got {rate}")
        limit = max(1, math.floor(rate))
        window = round(limit / rate * 1000) + max(0, margin_ms)
        if reserve is None:
            reserve = 1 if limit >= 10 else 0
        return cls(limit, window, min(reserve, limit - 1))

    def rates(self, priority: Priority) -> list[Rate]:
        """pyrate's rates for a caller of this priority (bulk: `reserve` fewer)."""
        return [Rate(self.limit - (self.reserve if priority == BULK else 0), self.window_ms)]

    def scaled(self, fraction: float, margin_ms: int) -> Limit:
        """This budget times `fraction` (a process's share when the shared store is down)."""
        per_second = self.limit * 1000 / self.window_ms * fraction
        return Limit.per_second(per_second, margin_ms=margin_ms, reserve=0)

    def describe(self) -> str:
        return f"{self.limit}/{self.window_ms}ms"


class Backend(Protocol):
    name: str

    def take(self, key: str, limit: Limit, priority: Priority) -> tuple[float, object]:
        """(0, the slot) when admitted; else (seconds before asking again, None)."""

    def release(self, key: str, slot: object, backdate_ms: int = 0) -> None:
        """The request's answer came: its slot now counts from this moment, or from
        `backdate_ms` before it (see `RateBudget`'s `transit_ms`)."""

    def paused_for(self, key: str) -> float: ...

    def pause(self, key: str, seconds: float) -> None: ...

    def announce(self, key: str, seconds: float) -> None: ...

    def demand(self, key: str) -> bool: ...


class LocalBackend:
    """One process's budgets (threads share them): the fallback, and the only budget when no
    shared store is configured. pyrate's `InMemoryBucket` keeps the log."""

    name = "local"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, InMemoryBucket] = {}
        self._until: dict[str, float] = {}
        self._admitted = itertools.count()

    def take(self, key: str, limit: Limit, priority: Priority) -> tuple[float, object]:
        with self._lock:
            # One log per key: both priorities count in it; bulk only sees a smaller limit.
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = InMemoryBucket([Rate(limit.limit, limit.window_ms)])
            bucket.rates = limit.rates(priority)
            item = RateItem(priority, bucket.now())
            if bucket.put(item):
                if next(self._admitted) % _LEAK_EVERY == 0:
                    bucket.leak(item.timestamp)
                return 0.0, item
            wait_ms = bucket.waiting(item)
            return (max(MIN_WAIT, wait_ms / 1000) if wait_ms > 0 else MIN_WAIT), None

    def release(self, key: str, slot: object, backdate_ms: int = 0) -> None:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or not isinstance(slot, RateItem):
                return
            for i in range(len(bucket.items) - 1, -1, -1):
                if bucket.items[i] is slot:
                    del bucket.items[i]
                    slot.timestamp = bucket.now() - backdate_ms
                    bisect.insort(bucket.items, slot, key=lambda it: it.timestamp)
                    return

    def paused_for(self, key: str) -> float:
        return max(0.0, self._until.get(key, 0.0) - time.monotonic())

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._until[key] = max(until, self._until.get(key, 0.0))

    def announce(self, key: str, seconds: float) -> None:
        with self._lock:
            self._until["demand:" + key] = time.monotonic() + seconds

    def demand(self, key: str) -> bool:
        return self._until.get("demand:" + key, 0.0) > time.monotonic()


# pyrate-limiter's Redis sliding-window log (its PUT_ITEM script: ZCOUNT per rate, then ZADD),
# extended for one thing it cannot do: count a request from when it is admitted until its answer
# comes. pyrate stamps an entry when it is admitted and counts it for one window; a request that
# takes longer than that to reach the API (a process descheduled under load, measured: 26-27 in
# one second at the sandbox) would drop out of the count while still on its way. Here an admitted
# entry is stamped `hold` ms ahead (counted as in flight), and `_RESTAMP` moves it to the time
# its answer came; a crashed holder's entry expires after `hold`. Timed by the Redis server's
# clock, so machines whose clocks disagree share one timeline.
# KEYS: the log. ARGV: hold ms, member, rate count, then (interval ms, limit) per rate.
# Returns 0 when admitted, else the ms until the entry that blocks leaves its window (or, when
# that entry is still in flight, a share of the window to look again after).
_ADMIT = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local hold = tonumber(ARGV[1])
local longest = 0
for i = 1, tonumber(ARGV[3]) do
  local interval = tonumber(ARGV[2 + 2 * i])
  local limit = tonumber(ARGV[3 + 2 * i])
  if interval > longest then longest = interval end
  local count = redis.call('ZCOUNT', KEYS[1], now - interval, '+inf')
  if count >= limit then
    local blocking = redis.call(
      'ZRANGEBYSCORE', KEYS[1], now - interval, '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)
    local at = tonumber(blocking[2])
    -- Still in flight: it frees a window after its answer, which is not known yet; look again
    -- after a share of the window.
    if at > now then return math.max(1, math.floor(interval / limit)) end
    return math.max(1, at + interval - now + 1)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - longest))
redis.call('ZADD', KEYS[1], now + hold, ARGV[2])
redis.call('PEXPIRE', KEYS[1], hold + longest)
return 0
"""
# How long an admitted request counts as in flight before its answer (the clients' timeout).
HOLD_MS = 60_000


# KEYS: pause key. ARGV: ms. Keeps the later of the current pause and the new one.
_PAUSE = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return left
"""


# KEYS: the log. ARGV: member, ms to backdate. Moves the member's score to the server's time
# now (less the backdate).
_RESTAMP = """
local t = redis.call('TIME')
local stamp = t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(ARGV[2])
return redis.call('ZADD', KEYS[1], 'XX', 'CH', stamp, ARGV[1])
"""


class RedisBackend:
    """Budgets in Redis: one sorted set per key (the log), `<key>:paused` and
    `<key>:demand` as keys whose TTL is the time left, so no client clock is involved."""

    name = "redis"

    def __init__(self, url: str) -> None:
        # Short timeouts: a dead Redis must cost a request milliseconds, not seconds.
        self.redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        # register_script: reloaded by redis-py after NOSCRIPT (a restarted Redis).
        self._admit = self.redis.register_script(_ADMIT)
        self._pause = self.redis.register_script(_PAUSE)
        self._restamp = self.redis.register_script(_RESTAMP)

    def take(self, key: str, limit: Limit, priority: Priority) -> tuple[float, object]:
        member = f"{priority}:{uuid.uuid4().hex}"
        args: list[Any] = [HOLD_MS, member, len(limit.rates(priority))]
        for rate in limit.rates(priority):
            args += [rate.interval, rate.limit]
        try:
            wait_ms = int(self._admit(keys=[key], args=args))
        except redis.RedisError as exc:
            raise BackendUnavailable(f"Redis: {exc}") from exc
        return (0.0, member) if wait_ms <= 0 else (max(MIN_WAIT, wait_ms / 1000), None)

    def release(self, key: str, slot: object, backdate_ms: int = 0) -> None:
        # XX: only if still there (a leak may have dropped it; then nothing to move).
        args = [str(slot), backdate_ms]
        self._guard(lambda: float(self._restamp(keys=[key], args=args) or 0))

    def _guard(self, op: Callable[[], float]) -> float:
        try:
            return op()
        except redis.RedisError as exc:
            raise BackendUnavailable(f"Redis: {exc}") from exc

    def paused_for(self, key: str) -> float:
        return self._guard(lambda: max(0, int(self.redis.pttl(key + ":paused"))) / 1000)

    def pause(self, key: str, seconds: float) -> None:
        ms = max(1, math.ceil(seconds * 1000))
        self._guard(lambda: float(self._pause(keys=[key + ":paused"], args=[ms])))

    def announce(self, key: str, seconds: float) -> None:
        ms = max(1, math.ceil(seconds * 1000))
        self._guard(lambda: float(bool(self.redis.set(key + ":demand", "1", px=ms))))

    def demand(self, key: str) -> bool:
        return bool(self._guard(lambda: float(self.redis.exists(key + ":demand"))))

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except redis.RedisError:
            return False
