"""Store side of product usage: the Segment rows of the inbox (read-only) and `usage_state`,
what was last written to each Attio record."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from revops_pipelines.domain.usage import StateRow
from revops_pipelines.store.tables import usage_state, webhook_inbox

SEGMENT_SOURCES = ("segment",)


@dataclass(frozen=True)
class SegmentRow:
    id: int
    status: str
    received_at: datetime
    body: bytes


def segment_rows_received(
    engine: sa.Engine, start: datetime, end: datetime
) -> Iterator[SegmentRow]:
    """Segment inbox rows received in `[start, end)`, any status but quarantined, streamed."""
    t = webhook_inbox
    stmt = (
        sa.select(t.c.id, t.c.status, t.c.received_at, t.c.body)
        .where(
            t.c.source.in_(SEGMENT_SOURCES),
            t.c.received_at >= start,
            t.c.received_at < end,
            t.c.status != "quarantined",
        )
        .order_by(t.c.id)
    )
    with engine.connect() as conn:
        for r in conn.execution_options(yield_per=2000).execute(stmt):
            yield SegmentRow(r.id, r.status, r.received_at, bytes(r.body))


def pending_segment_before(engine: sa.Engine, before: datetime, limit: int = 50) -> list[int]:
    """Ids of Segment rows still pending that were received before `before`."""
    t = webhook_inbox
    stmt = (
        sa.select(t.c.id)
        .where(t.c.source.in_(SEGMENT_SOURCES), t.c.status == "pending", t.c.received_at < before)
        .order_by(t.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.execute(stmt).scalars())


def load_state(engine: sa.Engine) -> dict[tuple[str, str], StateRow]:
    t = usage_state
    stmt = sa.select(
        t.c.object, t.c.record_key, t.c.digest, t.c.as_of, t.c.last_seen_at, t.c.attio_record_id
    )
    with engine.connect() as conn:
        return {(r[0], r[1]): StateRow(*r[2:]) for r in conn.execute(stmt)}


def save_state(engine: sa.Engine, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(usage_state)
    stmt = stmt.on_conflict_do_update(
        index_elements=["object", "record_key"],
        set_={
            c: stmt.excluded[c]
            for c in (
                "digest",
                "as_of",
                "last_seen_at",
                "attio_record_id",
                "last_run_id",
                "written_at",
            )
        },
    )
    with engine.begin() as conn:
        conn.execute(stmt, list(rows))
