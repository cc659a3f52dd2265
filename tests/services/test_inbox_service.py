"""The inbox workflow (`services/inbox.py`) over the store: a run claims, quarantines, hands back
and settles its rows; a failed run's rows are released; an operator requeues."""

from __future__ import annotations

import sqlalchemy as sa

from revops_pipelines.services.inbox import InboxRun, release_failed_run, requeue, status_counts
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent


def _store(engine: sa.Engine, n: int, source: str = "typeform") -> list[int]:
    events = [NewEvent(source, f"evt-{i}", {}, b"{}") for i in range(n)]
    return [r.id for r in inbox.store_events(engine, events) if r.id is not None]


def _status(engine: sa.Engine, ids: list[int]) -> list[tuple[str, int]]:
    return [(r.status, r.attempts) for r in inbox.get_rows(engine, ids)]


def test_a_run_claims_its_batch_and_settles_what_it_did_not_set_aside(engine) -> None:  # type: ignore[no-untyped-def]
    a, b, c, d = _store(engine, 4)
    run = InboxRun(engine, "run-1")
    assert [r.id for r in run.claim(["typeform"], [a, b, c])] == [a, b, c]
    # Another run asking for the same rows gets none of them.
    assert InboxRun(engine, "run-2").claim(["typeform"], [a, b, c]) == []
    assert run.quarantine(a, "unreadable")
    run.hand_back(b, "Attio timed out")
    settled = run.settle(["typeform"])
    assert settled.ids == [c] and settled.done == 1
    assert _status(engine, [a, b, c, d]) == [
        ("quarantined", 0),
        ("pending", 1),
        ("done", 0),
        ("pending", 0),
    ]
    assert settled.counts == status_counts(engine, ["typeform"])
    assert inbox.get_rows(engine, [a])[0].last_error == "unreadable"
    assert requeue(engine, [a, c]) == 1  # only failed or quarantined rows go back
    assert _status(engine, [a])[0] == ("pending", 0)


def test_a_failed_run_gives_back_what_it_held_and_charges_what_it_never_claimed(engine) -> None:  # type: ignore[no-untyped-def]
    held, never = _store(engine, 2)
    InboxRun(engine, "run-dead").claim(["typeform"], [held])
    result = release_failed_run(engine, "run-dead", [held, never], "run failed", max_attempts=2)
    assert (result.pending, result.failed) == (2, 0)
    assert _status(engine, [held, never]) == [("pending", 1), ("pending", 1)]
    # The next failure of a batch on its last attempt leaves the rows failed.
    InboxRun(engine, "run-dead-2").claim(["typeform"], [held])
    again = release_failed_run(engine, "run-dead-2", [held, never], "run failed", max_attempts=2)
    assert (again.pending, again.failed) == (0, 2)
    assert _status(engine, [held, never]) == [("failed", 2), ("failed", 2)]
