"""The effect ledger (store) under the cross-run send-once rule: an effect happens once across
attempts and crashes."""

from __future__ import annotations

import asyncio

import pytest

from revops_pipelines.infra.send_once import Effect, run_once
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.ledger import LedgerTable, ledger_row


class Target:
    """A stand-in target that records what it was sent (the ledger's own logic is under test)."""

    def __init__(self) -> None:
        self.made: list[str] = []

    async def send(self) -> Effect:
        self.made.append("x")
        return Effect(ref=f"made-{len(self.made)}")

    async def look(self) -> Effect | None:
        return Effect(ref=f"made-{len(self.made)}") if self.made else None


def test_done_effects_are_skipped(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    ledger = LedgerTable(engine)
    target = Target()
    first = asyncio.run(run_once(ledger, "lead-1:task", "task", target.send, target.look))
    second = asyncio.run(run_once(ledger, "lead-1:task", "task", target.send, target.look))
    assert (first.status, second.status) == ("done", "skipped")
    assert second.effect.ref == "made-1"
    assert target.made == ["x"]


def test_a_crash_after_sending_is_resolved_by_looking(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    ledger = LedgerTable(engine)
    target = Target()

    async def send_then_die() -> Effect:
        await target.send()
        raise ConnectionResetError("the answer was lost")

    with pytest.raises(ConnectionResetError):
        asyncio.run(
            run_once(
                ledger,
                "lead-2:note",
                "note",
                send_then_die,
                target.look,
            )
        )
    assert ledger_row(engine, "lead-2:note")["status"] == "ambiguous"
    again = asyncio.run(run_once(ledger, "lead-2:note", "note", target.send, target.look))
    assert again.status == "done" and again.effect.ref == "made-1"
    assert target.made == ["x"]
    assert ledger_row(engine, "lead-2:note")["attempts"] == 2


def test_a_failure_before_sending_is_retried(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    ledger = LedgerTable(engine)
    target = Target()

    async def refuse() -> Effect:
        raise ValueError("validation_type: content is required")

    with pytest.raises(ValueError):
        asyncio.run(run_once(ledger, "lead-3:task", "task", refuse, target.look))
    row = ledger_row(engine, "lead-3:task")
    assert row["status"] == "failed" and "content is required" in row["last_error"]
    done = asyncio.run(run_once(ledger, "lead-3:task", "task", target.send, target.look))
    assert done.status == "done" and target.made == ["x"]
