"""The rate budget per API credential in one process (no shared store configured): one budget
per credential, at most the rate in any rolling window whether requests come from threads or
coroutines, kinds limited apart, no rate: no wait. The shared budget across processes is in
test_shared_budget.py."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from revops_pipelines.infra import rate_budget
from revops_pipelines.infra.rate_budget import budget_for


@pytest.fixture(autouse=True)
def no_shared_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a process that never loaded the definitions, without Redis: a budget per process
    (another test module may have loaded them, registering the store's budget)."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(rate_budget, "_database_factory", None)


def densest_second(times: list[float]) -> int:
    return max(sum(1 for t in times if s <= t < s + 1.0) for s in times)


def test_one_budget_per_credential() -> None:
    a = budget_for("Demo", "http://x/", "key-a", {"write": 5.0})
    assert a.mode() == "local"
    assert budget_for("Demo", "http://x", "key-a", {"write": 5.0}) is a
    assert budget_for("Demo", "http://x", "key-b", {"write": 5.0}) is not a
    assert budget_for("Other", "http://x", "key-a", {"write": 5.0}) is not a


def test_threads_and_coroutines_share_the_window() -> None:
    budget = budget_for("Demo", "http://spacing", "k", {"write": 20.0, "read": None})
    sent: list[float] = []
    lock = threading.Lock()

    def note() -> None:
        with lock:
            sent.append(time.monotonic())

    def thread_sender() -> None:
        for _ in range(5):
            budget.acquire_sync("write")
            note()

    async def coroutine_senders() -> None:
        async def one() -> None:
            await budget.acquire("write")
            note()

        await asyncio.gather(*(one() for _ in range(15)))

    started = time.monotonic()
    threads = [threading.Thread(target=thread_sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    asyncio.run(coroutine_senders())
    for thread in threads:
        thread.join()
    sent.sort()
    assert len(sent) == 25
    # A sliding-window log (issue 12): 20 in any rolling second, whoever asked; the 21st
    # waits for the first to leave the window.
    assert densest_second(sent) <= 20
    assert time.monotonic() - started >= 1.0


def test_kinds_are_limited_apart_and_no_rate_means_no_wait() -> None:
    budget = budget_for("Demo", "http://kinds", "k", {"write": 2.0, "read": None})
    budget.acquire_sync("write")
    budget.acquire_sync("write")
    started = time.monotonic()
    for _ in range(50):
        budget.acquire_sync("read")
    budget.acquire_sync("other")
    assert time.monotonic() - started < 0.1
    budget.acquire_sync("write")
    assert time.monotonic() - started >= 0.95  # the third write waited for the first to expire


@pytest.mark.parametrize("transit_ms", [None, 0])
def test_a_request_counts_from_its_answer_unless_a_transit_allowance_is_set(
    transit_ms: int | None,
) -> None:
    budget = rate_budget.RateBudget(
        "Demo",
        {"write": 1.0},
        key=f"demo:transit:{transit_ms}:{time.monotonic_ns()}",
        backend=None,
        margin_ms=0,
        transit_ms=transit_ms,
    )
    started = time.monotonic()
    with budget.slot_sync("write") as slot:
        slot.sent()  # the body left at once; the answer takes 0.4 s
        time.sleep(0.4)
    budget.acquire_sync("write")
    second = time.monotonic() - started
    if transit_ms is None:
        assert second >= 1.39  # a window after the answer: the request may have arrived late
    else:
        assert 0.95 <= second < 1.3  # a window after it was sent (plus 0 ms allowance)


def test_a_slot_backdates_by_its_time_since_sending_less_the_allowance() -> None:
    budget = rate_budget.RateBudget("Demo", {"write": 5.0}, key="demo:b", backend=None)
    unsent = rate_budget.Slot(budget, None, 0.0)
    assert unsent.backdate_ms() == 0  # counting from the answer: nothing to move
    budget.transit_ms = 50
    slot = rate_budget.Slot(budget, None, 0.0)
    assert slot.backdate_ms() == 0  # never sent (refused before the wire): from the answer
    slot._sent_at = time.monotonic() - 0.3
    assert 240 <= slot.backdate_ms() <= 300
    slot._sent_at = time.monotonic() - 0.02
    assert slot.backdate_ms() == 0  # answered within the allowance: from the answer


def test_redis_restamps_a_request_backdated_by_the_server_clock() -> None:
    from revops_pipelines.infra.rate_backends import BULK, Limit, RedisBackend

    backend = RedisBackend("redis://127.0.0.1:6379/13")
    key = f"test:backdate:{time.monotonic_ns()}"
    try:
        wait, member = backend.take(key, Limit(3, 60_000), BULK)
        assert wait == 0
        backend.release(key, member, backdate_ms=20_000)
        seconds, micros = backend.redis.time()
        now_ms = seconds * 1000 + micros // 1000
        stamp = backend.redis.zscore(key, str(member))
        assert stamp is not None and now_ms - 20_050 <= stamp <= now_ms - 19_990
    finally:
        backend.redis.delete(key)
