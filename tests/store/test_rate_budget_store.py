"""The rate budget's SQL (store/rate_budget.py) on SQLite and PostgreSQL, through the backend
the budgets use (infra/rate_database.py). Processes sharing it are tested end to end in
tests/infra/test_shared_budget.py; here each rule on its own, and atomicity under threads."""

from __future__ import annotations

import threading
import uuid

import pytest

from revops_pipelines.infra.rate_backends import BULK, INTERACTIVE, BackendUnavailable, Limit
from revops_pipelines.infra.rate_database import DatabaseBackend
from revops_pipelines.store.rate_budget import BudgetStoreUnavailable, DatabaseRateLog
from tests.infra.shared_stores import free_port

# 3 requests in any rolling minute: long enough that a slow machine never blurs the waits.
ONE_MINUTE = [(60_000, 3)]


def key() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_the_log_admits_up_to_the_limit_then_says_when_a_slot_frees(db_url: str) -> None:
    log, k = DatabaseRateLog(db_url), key()
    assert [log.admit(k, ONE_MINUTE, 0, f"m{i}") for i in range(3)] == [0, 0, 0]
    wait = log.admit(k, ONE_MINUTE, 0, "m3")
    assert 50_000 < wait <= 60_001  # the first entry leaves the window a minute after it came
    assert log.admit(key(), ONE_MINUTE, 0, "m0") == 0  # another key has its own window


def test_a_request_counts_as_in_flight_until_its_answer_restamps_it(db_url: str) -> None:
    log, k = DatabaseRateLog(db_url), key()
    assert [log.admit(k, ONE_MINUTE, 60_000, m) for m in "abc"] == [0, 0, 0]
    # All three in flight: when one frees is not known, so look again after a share of the window.
    assert log.admit(k, ONE_MINUTE, 60_000, "d") == 60_000 // 3
    for member in "abc":
        log.restamp(k, member)
    # Answered now: the window counts from the answers, a minute from now.
    assert 50_000 < log.admit(k, ONE_MINUTE, 60_000, "d") <= 60_001


def test_a_backdated_restamp_counts_the_request_from_before_its_answer(db_url: str) -> None:
    log, k = DatabaseRateLog(db_url), key()
    assert [log.admit(k, ONE_MINUTE, 60_000, m) for m in "abc"] == [0, 0, 0]
    for member in "abc":
        log.restamp(k, member, 20_000)  # sent 20 s before the answer came (transit allowance)
    # The window counts from 20 s ago: a slot frees in about 40 s, not 60.
    assert 30_000 < log.admit(k, ONE_MINUTE, 60_000, "d") <= 40_001


def test_bulk_callers_leave_the_reserve_to_interactive_ones(db_url: str) -> None:
    backend, k = DatabaseBackend(DatabaseRateLog(db_url)), key()
    limit = Limit.per_second(10)  # 10 per second, the last slot reserved
    assert limit.reserve == 1
    bulk = [backend.take(k, limit, BULK) for _ in range(10)]
    assert [wait == 0 for wait, _ in bulk] == [True] * 9 + [False]
    wait, slot = backend.take(k, limit, INTERACTIVE)
    assert wait == 0 and slot is not None
    assert backend.take(k, limit, INTERACTIVE)[0] > 0


def test_a_pause_keeps_the_longer_one_and_demand_is_per_key(db_url: str) -> None:
    log, k = DatabaseRateLog(db_url), key()
    assert log.timers_ms(k) == (0, 0)
    log.pause(k, 60_000)
    log.pause(k, 1_000)  # a shorter Retry-After never shortens a pause
    log.announce(k, 30_000)
    paused, demand = log.timers_ms(k)
    assert 50_000 < paused <= 60_000 and 20_000 < demand <= 30_000
    backend = DatabaseBackend(log)
    assert 50 < backend.paused_for(k) <= 60 and backend.demand(k)
    # An admission sees the pause itself, however late a process reads the timers.
    assert 50_000 < log.admit(k, ONE_MINUTE, 0, "m") <= 60_000
    assert not DatabaseBackend(log).demand(key())  # another key: no demand


def test_concurrent_admissions_never_exceed_the_limit(db_url: str) -> None:
    """Eight threads, each with its own connection, ask 20 times for a budget of 25 whose
    entries stay in flight: exactly 25 are admitted (the key's row lock, or BEGIN IMMEDIATE)."""
    log, k = DatabaseRateLog(db_url), key()
    admitted: list[str] = []
    lock = threading.Lock()

    def ask(thread: int) -> None:
        for i in range(20):
            member = f"{thread}-{i}"
            if log.admit(k, [(1000, 25)], 60_000, member) == 0:
                with lock:
                    admitted.append(member)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 25


@pytest.mark.timeout(30)
def test_a_database_that_does_not_answer_is_unavailable_not_an_error() -> None:
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/revops"
    log = DatabaseRateLog(dead)
    with pytest.raises(BudgetStoreUnavailable, match=r"^database: "):
        log.admit(key(), ONE_MINUTE, 0, "m")
    with pytest.raises(BackendUnavailable):
        DatabaseBackend(log).take(key(), Limit.per_second(5), INTERACTIVE)
