"""Send-once: the in-call rule (ambiguous -> look -> use it or send again, bounded) driven the
same way by sync and async callers, and the cross-run rule over a real effect ledger (SQLite
and PostgreSQL): the states it records and what a later attempt does with them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from revops_pipelines.infra.errors import ApiError
from revops_pipelines.infra.send_once import (
    Effect,
    EffectOutcome,
    run_once,
    run_once_sync,
    send_once,
    send_once_sync,
)
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.ledger import LedgerTable, ledger_row


class Lost(ApiError):
    """A write whose answer was lost: it may have been applied."""

    ambiguous = True


class Refused(ApiError):
    """A write the API refused: certainly not applied."""


class Taken(ApiError):
    """The API's "already exists" answer (as Outreach's 422)."""

    status_code = 422


class Target:
    """A write target: each send may apply the write and then fail as scripted."""

    def __init__(self, script: list[tuple[bool, ApiError | None]]) -> None:
        self.script = list(script)  # per send: (applied?, error raised afterwards)
        self.made: list[str] = []
        self.sends = self.looks = 0

    def send(self) -> str:
        self.sends += 1
        applied, error = self.script.pop(0) if self.script else (True, None)
        if applied:
            self.made.append(f"made-{len(self.made) + 1}")
        if error is not None:
            raise error
        return self.made[-1]

    def look(self) -> str | None:
        self.looks += 1
        return self.made[-1] if self.made else None

    async def asend(self) -> str:
        return self.send()

    async def alook(self) -> str | None:
        return self.look()


def in_call(target: Target, mode: str, **options: Any) -> str:
    if mode == "sync":
        return send_once_sync(target.send, target.look, what="test write", **options)
    return asyncio.run(send_once(target.asend, target.alook, what="test write", **options))


MODES = ["sync", "async"]


@pytest.mark.parametrize("mode", MODES)
def test_an_ambiguous_write_that_landed_is_found_not_repeated(mode: str) -> None:
    target = Target([(True, Lost())])
    assert in_call(target, mode) == "made-1"
    assert (target.sends, target.looks, target.made) == (1, 1, ["made-1"])


@pytest.mark.parametrize("mode", MODES)
def test_an_ambiguous_write_that_did_not_land_is_sent_again(mode: str) -> None:
    target = Target([(False, Lost()), (True, None)])
    assert in_call(target, mode) == "made-1"
    assert (target.sends, target.looks, target.made) == (2, 1, ["made-1"])


@pytest.mark.parametrize("mode", MODES)
def test_resends_are_bounded(mode: str) -> None:
    target = Target([(False, Lost())] * 10)
    with pytest.raises(Lost):
        in_call(target, mode, max_resends=2)
    # Every failure is looked at (the last may have landed), but only three sends went out.
    assert (target.sends, target.looks, target.made) == (3, 3, [])


@pytest.mark.parametrize("mode", MODES)
def test_a_refusal_is_raised_at_once_without_a_look(mode: str) -> None:
    target = Target([(False, Refused())])
    with pytest.raises(Refused):
        in_call(target, mode)
    assert (target.sends, target.looks) == (1, 0)


@pytest.mark.parametrize("mode", MODES)
def test_an_already_exists_answer_is_looked_up_never_resent(mode: str) -> None:
    def exists(exc: BaseException) -> bool:
        return isinstance(exc, ApiError) and exc.status_code == 422

    target = Target([(False, Taken())])
    target.made.append("theirs")  # made by someone else before us
    assert in_call(target, mode, already_exists=exists) == "theirs"
    empty = Target([(False, Taken())])
    with pytest.raises(Taken):
        in_call(empty, mode, already_exists=exists)
    assert (empty.sends, empty.looks) == (1, 1)


def test_without_a_look_the_ambiguity_goes_to_the_caller() -> None:
    target = Target([(True, Lost())])
    with pytest.raises(Lost):
        send_once_sync(target.send, None, what="no look")
    assert (target.sends, target.made) == (1, ["made-1"])


def test_a_bare_lost_connection_counts_as_ambiguous() -> None:
    target = Target([(True, None)])

    def reset_after_sending() -> str:
        target.send()
        raise ConnectionResetError("reset by peer")

    assert send_once_sync(reset_after_sending, target.look, what="socket") == "made-1"


# --- across runs, over the store's ledger ------------------------------------------------------


class Effects:
    """A target for effects, recording what the ledger said while each send was in flight."""

    def __init__(self, ledger: LedgerTable, key: str) -> None:
        self.ledger, self.key = ledger, key
        self.made: list[str] = []
        self.during_send: list[str] = []

    def sender(self, error: BaseException | None = None, *, applied: bool = True) -> Callable:
        def send() -> Effect:
            self.during_send.append((self.ledger.read(self.key) or {})["status"])
            if applied:
                self.made.append(f"ref-{len(self.made) + 1}")
            if error is not None:
                raise error
            return Effect(self.made[-1], {"n": len(self.made)})

        return send

    def look(self) -> Effect | None:
        return Effect(self.made[-1], {"n": len(self.made)}) if self.made else None


@pytest.fixture
def ledger(db_url: str) -> LedgerTable:
    return LedgerTable(store_engine.get_engine(db_url))


def test_a_done_effect_is_skipped_with_its_recorded_result(ledger: LedgerTable) -> None:
    effects = Effects(ledger, "lead-1:slack")
    first = run_once_sync(ledger, "lead-1:slack", "slack", effects.sender(), effects.look)
    again = run_once_sync(ledger, "lead-1:slack", "slack", effects.sender(), effects.look)
    assert first == EffectOutcome("lead-1:slack", "slack", "done", Effect("ref-1", {"n": 1}), 1)
    assert again == EffectOutcome("lead-1:slack", "slack", "skipped", Effect("ref-1", {"n": 1}), 1)
    assert effects.during_send == ["started"] and effects.made == ["ref-1"]
    row = ledger.read("lead-1:slack")
    assert row is not None
    assert (row["status"], row["target_ref"], row["result"], row["last_error"]) == (
        "done",
        "ref-1",
        {"n": 1},
        None,
    )


def test_an_ambiguous_failure_is_recorded_then_resolved_by_looking(ledger: LedgerTable) -> None:
    key = "lead-2:note"
    effects = Effects(ledger, key)
    with pytest.raises(Lost):
        asyncio.run(run_once(ledger, key, "note", _async(effects.sender(Lost("lost"))), None))
    row = ledger_row(ledger.engine, key)
    assert row is not None and (row["status"], row["attempts"]) == ("ambiguous", 1)
    outcome = run_once_sync(ledger, key, "note", effects.sender(), effects.look)
    assert (outcome.status, outcome.effect.ref, outcome.attempts) == ("done", "ref-1", 2)
    assert effects.made == ["ref-1"]  # found, not sent a second time


def test_an_ambiguous_failure_that_did_not_land_is_sent_on_the_next_attempt(
    ledger: LedgerTable,
) -> None:
    key = "lead-3:task"
    effects = Effects(ledger, key)
    with pytest.raises(Lost):
        run_once_sync(ledger, key, "task", effects.sender(Lost("lost"), applied=False))
    outcome = run_once_sync(ledger, key, "task", effects.sender(), effects.look)
    assert (outcome.status, outcome.effect.ref, outcome.attempts) == ("done", "ref-1", 2)
    assert effects.during_send == ["started", "started"]


def test_a_refusal_is_recorded_as_failed_and_sent_again_without_a_look(
    ledger: LedgerTable,
) -> None:
    key = "lead-4:outreach"
    effects = Effects(ledger, key)
    with pytest.raises(Refused):
        run_once_sync(ledger, key, "outreach", effects.sender(Refused("no"), applied=False))
    row = ledger.read(key)
    assert row is not None and (row["status"], row["last_error"]) == ("failed", "no")
    looks: list[int] = []

    def look() -> Effect | None:
        looks.append(1)
        return None

    outcome = run_once_sync(ledger, key, "outreach", effects.sender(), look)
    assert (outcome.status, outcome.attempts, looks) == ("done", 2, [])


def _async(send: Callable[[], Effect]) -> Callable[[], Any]:
    async def asend() -> Effect:
        return send()

    return asend


def test_infra_does_not_import_the_store() -> None:
    code = (
        "import sys, revops_pipelines.infra.send_once, revops_pipelines.infra.retry;"
        "print(sorted(m for m in sys.modules if m.startswith('revops_pipelines.store')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
