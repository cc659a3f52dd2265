"""Leads' first touch (`lead_first_touch`) and the lookups flow C needs to tell our follow-up
tasks from others: the lead behind a task id (the lead flow's `<lead key>:task` ledger row) and
when that lead's webhook arrived (its inbox row)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from revops_pipelines.store.tables import effect_ledger, lead_first_touch, webhook_inbox

TASK_STEP = "task"  # the lead flow's ledger step of the follow-up task


@dataclass(frozen=True)
class LeadTask:
    lead_key: str  # "<source>:<event id>"
    webhook_at: datetime | None  # when the lead's webhook was stored


def lead_of_task(engine: sa.Engine, task_id: str) -> LeadTask | None:
    """The lead whose follow-up task this is, or None for a task we did not create."""
    with engine.connect() as connection:
        key = connection.execute(
            sa.select(effect_ledger.c.key).where(
                effect_ledger.c.step == TASK_STEP,
                effect_ledger.c.target_ref == task_id,
                effect_ledger.c.status == "done",
            )
        ).scalar()
        if key is None or not key.endswith(f":{TASK_STEP}"):
            return None
        lead_key = key[: -len(TASK_STEP) - 1]
        source, _, event_id = lead_key.partition(":")
        received = connection.execute(
            sa.select(webhook_inbox.c.received_at).where(
                webhook_inbox.c.source == source, webhook_inbox.c.event_id == event_id
            )
        ).scalar()
    return LeadTask(lead_key, received)


def received_times(engine: sa.Engine, inbox_ids: list[int]) -> dict[int, datetime]:
    """When each inbox row was stored."""
    if not inbox_ids:
        return {}
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(webhook_inbox.c.id, webhook_inbox.c.received_at).where(
                webhook_inbox.c.id.in_(sorted(set(inbox_ids)))
            )
        )
        return {row.id: row.received_at for row in rows}


def record_first_touch(
    engine: sa.Engine,
    lead: LeadTask,
    *,
    person_id: str | None,
    task_id: str,
    touched_at: datetime,
) -> None:
    """Keep the lead's first touch (a later completion of the same lead changes nothing)."""
    seconds = (touched_at - lead.webhook_at).total_seconds() if lead.webhook_at else None
    row = {
        "lead_key": lead.lead_key,
        "person_id": person_id,
        "task_id": task_id,
        "webhook_at": lead.webhook_at,
        "first_touched_at": touched_at,
        "seconds_to_first_touch": seconds,
    }
    with engine.begin() as connection:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        connection.execute(
            dialect.insert(lead_first_touch)
            .values(row)
            .on_conflict_do_nothing(index_elements=["lead_key"])
        )


def first_touches(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(sa.select(lead_first_touch)).mappings()]
