"""Where a rate budget keeps its state: Redis (shared by every process and machine), or the
process's memory (one host's fallback). The store's database registers a third one
(`register_database_backend`, called by `revops_pipelines.store.rate_budget`).

Each backend offers the same five operations on a budget key (an API credential's kind, e.g.
Attio writes): `take` one request under a sliding-window log (pyrate-limiter's buckets: at
most `limit` requests in any rolling `window_ms`), `pause`/`paused_for` (a 429's Retry-After
for everyone), and `announce`/`demand` (an interactive caller is waiting; bulk callers yield).
Bulk callers draw from the same log with a smaller limit (`Limit.bulk`): the last `reserve`
slots of every window are left to interactive callers, atomically in the same Lua step.
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
from pyrate_limiter.abstracts.algorithm import ADMITTED, Decision
from pyrate_limiter.buckets.redis_bucket import LuaScript, RedisBucket

Priority = Literal["interactive", "bulk"]
INTERACTIVE: Priority = "interactive"
BULK: Priority = "bulk"
# Leak (drop expired log entries) after this many admissions per process and key.
_LEAK_EVERY = 64


class BackendUnavailable(RuntimeError):
    """The shared store did not answer; the caller falls back to a local budget."""


@dataclass(frozen=True)
class Limit:
    """At most `limit` requests in any rolling `window_ms`, and at most `burst` in any
    `burst_window_ms`; bulk callers stop `reserve` short of both."""

    limit: int
    window_ms: int
    reserve: int = 0
    burst: int = 0  # 0: no short window
    burst_window_ms: int = 0

    @classmethod
    def per_second(cls, rate: float, *, margin_ms: int = 0, reserve: int | None = None) -> Limit:
        """`rate` requests/s as a whole number per window (25 -> 25 per 1 s; 0.5 -> 1 per 2 s).

        The window is `margin_ms` longer than the API's: requests admitted here reach the API a
        little later and not all equally late, so an exact window would let the API see more
        than the limit in one of its seconds. A short window (a tenth of the limit, a bit
        faster than the average) spreads each window's requests out: a whole window admitted
        at once reaches the API strung out, and the next window's first requests would then
        overtake its tail. Default reserve: one slot when the limit is 10+.
        """
        if rate <= 0:
            raise ValueError(f"a rate must be positive, got {rate}")
        limit = max(1, math.floor(rate))
        window = round(limit / rate * 1000) + max(0, margin_ms)
        if reserve is None:
            reserve = 1 if limit >= 10 else 0
        burst = math.ceil(limit / 10) if limit >= 10 else 0
        burst_window = math.floor(window * burst / limit * 0.9) if burst else 0
        return cls(limit, window, min(reserve, limit - 1), burst, burst_window)

    def rates(self, priority: Priority) -> list[Rate]:
        """pyrate's rates for a caller of this priority (bulk: `reserve` fewer in each)."""
        cut = self.reserve if priority == BULK else 0
        rates = [Rate(self.limit - cut, self.window_ms)]
        if self.burst:
            rates.append(Rate(self.burst + self.reserve - cut, self.burst_window_ms))
        return rates

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

    def release(self, key: str, slot: object) -> None:
        """The request's answer came: its slot now counts from this moment (see `RateBudget`)."""

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
            return (max(0.001, wait_ms / 1000) if wait_ms >= 0 else limit.window_ms / 1000), None

    def release(self, key: str, slot: object) -> None:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or not isinstance(slot, RateItem):
                return
            for i in range(len(bucket.items) - 1, -1, -1):
                if bucket.items[i] is slot:
                    del bucket.items[i]
                    slot.timestamp = bucket.now()
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


