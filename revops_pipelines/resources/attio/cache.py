"""Caches in front of Attio reads, shared by every client of one credential in the process.

- The workspace schema (objects, attributes, select options, lists, members) changes rarely and
  is read by every run to validate the mapping and routing files: kept for a TTL in memory, or
  in Redis when a URL is given (Dagster runs each step in a process of its own, so only a shared
  cache carries over from run to run). Creating an attribute, option or list clears it.
- Records, optionally: an LRU with a TTL in memory, or Redis when a URL is given so several
  processes share it. The client keeps it coherent with its own writes; Attio's `record.*`
  webhooks evict what others changed (`attio_events`), and the TTL bounds anything missed.
  A cache that fails (Redis down) is a miss, never a failed run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import cachetools
import redis

log = logging.getLogger("revops.attio.cache")
Record = dict[str, Any]


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


class SchemaCache:
    """Schema answers by request, each kept `ttl` seconds (0 turns the cache off)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._data: cachetools.TTLCache[Hashable, Any] | None = (
            cachetools.TTLCache(maxsize=4096, ttl=ttl) if ttl > 0 else None
        )

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._data.get(key) if self._data is not None else None
            if value is None:
                self.stats.misses += 1
            else:
                self.stats.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            if self._data is not None:
                self._data[key] = value

    def clear(self) -> None:
        with self._lock:
            if self._data is not None:
                self.stats.evictions += len(self._data)
                self._data.clear()


class RedisSchemaCache(SchemaCache):
    """Schema answers in Redis (JSON, `SET ... EX` with the TTL), shared by every process."""

    def __init__(self, url: str, ttl: float, prefix: str) -> None:
        super().__init__(ttl=0)
        self.ttl = max(1, round(ttl))
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def _key(self, key: Hashable) -> str:
        return self.prefix + json.dumps(key, default=str)

    def get(self, key: Hashable) -> Any | None:
        try:
            raw = self._redis.get(self._key(key))
        except redis.RedisError as exc:
            _failed(self.stats, self._lock, "schema read", exc)
            return None
        with self._lock:
            if raw is None:
                self.stats.misses += 1
            else:
                self.stats.hits += 1
        return json.loads(raw) if raw is not None else None

    def put(self, key: Hashable, value: Any) -> None:
        try:
            self._redis.set(self._key(key), json.dumps(value), ex=self.ttl)
        except redis.RedisError as exc:
            _failed(self.stats, self._lock, "schema write", exc)

    def clear(self) -> None:
        try:
            keys = list(self._redis.scan_iter(f"{self.prefix}*"))
            gone = int(self._redis.delete(*keys)) if keys else 0
        except redis.RedisError as exc:
            # The TTL bounds how long a missed clear can serve the old schema.
            _failed(self.stats, self._lock, "schema clear", exc)
            return
        with self._lock:
            self.stats.evictions += gone


def _failed(stats: CacheStats, lock: threading.Lock, what: str, exc: Exception) -> None:
    with lock:
        stats.errors += 1
    log.warning(f"Attio cache {what} failed, treated as a miss: {type(exc).__name__}: {exc}")


class RecordCache:
    """Records by record id (unique in a workspace). The in-memory kind; see RedisRecordCache."""

    backend = "memory"

    def __init__(self, ttl: float, size: int) -> None:
        self.stats = CacheStats()
        self._lock = threading.Lock()
        on = ttl > 0 and size > 0
        self._data: cachetools.TTLCache[str, Record] | None = (
            cachetools.TTLCache(maxsize=size, ttl=ttl) if on else None
        )

    @property
    def enabled(self) -> bool:
        return self._data is not None

    def get(self, record_id: str) -> Record | None:
        with self._lock:
            record = self._data.get(record_id) if self._data is not None else None
            self._count(record)
            return record

    def put(self, record_id: str, record: Record) -> None:
        with self._lock:
            if self._data is not None:
                self._data[record_id] = record

    def evict(self, record_ids: Iterable[str]) -> int:
        with self._lock:
            if self._data is None:
                return 0
            gone = sum(1 for rid in set(record_ids) if self._data.pop(rid, None) is not None)
            self.stats.evictions += gone
            return gone

    def _count(self, record: Record | None) -> None:
        if record is None:
            self.stats.misses += 1
        else:
            self.stats.hits += 1


class RedisRecordCache(RecordCache):
    """Records in Redis (JSON, `SET ... EX` with the TTL) under a key prefix per credential."""

    backend = "redis"

    def __init__(self, url: str, ttl: float, prefix: str) -> None:
        super().__init__(ttl=0, size=0)
        self.ttl = max(1, round(ttl))
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    @property
    def enabled(self) -> bool:
        return True

    def _key(self, record_id: str) -> str:
        return f"{self.prefix}{record_id}"

    def get(self, record_id: str) -> Record | None:
        try:
            raw = self._redis.get(self._key(record_id))
        except redis.RedisError as exc:
            self._failed("read", exc)
            return None
        record = json.loads(raw) if raw else None
        with self._lock:
            self._count(record)
        return record

    def put(self, record_id: str, record: Record) -> None:
        try:
            self._redis.set(self._key(record_id), json.dumps(record), ex=self.ttl)
        except redis.RedisError as exc:
            self._failed("write", exc)

    def evict(self, record_ids: Iterable[str]) -> int:
        keys = [self._key(rid) for rid in set(record_ids)]
        if not keys:
            return 0
        try:
            gone = int(self._redis.delete(*keys))
        except redis.RedisError as exc:
            # The TTL still bounds how long a missed eviction can serve a stale record.
            self._failed("evict", exc)
            return 0
        with self._lock:
            self.stats.evictions += gone
        return gone

    def _failed(self, what: str, exc: Exception) -> None:
        _failed(self.stats, self._lock, f"record {what}", exc)


def _scope(base_url: str, api_key: str) -> str:
    digest = hashlib.sha256(f"{base_url}\0{api_key}".encode()).hexdigest()[:16]
    return digest


_lock = threading.Lock()
_schema: dict[tuple[str, str | None, float], SchemaCache] = {}
_records: dict[tuple[str, str | None, float, int], RecordCache] = {}


def schema_cache_for(
    base_url: str, api_key: str, ttl: float, redis_url: str | None = None
) -> SchemaCache:
    scope = _scope(base_url, api_key)
    key = (scope, redis_url, ttl)
    with _lock:
        if key not in _schema:
            _schema[key] = (
                RedisSchemaCache(redis_url, ttl, prefix=f"revops:attio:{scope}:schema:")
                if redis_url and ttl > 0
                else SchemaCache(ttl)
            )
        return _schema[key]


def record_cache_for(
    base_url: str, api_key: str, *, ttl: float, size: int, redis_url: str | None
) -> RecordCache:
    scope = _scope(base_url, api_key)
    key = (scope, redis_url, ttl, size)
    with _lock:
        if key not in _records:
            _records[key] = (
                RedisRecordCache(redis_url, ttl, prefix=f"revops:attio:{scope}:record:")
                if redis_url and ttl > 0
                else RecordCache(ttl, size)
            )
        return _records[key]
