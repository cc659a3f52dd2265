"""Send-once: a write without a unique key of its own happens at most once, within a call and
across runs.

Two rules, each written once as a generator that says which call to make next ("send" or
"look") and receives its outcome, so sync and async clients drive the very same algorithm
(`send_once_sync` / `send_once`, `run_once_sync` / `run_once`):

- in a call (`send_once`): send; when the failure is ambiguous (the write may have landed:
  `ApiError.ambiguous`, or a bare timeout or dropped connection below our clients) or the
  caller declares it an "already exists" answer (e.g. Outreach's 422), look at the target and
  use what is there, else send again, at most `max_resends` times.
- across runs (`run_once`), over the effect ledger (the store's table, given as an object that
  only records: `EffectLedger`): a key already `done` is skipped; one left `started` or
  `ambiguous` by an earlier attempt is looked for before anything is sent; the outcome of this
  attempt is recorded as `done`, `ambiguous` or `failed`.

The ledger only records; the service owns the network calls (`send`, `look`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from revops_pipelines.infra.errors import ApiError

log = logging.getLogger("revops.send_once")
T = TypeVar("T")
Call = Literal["send", "look"]
Steps = Generator[Call, Any, T]
SEND: Call = "send"
LOOK: Call = "look"


def is_ambiguous(exc: BaseException) -> bool:
    """May the failed write have been applied? An API error says so itself; a bare timeout or
    dropped connection (raised below our clients) may have lost the answer to an applied write."""
    if isinstance(exc, ApiError):
        return exc.ambiguous
    return isinstance(exc, TimeoutError | ConnectionError)


# --- the two algorithms (no I/O: they yield the call to make, and receive its outcome) ---------


def _in_call(
    what: str,
    max_resends: int,
    can_look: bool,
    already_exists: Callable[[BaseException], bool],
) -> Steps[Any]:
    for resend in range(max_resends + 1):
        try:
            return (yield SEND)
        except Exception as exc:
            exists = already_exists(exc)
            if not (exists or is_ambiguous(exc)) or not can_look:
                raise
            found = yield LOOK
            if found is not None:
                log.info("%s: the write had been applied; using it (%s)", what, exc)
                return found
            if exists or resend == max_resends:
                raise
            log.info("%s: the write was not applied; sending again (%s)", what, exc)
    raise AssertionError("unreachable: the last resend returns or raises")


@dataclass(frozen=True)
class Effect:
    """What an effect produced: a reference to the made thing, and a small JSON result."""

    ref: str | None
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class EffectOutcome:
    key: str
    step: str
    status: str  # done | skipped (already done before this attempt)
    effect: Effect
    attempts: int


class EffectLedger(Protocol):
    """The effect ledger as the store provides it: one row per key, written, never a network
    call. `read` gives the row (`status`, `attempts`, `target_ref`, `result`) or None."""

    def read(self, key: str) -> Mapping[str, Any] | None: ...

    def started(self, key: str, step: str, *, attempts: int) -> None: ...

    def done(
        self, key: str, step: str, *, attempts: int, ref: str | None, result: dict[str, Any] | None
    ) -> None: ...

    def ambiguous(self, key: str, step: str, *, attempts: int, error: str) -> None: ...

    def failed(self, key: str, step: str, *, attempts: int, error: str) -> None: ...


def _across_runs(ledger: EffectLedger, key: str, step: str, can_look: bool) -> Steps[EffectOutcome]:
    row = ledger.read(key)
    attempts = (int(row["attempts"]) if row else 0) + 1
    if row and row["status"] == "done":
        effect = Effect(row["target_ref"], row["result"])
        return EffectOutcome(key, step, "skipped", effect, int(row["attempts"]))
    if row and row["status"] in ("started", "ambiguous") and can_look:
        found: Effect | None = yield LOOK
        if found is not None:
            ledger.done(key, step, attempts=attempts, ref=found.ref, result=found.result)
            return EffectOutcome(key, step, "done", found, attempts)
    ledger.started(key, step, attempts=attempts)
    try:
        effect: Effect = yield SEND
    except BaseException as exc:
        record = ledger.ambiguous if is_ambiguous(exc) else ledger.failed
        record(key, step, attempts=attempts, error=str(exc)[:2000])
        raise
    ledger.done(key, step, attempts=attempts, ref=effect.ref, result=effect.result)
    return EffectOutcome(key, step, "done", effect, attempts)


# --- the two drivers ---------------------------------------------------------------------------


def _drive(steps: Steps[T], calls: Mapping[Call, Callable[[], Any]]) -> T:
    try:
        call = next(steps)
        while True:
            try:
                outcome = calls[call]()
            except BaseException as exc:
                call = steps.throw(exc)
            else:
                call = steps.send(outcome)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]


async def _adrive(steps: Steps[T], calls: Mapping[Call, Callable[[], Awaitable[Any]]]) -> T:
    try:
        call = next(steps)
        while True:
            try:
                outcome = await calls[call]()
            except BaseException as exc:
                call = steps.throw(exc)
            else:
                call = steps.send(outcome)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]


def _never(exc: BaseException) -> bool:
    return False


def _no_look() -> Any:
    raise AssertionError("looked without a look")


async def _ano_look() -> Any:
    raise AssertionError("looked without a look")


# --- the public entry points -------------------------------------------------------------------


async def send_once(
    send: Callable[[], Awaitable[T]],
    look: Callable[[], Awaitable[T | None]] | None,
    *,
    what: str,
    max_resends: int = 2,
    already_exists: Callable[[BaseException], bool] = _never,
) -> T:
    """Call `send`; after an ambiguous failure (or one `already_exists` accepts) return what
    `look` finds, else send again. Without `look` the failure goes to the caller unchanged,
    since only it knows how to tell."""
    steps = _in_call(what, max_resends, look is not None, already_exists)
    return await _adrive(steps, {SEND: send, LOOK: look or _ano_look})


def send_once_sync(
    send: Callable[[], T],
    look: Callable[[], T | None] | None,
    *,
    what: str,
    max_resends: int = 2,
    already_exists: Callable[[BaseException], bool] = _never,
) -> T:
    """`send_once` for a sync client: the same rule."""
    steps = _in_call(what, max_resends, look is not None, already_exists)
    return _drive(steps, {SEND: send, LOOK: look or _no_look})


async def run_once(
    ledger: EffectLedger,
    key: str,
    step: str,
    send: Callable[[], Awaitable[Effect]],
    look: Callable[[], Awaitable[Effect | None]] | None = None,
) -> EffectOutcome:
    """Perform `send` once for `key`, whatever happened to earlier attempts."""
    steps = _across_runs(ledger, key, step, look is not None)
    return await _adrive(steps, {SEND: send, LOOK: look or _ano_look})


def run_once_sync(
    ledger: EffectLedger,
    key: str,
    step: str,
    send: Callable[[], Effect],
    look: Callable[[], Effect | None] | None = None,
) -> EffectOutcome:
    """`run_once` for sync callers: the same rule."""
    steps = _across_runs(ledger, key, step, look is not None)
    return _drive(steps, {SEND: send, LOOK: look or _no_look})