class _ServerClockBucket(RedisBucket):
    """pyrate's Redis sliding-window log, timed by the Redis server's clock: processes on
    machines whose clocks disagree still share one timeline (pyrate's README suggests it)."""

    def now(self) -> int:
        seconds, micros = self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    def _check_and_insert(self, item: RateItem) -> Decision:
        """pyrate's own check-and-insert (same Lua script, same arguments), except that the
        member's name is `item.name` + "1" rather than random, so `release` can find it."""
        args: list[Any] = [item.timestamp, item.weight, item.name, len(self.rates)]
        for rate in self.rates:
            offset = self._algorithm.blocking_offset(rate, item.weight)
            args.extend(
                (
                    self._algorithm.window_start(rate, item.timestamp),
                    rate.limit,
                    -1 if offset is None else offset,
                )
            )
        reply = self.redis.evalsha(self.script_hash, 1, self.bucket_key, *args)
        idx, blocking = int(reply[0]), int(reply[1])
        if idx < 0:
            return ADMITTED
        rate = self.rates[idx]
        return Decision(
            failing_rate=rate,
            retry_after_ms=self._algorithm.retry_after(
                rate, item.timestamp, blocking if blocking >= 0 else None
            ),
        )


# KEYS: pause key. ARGV: ms. Keeps the later of the current pause and the new one.
_PAUSE = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return left
"""


# KEYS: the log. ARGV: member. Moves the member's score to the server's time now.
_RESTAMP = """
local t = redis.call('TIME')
return redis.call('ZADD', KEYS[1], 'XX', 'CH', t[1] * 1000 + math.floor(t[2] / 1000), ARGV[1])
"""


class RedisBackend:
    """Budgets in Redis: one sorted set per key (pyrate's log), `<key>:paused` and
    `<key>:demand` as keys whose TTL is the time left, so no client clock is involved."""

    name = "redis"

    def __init__(self, url: str) -> None:
        # Short timeouts: a dead Redis must cost a request milliseconds, not seconds.
        self.redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, Limit, Priority], _ServerClockBucket] = {}
        self._script_hash: str | None = None
        self._pause = self.redis.register_script(_PAUSE)
        self._restamp = self.redis.register_script(_RESTAMP)
        self._admitted = itertools.count()

    def _bucket(self, key: str, limit: Limit, priority: Priority) -> _ServerClockBucket:
        with self._lock:
            bucket = self._buckets.get((key, limit, priority))
            if bucket is None:
                if self._script_hash is None:
                    self._script_hash = str(self.redis.script_load(LuaScript.PUT_ITEM))
                rates = limit.rates(priority)
                # Both priorities' buckets share one sorted set: each counts the other's too.
                bucket = _ServerClockBucket(rates, self.redis, key, self._script_hash)
                self._buckets[(key, limit, priority)] = bucket
            return bucket

    def _reload_script(self) -> None:
        # pyrate 4.5/4.6 calls raw EVALSHA: after a Redis restart the script is gone
        # (PyrateLimiter issue #182). Load it again and point every bucket at it.
        with self._lock:
            self._script_hash = str(self.redis.script_load(LuaScript.PUT_ITEM))
            for bucket in self._buckets.values():
                bucket.script_hash = self._script_hash

    def take(self, key: str, limit: Limit, priority: Priority) -> tuple[float, object]:
        def attempt() -> tuple[float, object]:
            bucket = self._bucket(key, limit, priority)
            item = RateItem(f"{priority}:{uuid.uuid4().hex}:", bucket.now())
            if bucket.put(item):
                if next(self._admitted) % _LEAK_EVERY == 0:
                    bucket.leak(item.timestamp)
                return 0.0, item.name + "1"
            wait_ms = bucket.waiting(item)
            return (max(0.001, wait_ms / 1000) if wait_ms >= 0 else limit.window_ms / 1000), None

        try:
            try:
                return attempt()
            except redis.exceptions.NoScriptError:
                self._reload_script()
                return attempt()
        except redis.RedisError as exc:
            raise BackendUnavailable(f"Redis: {exc}") from exc

    def release(self, key: str, slot: object) -> None:
        # XX: only if still there (a leak may have dropped it; then nothing to move).
        self._guard(lambda: float(self._restamp(keys=[key], args=[str(slot)]) or 0))

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
