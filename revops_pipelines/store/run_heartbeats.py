"""Run heartbeats: each live run's last sign of life, one row per run.

A run's process upserts its row every few seconds and deletes it when it ends; the dead-run
sensor reads the rows that stopped changing (an index on `beat_at`, and only live or dead runs
have rows, so the read stays small).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from revops_pipelines.store.tables import run_heartbeats

_h = run_heartbeats


def beat(engine: sa.Engine, run_id: str, at: datetime) -> None:
    """Record that `run_id` is alive at `at` (insert, or move its time forward)."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(_h).values(run_id=run_id, beat_at=at)
    stmt = insert.on_conflict_do_update(
        index_elements=["run_id"], set_={"beat_at": insert.excluded.beat_at}
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def forget(engine: sa.Engine, run_ids: list[str]) -> int:
    """Delete the rows of runs that ended (or were found dead); how many went."""
    if not run_ids:
        return 0
    with engine.begin() as conn:
        return conn.execute(sa.delete(_h).where(_h.c.run_id.in_(run_ids))).rowcount


def silent_since(engine: sa.Engine, before: datetime, *, limit: int) -> dict[str, datetime]:
    """Up to `limit` runs whose last beat is older than `before`, oldest first."""
    stmt = (
        sa.select(_h.c.run_id, _h.c.beat_at)
        .where(_h.c.beat_at < before)
        .order_by(_h.c.beat_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        return {row.run_id: row.beat_at for row in conn.execute(stmt)}
