"""Request-rate budgets per API credential, the one limiter every client draws from.

A budget holds one rate per kind of request ("read", "write"; a client may name others) for one
API, base URL and credential, shared by every client of that credential in the process
(`budget_for`, keyed by a hash so the credential is never kept). Each kind is a leaky bucket of
capacity one: requests leave evenly spaced, 1/rate apart, so no one-second window ever holds
more than the rate however many callers wait. A kind without a rate is not limited (the API
documents none we rely on yet); the call site is the same, so giving it a rate is one setting.

Why not aiolimiter: its buckets belong to one event loop, and the sync clients (Slack,
Outreach, enrichment, Salesforce) have none; the slot arithmetic below works across threads
and loops, sync (`acquire_sync`) and async (`acquire`) alike. Parallel runs are separate
processes: Dagster concurrency pools keep them inside the budget (a budget shared across
processes is another issue's work).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Mapping


class _Spacing:
    """Lets one request through at a time, 1/rate after the one before actually went (a
    leaky bucket of capacity one). Measured from when each request is let through, not from a
    precomputed schedule: a waiter that wakes late must not let the next one catch up."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"a rate must be positive, got {rate}")
        self.interval = 1.0 / rate
        self._next_free = 0.0
        self._lock = threading.Lock()

    def try_take(self) -> float:
        """0 when the request may go now (and the slot is taken), else the seconds to wait
        before asking again."""
        with self._lock:
            now = time.monotonic()
            if now >= self._next_free:
                self._next_free = now + self.interval
                return 0.0
            return self._next_free - now


class RateBudget:
    """The request rates of one API credential; each kind is limited on its own."""

    def __init__(self, api: str, rates: Mapping[str, float | None]) -> None:
        self.api = api
        self.rates = dict(rates)
        self._spacing = {kind: _Spacing(rate) for kind, rate in rates.items() if rate is not None}

    def rate(self, kind: str) -> float | None:
        return self.rates.get(kind)

    async def acquire(self, kind: str) -> None:
        """Wait (without blocking the loop) until a request of this kind may go."""
        spacing = self._spacing.get(kind)
        while spacing is not None and (wait := spacing.try_take()) > 0:
            await asyncio.sleep(wait)

    def acquire_sync(self, kind: str) -> None:
        """Wait (blocking the thread) until a request of this kind may go."""
        spacing = self._spacing.get(kind)
        while spacing is not None and (wait := spacing.try_take()) > 0:
            time.sleep(wait)


_budgets: dict[tuple[str, str, str, tuple[tuple[str, float | None], ...]], RateBudget] = {}
_lock = threading.Lock()


def budget_for(
    api: str, base_url: str, credential: str, rates: Mapping[str, float | None] | None = None
) -> RateBudget:
    """The shared budget of this API, URL, credential and rates (no rates: unlimited)."""
    digest = hashlib.sha256(credential.strip().encode()).hexdigest()
    chosen = tuple(sorted((rates or {}).items()))
    key = (api, base_url.rstrip("/"), digest, chosen)
    with _lock:
        if key not in _budgets:
            _budgets[key] = RateBudget(api, dict(chosen))
        return _budgets[key]


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
