"""Caches in front of an API's reads, shared by every client of one credential in the process.

`cache_for(api, what, base_url, credential, ...)` gives the one cache of that API credential
and kind of value (for Attio: the workspace `schema`, and `record`s): a TTL'd LRU in memory, or
Redis when a URL is given, so several processes (Dagster runs each step in a process of its
own) share it. The client that owns a cache keeps it coherent with its own writes and evicts
what others changed; the TTL bounds anything missed. A cache that fails (Redis down) is a miss,
never a failed run. Values are JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import cachetools
import redis

log = logging.getLogger("revops.cache")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    errors: int = 0

    @property
    def hit_rate(self) -> float | None:
        total = self.hits + self.misses
        return round(self.hits / total, 3) if total else None

    def since(self, before: CacheStats) -> CacheStats:
        return CacheStats(
            self.hits - before.hits,
            self.misses - before.misses,
            self.evictions - before.evictions,
            self.errors - before.errors,
        )

    def copy(self) -> CacheStats:
        return CacheStats(self.hits, self.misses, self.evictions, self.errors)


class _Memory:
    """A TTL'd LRU in this process (off when the TTL or size is 0)."""

    backend = "memory"

    def __init__(self, ttl: float, size: int) -> None:
        self._lock = threading.Lock()
        self._data: cachetools.TTLCache[str, Any] | None = (
            cachetools.TTLCache(maxsize=size, ttl=ttl) if ttl > 0 and size > 0 else None
        )

    @property
    def enabled(self) -> bool:
        return self._data is not None

    def get(self, key: str) -> Any | None:
        with self._lock:
            return self._data.get(key) if self._data is not None else None

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            if self._data is not None:
                self._data[key] = value

    def delete(self, keys: Iterable[str]) -> int:
        with self._lock:
            if self._data is None:
                return 0
            return sum(1 for key in set(keys) if self._data.pop(key, None) is not None)

    def clear(self) -> int:
        with self._lock:
            gone = len(self._data) if self._data is not None else 0
            if self._data is not None:
                self._data.clear()
            return gone


class _Redis:
    """JSON values in Redis (`SET ... EX` with the TTL) under a key prefix, for every process."""

    backend = "redis"
    enabled = True

    def __init__(self, url: str, ttl: float, prefix: str) -> None:
        self.ttl = max(1, round(ttl))
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def get(self, key: str) -> Any | None:
        raw = self._redis.get(self.prefix + key)
        return json.loads(raw) if raw is not None else None

    def put(self, key: str, value: Any) -> None:
        self._redis.set(self.prefix + key, json.dumps(value), ex=self.ttl)

    def delete(self, keys: Iterable[str]) -> int:
        names = [self.prefix + key for key in set(keys)]
        return int(self._redis.delete(*names)) if names else 0

    def clear(self) -> int:
        names = list(self._redis.scan_iter(f"{self.prefix}*"))
        return int(self._redis.delete(*names)) if names else 0


class Cache:
    """One cache (an API's schema, its records, ...) over either store, with hit counts. A
    store that fails (Redis down) is a miss, never a failed run; the TTL bounds how long a
    missed eviction can serve an old value."""

    def __init__(self, store: _Memory | _Redis, what: str, api: str = "") -> None:
        self.store, self.what, self.api = store, what, api
        self.stats = CacheStats()
        self._lock = threading.Lock()

    @classmethod
    def off(cls, what: str) -> Cache:
        return cls(_Memory(ttl=0, size=0), what)

    @property
    def backend(self) -> str:
        return self.store.backend

    @property
    def enabled(self) -> bool:
        return self.store.enabled

    @staticmethod
    def _text(key: Hashable) -> str:
        return key if isinstance(key, str) else json.dumps(key, default=str)

    def get(self, key: Hashable) -> Any | None:
        try:
            value = self.store.get(self._text(key))
        except redis.RedisError as exc:
            self._failed("read", exc)
            return None
        with self._lock:
            if value is None:
                self.stats.misses += 1
            else:
                self.stats.hits += 1
        return value

    def put(self, key: Hashable, value: Any) -> None:
        try:
            self.store.put(self._text(key), value)
        except redis.RedisError as exc:
            self._failed("write", exc)

    def evict(self, keys: Iterable[Hashable]) -> int:
        """Forget these keys; how many were cached."""
        return self._forget("evict", lambda: self.store.delete(self._text(k) for k in keys))

    def clear(self) -> int:
        return self._forget("clear", self.store.clear)

    def _forget(self, what: str, forget: Callable[[], int]) -> int:
        try:
            gone = forget()
        except redis.RedisError as exc:
            self._failed(what, exc)
            return 0
        with self._lock:
            self.stats.evictions += gone
        return gone

    def _failed(self, what: str, exc: Exception) -> None:
        with self._lock:
            self.stats.errors += 1
        log.warning(
            "%s %s cache %s failed, treated as a miss: %s: %s",
            self.api,
            self.what,
            what,
            type(exc).__name__,
            exc,
        )


def _scope(base_url: str, credential: str) -> str:
    return hashlib.sha256(f"{base_url}\0{credential}".encode()).hexdigest()[:16]


_lock = threading.Lock()
_caches: dict[tuple[str, str, str, str | None, float, int], Cache] = {}


def cache_for(
    api: str,
    what: str,
    base_url: str,
    credential: str,
    *,
    ttl: float,
    size: int,
    redis_url: str | None = None,
) -> Cache:
    """The shared cache of `what` for this API credential: in Redis under
    `revops:<api>:<scope>:<what>:` when `redis_url` is given (and the TTL is above 0), else an
    LRU of `size` entries in memory; off when the TTL (or, in memory, the size) is 0."""
    scope = _scope(base_url, credential)
    key = (api, what, scope, redis_url, ttl, size)
    with _lock:
        if key not in _caches:
            store = (
                _Redis(redis_url, ttl, prefix=f"revops:{api.lower()}:{scope}:{what}:")
                if redis_url and ttl > 0
                else _Memory(ttl, size)
            )
            _caches[key] = Cache(store, what, api)
        return _caches[key]


def reset_caches() -> None:
    """Forget every shared cache object (tests; a fresh process starts empty anyway). Values
    already in Redis stay there."""
    with _lock:
        _caches.clear()
