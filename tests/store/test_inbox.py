"""The inbox API on SQLite and PostgreSQL: store once, claim atomically, settle, release, and
never delete."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_pipelines.store.tables import webhook_inbox
from tests.conftest import ENGINES

POSTGRES_ONLY = [engine for engine in ENGINES if engine == "postgresql"]


def _store(engine: sa.Engine, n: int, source: str = "typeform", start: int = 0) -> list[int]:
    ids = []
    for i in range(start, start + n):
        result = inbox.store_event(
            engine, source=source, event_id=f"evt-{i}", headers={"user-agent": "t"}, body=b"{}"
        )
        assert result.outcome == "stored" and result.id is not None
        ids.append(result.id)
    return ids


def _statuses(engine: sa.Engine) -> dict[int, tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(webhook_inbox.c.id, webhook_inbox.c.status, webhook_inbox.c.attempts)
        )
        return {r.id: (r.status, r.attempts) for r in rows}


def test_store_event_stores_once_and_reports_duplicates(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    first = inbox.store_event(
        engine,
        source="tally",
        event_id="e1",
        headers={"content-type": "application/json"},
        body=b'{"a":1}',
    )
    again = inbox.store_event(engine, source="tally", event_id="e1", headers={}, body=b"other")
    other_source = inbox.store_event(
        engine, source="typeform", event_id="e1", headers={}, body=b"x"
    )
    assert first.outcome == "stored" and first.id is not None
    assert again == inbox.StoreResult("duplicate", None)
    assert other_source.outcome == "stored"
    [row] = inbox.get_rows(engine, [first.id])
    assert row.body == b'{"a":1}' and row.headers == {"content-type": "application/json"}
    assert row.status == "pending" and row.attempts == 0 and row.received_at.tzinfo is not None
    assert inbox.count_by_status(engine)["pending"] == 2


def test_claim_batch_takes_oldest_pending_of_the_sources_once(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    forms = _store(engine, 5)
    _store(engine, 2, source="attio", start=100)
    first = inbox.claim_batch(engine, ["typeform", "tally"], limit=3, claimed_by="run-a")
    second = inbox.claim_batch(engine, "typeform", limit=10, claimed_by="run-b")
    assert [r.id for r in first] == forms[:3]
    assert [r.id for r in second] == forms[3:]
    assert all(r.status == "processing" and r.claimed_by == "run-a" for r in first)
    assert inbox.claim_batch(engine, "typeform", limit=10, claimed_by="run-c") == []
    assert inbox.claimed_ids(engine, "run-b") == forms[3:]


def test_claim_batch_restricted_to_ids_skips_rows_already_held(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    ids = _store(engine, 4)
    inbox.claim_batch(engine, "typeform", limit=1, claimed_by="other", ids=[ids[1]])
    mine = inbox.claim_batch(engine, "typeform", limit=4, claimed_by="me", ids=ids[:3])
    assert [r.id for r in mine] == [ids[0], ids[2]]


def test_mark_done_only_settles_rows_still_held_by_the_claimer(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    ids = _store(engine, 3)
    inbox.claim_batch(engine, "typeform", limit=3, claimed_by="run-a")
    assert inbox.mark_done(engine, ids, claimed_by="run-b") == 0
    assert inbox.mark_done(engine, ids[:2], claimed_by="run-a") == 2
    assert inbox.mark_done(engine, ids[:2]) == 0  # already done: no second settlement
    statuses = _statuses(engine)
    assert [statuses[i][0] for i in ids] == ["done", "done", "processing"]
    [done] = inbox.get_rows(engine, [ids[0]])
    assert done.processed_at is not None


def test_quarantine_keeps_the_row_and_the_reason(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    [row_id] = _store(engine, 1)
    inbox.claim_batch(engine, "typeform", limit=1, claimed_by="run-a")
    assert inbox.mark_quarantined(
        engine, row_id, "typeform: no email answer found", claimed_by="run-a"
    )
    [row] = inbox.get_rows(engine, [row_id])
    assert (row.status, row.last_error) == ("quarantined", "typeform: no email answer found")
    assert inbox.claim_batch(engine, "typeform", limit=1, claimed_by="run-b") == []
    assert inbox.requeue(engine, [row_id]) == 1
    assert inbox.get_rows(engine, [row_id])[0].status == "pending"


def test_release_charges_attempts_and_fails_after_max(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    [row_id] = _store(engine, 1)
    for attempt in range(1, 4):
        inbox.claim_batch(engine, "typeform", limit=1, claimed_by=f"run-{attempt}")
        result = inbox.release(engine, [row_id], f"boom {attempt}", max_attempts=3)
        expected = inbox.ReleaseResult(failed=1) if attempt == 3 else inbox.ReleaseResult(pending=1)
        assert result == expected
    [row] = inbox.get_rows(engine, [row_id])
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "boom 3")
    assert row.claimed_by is None and row.processed_at is not None
    assert inbox.rows_with_status(engine, "failed", sources="typeform")[0].id == row_id
    assert inbox.claim_batch(engine, "typeform", limit=1, claimed_by="run-4") == []


def test_release_claimed_by_and_unclaimed_attempts(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    ids = _store(engine, 4)
    inbox.claim_batch(engine, "typeform", limit=2, claimed_by="run-a", ids=ids[:2])
    assert inbox.release_claimed_by(engine, "run-a", "run failed") == inbox.ReleaseResult(pending=2)
    assert inbox.charge_unclaimed_attempt(engine, ids[2:], "run failed") == inbox.ReleaseResult(
        pending=2
    )
    assert {v for v in _statuses(engine).values()} == {("pending", 1)}


def test_release_stale_only_touches_old_claims(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    ids = _store(engine, 2)
    now = datetime.now(UTC)
    inbox.claim_batch(
        engine, "typeform", limit=1, claimed_by="dead", ids=[ids[0]], now=now - timedelta(hours=2)
    )
    inbox.claim_batch(engine, "typeform", limit=1, claimed_by="alive", ids=[ids[1]], now=now)
    result = inbox.release_stale(engine, timedelta(hours=1), sources=["typeform"], now=now)
    assert result == inbox.ReleaseResult(pending=1)
    statuses = _statuses(engine)
    assert statuses[ids[0]] == ("pending", 1) and statuses[ids[1]] == ("processing", 0)
    [row] = inbox.get_rows(engine, [ids[0]])
    assert row.last_error == "claim expired after 3600 s"


def test_pending_queries_for_sensors(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    ids = _store(engine, 5)
    assert [
        r.id for r in inbox.pending_after(engine, ["typeform"], after_id=ids[1], limit=2)
    ] == ids[2:4]
    future = datetime.now(UTC) + timedelta(minutes=1)
    idle = inbox.pending_idle(engine, "typeform", up_to_id=ids[2], idle_since=future, limit=10)
    assert [r.id for r in idle] == ids[:3]
    past = datetime.now(UTC) - timedelta(minutes=1)
    assert inbox.pending_idle(engine, "typeform", up_to_id=ids[2], idle_since=past, limit=10) == []


def test_nothing_is_ever_deleted(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    ids = _store(engine, 4)
    inbox.claim_batch(engine, "typeform", limit=4, claimed_by="r")
    inbox.mark_done(engine, ids[:1])
    inbox.mark_quarantined(engine, ids[1], "bad")
    inbox.release(engine, ids[2:3], "err", max_attempts=1)
    inbox.release(engine, ids[3:], "err")
    counts = inbox.count_by_status(engine, ["typeform"])
    assert counts == {"pending": 1, "processing": 0, "done": 1, "failed": 1, "quarantined": 1}
    assert len(inbox.get_rows(engine, ids)) == 4


def test_two_workers_claiming_concurrently_process_each_row_exactly_once(db_url: str) -> None:
    """Two workers race over 300 rows in small batches; each row is processed by exactly one."""
    engine = store_engine.get_engine(db_url)
    ids = _store(engine, 300)
    processed: dict[str, list[int]] = {"w1": [], "w2": []}
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            barrier.wait()
            while batch := inbox.claim_batch(engine, "typeform", limit=7, claimed_by=name):
                processed[name].extend(r.id for r in batch)
                assert inbox.mark_done(engine, [r.id for r in batch], claimed_by=name) == len(batch)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in processed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    both = processed["w1"] + processed["w2"]
    assert sorted(both) == ids  # every row once, none twice
    assert processed["w1"] and processed["w2"]  # both really worked
    assert inbox.count_by_status(engine)["done"] == 300


@pytest.mark.parametrize("db_url", POSTGRES_ONLY, indirect=True)
def test_postgres_claim_skips_rows_locked_by_another_transaction(db_url: str) -> None:
    """FOR UPDATE SKIP LOCKED: a claim neither waits for nor takes rows another session holds."""
    engine = store_engine.get_engine(db_url)
    ids = _store(engine, 4)
    with engine.connect() as other:
        locking = other.begin()
        other.execute(
            sa.select(webhook_inbox.c.id).where(webhook_inbox.c.id.in_(ids[:2])).with_for_update()
        )
        got = inbox.claim_batch(engine, "typeform", limit=4, claimed_by="me")
        locking.rollback()
    assert [r.id for r in got] == ids[2:]


def test_store_events_group_commit_keeps_order_and_dedupes_within_the_batch(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    [earlier] = _store(engine, 1)  # evt-0
    events = [
        inbox.NewEvent("typeform", "a", {}, b"1"),
        inbox.NewEvent("typeform", "evt-0", {}, b"redelivered"),
        inbox.NewEvent("typeform", "a", {}, b"same event again"),
        inbox.NewEvent("tally", "a", {}, b"2"),
    ]
    results = inbox.store_events(engine, events)
    assert [r.outcome for r in results] == ["stored", "duplicate", "duplicate", "stored"]
    rows = inbox.get_rows(engine, [r.id for r in results if r.id])
    assert [(r.source, r.event_id, r.body) for r in rows] == [
        ("typeform", "a", b"1"),
        ("tally", "a", b"2"),
    ]
    assert inbox.get_rows(engine, [earlier])[0].body == b"{}"
    assert inbox.store_events(engine, []) == []
