"""The effect ledger's table: one row per effect key (`<lead key>:<step>`, a deal transition's
key, ...) saying where that effect stands: `started`, `done` (with a reference to what was made
and a small JSON result), `ambiguous` (the attempt may have reached the target before it failed)
or `failed`. It only records: the send-once rule that reads and writes these rows, and every
network call, live outside the store (`infra/send_once.run_once` with the service's `send` and
`look`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from revops_pipelines.store.sync_records import upsert
from revops_pipelines.store.tables import effect_ledger


def ledger_row(engine: sa.Engine, key: str) -> dict[str, Any] | None:
    """The row of `key` (status, attempts, target_ref, result, last_error, times), or None."""
    with engine.connect() as connection:
        row = (
            connection.execute(sa.select(effect_ledger).where(effect_ledger.c.key == key))
            .mappings()
            .first()
        )
    return dict(row) if row else None


class LedgerTable:
    """The ledger over one database: what `infra.send_once.run_once` reads and records."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def read(self, key: str) -> dict[str, Any] | None:
        return ledger_row(self.engine, key)

    def started(self, key: str, step: str, *, attempts: int) -> None:
        self._write(key, step, status="started", attempts=attempts, last_error=None)

    def done(
        self, key: str, step: str, *, attempts: int, ref: str | None, result: dict[str, Any] | None
    ) -> None:
        self._write(
            key,
            step,
            status="done",
            attempts=attempts,
            target_ref=ref,
            result=result,
            last_error=None,
        )

    def ambiguous(self, key: str, step: str, *, attempts: int, error: str) -> None:
        self._write(key, step, status="ambiguous", attempts=attempts, last_error=error)

    def failed(self, key: str, step: str, *, attempts: int, error: str) -> None:
        self._write(key, step, status="failed", attempts=attempts, last_error=error)

    def _write(self, key: str, step: str, **values: Any) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            upsert(
                connection,
                effect_ledger,
                [{"key": key, "step": step, "created_at": now, "updated_at": now, **values}],
                keys=("key",),
            )
