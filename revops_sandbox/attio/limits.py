"""Rate limiting (Attio's per-credential read and write budgets) and fault injection."""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal

from revops_sandbox.attio.refusals import Refusal, parse_refusals, refusal_for

Kind = Literal["read", "write"]
FAULT_KINDS = ("500", "503", "drop_before_apply", "drop_after_apply", "timeout_after_apply")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class RateLimiter:
    """A strict sliding window per (API key, read|write): at most `rate` requests in any second.

    A refused request is not recorded, so it does not use up budget. Rates below one per second
    become one request per 1/rate seconds; `None` switches the budget off.
    """

    def __init__(self, write_rate: float | None, read_rate: float | None) -> None:
        self._lock = threading.Lock()
        self._rates: dict[Kind, float | None] = {"write": write_rate, "read": read_rate}
        self._windows: dict[tuple[str, Kind], deque[float]] = {}
        for kind, rate in self._rates.items():
            self._check(kind, rate)

    @staticmethod
    def _check(kind: str, rate: float | None) -> None:
        if rate is not None and not (isinstance(rate, int | float) and rate > 0):
            raise ValueError(f"{kind}_rate must be a positive number or None, not {rate!r}")

    def configure(self, kind: Kind, rate: float | None) -> None:
        self._check(kind, rate)
        with self._lock:
            self._rates[kind] = rate

    def rate(self, kind: Kind) -> float | None:
        return self._rates[kind]

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def acquire(self, key: str, kind: Kind, now: float | None = None) -> float | None:
        """None when admitted; otherwise the epoch time at which the window frees a slot."""
        now = time.time() if now is None else now
        with self._lock:
            rate = self._rates[kind]
            if rate is None:
                return None
            capacity, span = (math.floor(rate), 1.0) if rate >= 1 else (1, 1.0 / rate)
            window = self._windows.setdefault((key, kind), deque())
            while window and window[0] <= now - span:
                window.popleft()
            if len(window) >= capacity:
                return window[-capacity] + span
            window.append(now)
            return None


