"""The last stage seen per list entry (`pipeline_stage_state`): read before a pipeline rule is
considered, written once the entry's rules for that stage have all been applied."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from revops_pipelines.domain.pipeline_rules import StageSeen
from revops_pipelines.store.sync_records import upsert
from revops_pipelines.store.tables import pipeline_stage_state


def last_stage(engine: sa.Engine, list_id: str, entry_id: str) -> StageSeen | None:
    """The stage we last saw on the entry, or None if we never saw it."""
    table = pipeline_stage_state
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(table.c.stage_id, table.c.stage_title, table.c.stage_since).where(
                table.c.list_id == list_id, table.c.entry_id == entry_id
            )
        ).first()
    return StageSeen(row.stage_id, row.stage_title, row.stage_since) if row else None


def remember_stage(engine: sa.Engine, list_id: str, entry_id: str, stage: StageSeen) -> None:
    with engine.begin() as connection:
        upsert(
            connection,
            pipeline_stage_state,
            [
                {
                    "list_id": list_id,
                    "entry_id": entry_id,
                    "stage_id": stage.status_id,
                    "stage_title": stage.title,
                    "stage_since": stage.since,
                    "updated_at": datetime.now(UTC),
                }
            ],
            keys=("list_id", "entry_id"),
        )


def forget_entries(engine: sa.Engine, entries: list[tuple[str, str]]) -> int:
    """Drop the state of deleted entries; returns how many rows went."""
    table = pipeline_stage_state
    removed = 0
    with engine.begin() as connection:
        for list_id, entry_id in entries:
            removed += connection.execute(
                sa.delete(table).where(table.c.list_id == list_id, table.c.entry_id == entry_id)
            ).rowcount
    return removed
