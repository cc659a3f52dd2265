"""Attio's request budgets, shared by every client of one credential in this process.

Attio allows 25 writes/s and 100 reads/s across the whole API. Each budget is a leaky bucket of
capacity one that drips at the budgeted rate, so requests leave evenly spaced and no one-second
window ever holds more than the budget, however many coroutines wait on it. aiolimiter's buckets
belong to one event loop, so each loop gets its own pair; within a process, runs use one loop at
a time, and Dagster concurrency pools keep parallel runs (separate processes) inside the budget.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import weakref
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter


@dataclass
class AttioBudget:
    """The read and write rates of one API credential, and their limiters per event loop."""

    write_rate: float
    read_rate: float
    _by_loop: weakref.WeakKeyDictionary[
        asyncio.AbstractEventLoop, tuple[AsyncLimiter, AsyncLimiter]
    ] = field(default_factory=weakref.WeakKeyDictionary, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.write_rate <= 0 or self.read_rate <= 0:
            raise ValueError(f"Attio budgets must be positive, got {self}")

    def limiter(self, kind: str) -> AsyncLimiter:
        """The limiter for `kind` ("read" or "write") on the running event loop."""
        loop = asyncio.get_running_loop()
        pair = self._by_loop.get(loop)
        if pair is None:
            pair = (AsyncLimiter(1, 1.0 / self.write_rate), AsyncLimiter(1, 1.0 / self.read_rate))
            self._by_loop[loop] = pair
        return pair[0] if kind == "write" else pair[1]


_budgets: dict[tuple[str, str, float, float], AttioBudget] = {}
_lock = threading.Lock()


def budget_for(base_url: str, api_key: str, write_rate: float, read_rate: float) -> AttioBudget:
    """The shared budget of this credential (keyed by a hash, so the key is never kept)."""
    credential = hashlib.sha256(api_key.encode()).hexdigest()
    key = (base_url.rstrip("/"), credential, write_rate, read_rate)
    with _lock:
        if key not in _budgets:
            _budgets[key] = AttioBudget(write_rate=write_rate, read_rate=read_rate)
        return _budgets[key]