class ArrivalLog:
    """When each rate-limited request reached the limiter, admitted or refused, per kind: what
    a test or benchmark reads to check a client's budget from outside (`GET /_sandbox/rate_log`).
    Bounded: the newest `size` arrivals per kind."""

    def __init__(self, size: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._log: dict[Kind, deque[tuple[float, float | None]]] = {}

    def record(self, kind: Kind, at: float, refused_until: float | None) -> None:
        """One arrival at `at`; `refused_until`: the Retry-After time of its 429, if refused."""
        with self._lock:
            self._log.setdefault(kind, deque(maxlen=self._size)).append((at, refused_until))

    def entries(self, kind: Kind, since: float = 0.0) -> list[tuple[float, float | None]]:
        """(arrival, Retry-After time or None when admitted), oldest first."""
        with self._lock:
            return [(t, until) for t, until in self._log.get(kind, ()) if t >= since]

    def reset(self) -> None:
        with self._lock:
            self._log.clear()

    def report(self, kind: Kind, since: float = 0.0, window: float = 1.0) -> dict[str, Any]:
        """Counts since `since` (epoch seconds): per whole second, and the most in any rolling
        `window` (arrivals, and admitted ones only)."""
        entries = [(t, until is None) for t, until in self.entries(kind, since)]
        per_second: dict[int, int] = {}
        for t, _ in entries:
            per_second[int(t)] = per_second.get(int(t), 0) + 1
        admitted = [t for t, ok in entries if ok]
        return {
            "kind": kind,
            "requests": len(entries),
            "admitted": len(admitted),
            "rate_limited": len(entries) - len(admitted),
            "first": entries[0][0] if entries else None,
            "last": entries[-1][0] if entries else None,
            "per_second": {str(k): v for k, v in sorted(per_second.items())},
            "max_in_window": _max_in_window([t for t, _ in entries], window),
            "max_admitted_in_window": _max_in_window(admitted, window),
            "window_seconds": window,
        }


def _max_in_window(times: list[float], window: float) -> int:
    """The most timestamps in any half-open window (t - window, t] (the limiter's own)."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def retry_after(free_at: float) -> str:
    """Attio sends an HTTP date; round up to the whole second so waiting until then suffices."""
    return format_datetime(datetime.fromtimestamp(math.ceil(free_at), UTC), usegmt=True)


@dataclass(frozen=True)
class FaultRule:
    kind: str
    methods: frozenset[str] | None = None
    path: re.Pattern[str] | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return self.path is None or bool(self.path.search(path))


def _methods(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise ValueError("methods must be a list of HTTP methods")
    out = frozenset(m.upper() for m in value)
    if not out <= METHODS:
        raise ValueError(f"unknown methods {sorted(out - METHODS)}")
    return out


def _pattern(value: Any) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("path must be a regular expression string")
    return re.compile(value)


def _kind(value: Any) -> str:
    if value not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {value!r}; use one of {list(FAULT_KINDS)}")
    return str(value)


class Faults:
    """Faults to inject: a deterministic queue consumed by the next matching requests, and/or a
    seeded probability over some kinds, and/or values whose writes are refused for good
    (`refusals.py`). Safe to change from any thread while the server runs."""

    def __init__(self, *, refusals: bool = False) -> None:
        self._lock = threading.Lock()
        self._queue: list[FaultRule] = []
        self._refusals: list[Refusal] = []
        # Only the Attio stand-in's gateway reads bodies for refusals; elsewhere `refuse`
        # would be accepted and never act, so it is refused instead.
        self._accepts_refusals = refusals
        self._random: tuple[float, tuple[str, ...], FaultRule, random.Random] | None = None
        self._random_spec: dict[str, Any] | None = None
        self.timeout_seconds = 3.0

    def configure(self, spec: dict[str, Any]) -> None:
        """Replace the whole configuration with `spec` (the body of POST /_sandbox/faults):
        `{"next": ["503", {"kind": "drop_after_apply", "methods": ["POST"], "path": "..."}],
          "rate": 0.1, "kinds": [...], "methods": [...], "path": "...", "seed": 1,
          "timeout_seconds": 2.5, "refuse": ["maria@northwind.io", {"value": "northwind.io",
          "code": "validation_type", "message": "..."}]}`; top-level methods/path filter the
        queued faults too. `refuse`: every write naming one of these values (an email address,
        a domain, a record id) gets Attio's 400 validation error until the faults are cleared
        (`refusals.py` has the matching and the body)."""
        if not isinstance(spec, dict):
            raise ValueError("the fault configuration must be a JSON object")
        unknown = set(spec) - {
            "next",
            "rate",
            "kinds",
            "methods",
            "path",
            "seed",
            "timeout_seconds",
            "refuse",
        }
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        methods, path = _methods(spec.get("methods")), _pattern(spec.get("path"))
        queue: list[FaultRule] = []
        for entry in spec.get("next") or []:
            if isinstance(entry, dict):
                queue.append(
                    FaultRule(
                        _kind(entry.get("kind")),
                        _methods(entry["methods"]) if "methods" in entry else methods,
                        _pattern(entry["path"]) if "path" in entry else path,
                    )
                )
            else:
                queue.append(FaultRule(_kind(entry), methods, path))
        rand = None
        if spec.get("rate") is not None:
            rate = spec["rate"]
            if not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ValueError("rate must be a probability between 0 and 1")
            kinds = tuple(_kind(k) for k in spec.get("kinds") or FAULT_KINDS)
            rand = (
                float(rate),
                kinds,
                FaultRule("", methods, path),
                random.Random(spec.get("seed", 0)),
            )
        timeout = spec.get("timeout_seconds", 3.0)
        if not isinstance(timeout, int | float) or timeout < 0:
            raise ValueError("timeout_seconds must be a non-negative number")
        if "refuse" in spec and not self._accepts_refusals:
            raise ValueError("this sandbox refuses no records: `refuse` is the Attio sandbox's")
        refusals = parse_refusals(spec.get("refuse") or [])
        with self._lock:
            self._queue, self._random, self._refusals = queue, rand, refusals
            self._random_spec = (
                {k: spec[k] for k in ("rate", "kinds", "methods", "path", "seed") if k in spec}
                if rand
                else None
            )
            self.timeout_seconds = float(timeout)

    def push(self, kind: str, *, methods: list[str] | None = None, path: str | None = None) -> None:
        """Queue one more fault for the next request that matches."""
        rule = FaultRule(_kind(kind), _methods(methods), _pattern(path))
        with self._lock:
            self._queue.append(rule)

    def refuse(
        self, value: str, *, code: str = "validation_type", message: str | None = None
    ) -> None:
        """Refuse every write naming `value` from now on (see `configure`'s `refuse`)."""
        if not self._accepts_refusals:
            raise ValueError("this sandbox refuses no records: `refuse` is the Attio sandbox's")
        [rule] = parse_refusals([{"value": value, "code": code, "message": message}])
        with self._lock:
            self._refusals.append(rule)

    def refuses_anything(self) -> bool:
        return bool(self._refusals)

    def refusal(self, path: str, body: bytes) -> Any:
        """The `ApiError` a write to `path` with `body` is refused with, or None."""
        with self._lock:
            rules = list(self._refusals)
        return refusal_for(rules, path, body)

    def clear(self) -> None:
        with self._lock:
            self._queue, self._random, self._random_spec = [], None, None
            self._refusals = []

    def pick(self, method: str, path: str) -> str | None:
        with self._lock:
            for i, rule in enumerate(self._queue):
                if rule.matches(method, path):
                    del self._queue[i]
                    return rule.kind
            if self._random is not None:
                rate, kinds, rule, rng = self._random
                if rule.matches(method, path) and rng.random() < rate:
                    return rng.choice(kinds)
        return None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "next": [r.kind for r in self._queue],
                "random": self._random_spec,
                "timeout_seconds": self.timeout_seconds,
                "refuse": [
                    {"value": r.value, "code": r.code, "message": r.message} for r in self._refusals
                ],
            }
