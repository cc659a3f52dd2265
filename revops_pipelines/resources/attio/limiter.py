"""Attio's request budgets, shared by every client of one credential in this process.

Attio allows 25 writes/s and 100 reads/s across the whole API. Each budget is a leaky bucket of
capacity one that drips at the budgeted rate, so requests leave evenly spaced and no one-second
window ever holds more than the budget, however many coroutines wait on it. Dagster concurrency
pools keep parallel runs (separate processes) inside the same budget.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter


@dataclass
class AttioBudget:
    """The read and write limiters of one API credential."""

    write_rate: float
    read_rate: float
    write: AsyncLimiter = field(init=False)
    read: AsyncLimiter = field(init=False)

    def __post_init__(self) -> None:
        if self.write_rate <= 0 or self.read_rate <= 0:
            raise ValueError(f"Attio budgets must be positive, got {self}")
        self.write = AsyncLimiter(1, 1.0 / self.write_rate)
        self.read = AsyncLimiter(1, 1.0 / self.read_rate)


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
