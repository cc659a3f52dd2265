"""The effect ledger: every side effect without a unique key of its own happens once.

Each effect has a deterministic key (the lead's key + the step). Before sending, the ledger
records `started`; after, `done` with a reference to what was made. A run that finds `started`
or `ambiguous` (the previous attempt may have reached the target before it died) asks `look` at
the target first and only sends when nothing is there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from revops_pipelines.store.sync_records import upsert
from revops_pipelines.store.tables import effect_ledger


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


def ledger_row(engine: sa.Engine, key: str) -> dict[str, Any] | None:
    with engine.connect() as connection:
        row = (
            connection.execute(sa.select(effect_ledger).where(effect_ledger.c.key == key))
            .mappings()
            .first()
        )
    return dict(row) if row else None


def _write(engine: sa.Engine, key: str, step: str, **values: Any) -> None:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        upsert(
            connection,
            effect_ledger,
            [{"key": key, "step": step, "created_at": now, "updated_at": now, **values}],
            keys=("key",),
        )


async def run_once(
    engine: sa.Engine,
    key: str,
    step: str,
    send: Callable[[], Awaitable[Effect]],
    look: Callable[[], Awaitable[Effect | None]] | None = None,
    *,
    is_ambiguous: Callable[[BaseException], bool] = lambda exc: False,
) -> EffectOutcome:
    """Perform `send` once for `key`, whatever happened to earlier attempts."""
    row = ledger_row(engine, key)
    attempts = (row["attempts"] if row else 0) + 1
    if row and row["status"] == "done":
        return EffectOutcome(
            key, step, "skipped", Effect(row["target_ref"], row["result"]), row["attempts"]
        )
    if row and row["status"] in ("started", "ambiguous") and look is not None:
        found = await look()
        if found is not None:
            _write(
                engine,
                key,
                step,
                status="done",
                attempts=attempts,
                target_ref=found.ref,
                result=found.result,
                last_error=None,
            )
            return EffectOutcome(key, step, "done", found, attempts)
    _write(engine, key, step, status="started", attempts=attempts, last_error=None)
    try:
        effect = await send()
    except BaseException as exc:
        status = "ambiguous" if is_ambiguous(exc) else "failed"
        _write(engine, key, step, status=status, attempts=attempts, last_error=str(exc)[:2000])
        raise
    _write(
        engine,
        key,
        step,
        status="done",
        attempts=attempts,
        target_ref=effect.ref,
        result=effect.result,
        last_error=None,
    )
    return EffectOutcome(key, step, "done", effect, attempts)
