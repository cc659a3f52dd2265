"""Backoff for handed-back inbox rows (issue 15, item 7): a row waits base * 2^(attempts - 1),
capped, from the settings profile, before a sensor offers it again; a row out of attempts is
`failed` with its last error and the inbox check reports it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from revops_pipelines.assets.inbox import failed_rows_check
from revops_pipelines.infra.retry import handback_delays
from revops_pipelines.services.inbox import (
    MAX_ATTEMPTS,
    InboxRun,
    handback_backoff,
    plan_batches,
)
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent

SOURCES = ["typeform"]


def _due(engine: sa.Engine, at: datetime) -> list[int]:
    """The rows a sensor tick at `at` offers for a retry (cursor past every row)."""
    plan = plan_batches(
        engine,
        SOURCES,
        after_id=10**9,
        budget=100,
        retry_after=timedelta(minutes=5),
        claim_timeout=timedelta(hours=1),
        now=at,
    )
    return [r.id for r in plan.retry]


def _fail_once(engine: sa.Engine, row: int, n: int) -> datetime:
    run = InboxRun(engine, f"run-{n}")
    assert [r.id for r in run.claim(SOURCES, [row])] == [row]
    run.hand_back(row, f"Attio answered 503 (attempt {n})")
    [stored] = inbox.get_rows(engine, [row])
    return stored.processed_at or datetime.now(UTC)


def test_the_schedule_doubles_to_its_cap() -> None:
    assert handback_delays(10, 60, 6) == (10, 20, 40, 60, 60, 60)


def test_the_profile_sets_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVOPS_ENV", raising=False)
    assert handback_backoff()[:3] == (5.0, 10.0, 20.0)  # development
    monkeypatch.setenv("REVOPS_ENV", "production")
    assert handback_backoff()[:2] == (15.0, 30.0)
    monkeypatch.setenv("REVOPS_INBOX_RETRY_BASE_SECONDS", "2")
    monkeypatch.setenv("REVOPS_INBOX_RETRY_MAX_SECONDS", "5")
    assert handback_backoff() == (2.0, 4.0, 5.0, 5.0, 5.0)[:MAX_ATTEMPTS]


def test_handed_back_rows_wait_longer_each_attempt_then_fail_and_the_check_says_so(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVOPS_ENV", raising=False)
    monkeypatch.setenv("REVOPS_INBOX_RETRY_BASE_SECONDS", "30")
    monkeypatch.setenv("REVOPS_INBOX_RETRY_MAX_SECONDS", "100")
    [row] = [r.id for r in inbox.store_events(engine, [NewEvent("typeform", "e1", {}, b"{}")])]
    waits: list[float] = []
    for attempt in range(1, MAX_ATTEMPTS):
        before = datetime.now(UTC)
        _fail_once(engine, row, attempt)
        [stored] = inbox.get_rows(engine, [row])
        assert (stored.status, stored.attempts) == ("pending", attempt)
        # Not offered before its time, offered after it.
        expected = min(100, 30 * 2 ** (attempt - 1))
        assert _due(engine, before + timedelta(seconds=expected - 2)) == []
        assert _due(engine, datetime.now(UTC) + timedelta(seconds=expected + 1)) == [row]
        waits.append(expected)
    assert waits == [30, 60, 100, 100][: MAX_ATTEMPTS - 1]
    _fail_once(engine, row, MAX_ATTEMPTS)
    [stored] = inbox.get_rows(engine, [row])
    assert (stored.status, stored.attempts) == ("failed", MAX_ATTEMPTS)
    assert stored.last_error == f"Attio answered 503 (attempt {MAX_ATTEMPTS})"
    assert _due(engine, datetime.now(UTC) + timedelta(days=1)) == []
    check = failed_rows_check(engine, SOURCES, "no_failed_form_rows")
    assert check.passed is False
    assert check.metadata["failed"].value == 1
    assert f"Attio answered 503 (attempt {MAX_ATTEMPTS})" in check.metadata["failed_rows"].value
