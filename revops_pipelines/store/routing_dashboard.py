"""What the daily routing table reads: one day's routing decisions, the first touches of those
leads, and which of them were escalated for their SLA."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from revops_pipelines.store.lead_sla import ESCALATION_STEP
from revops_pipelines.store.tables import effect_ledger, lead_first_touch, routing_assignment


def day_facts(
    engine: sa.Engine, start: datetime, end: datetime
) -> tuple[list[dict[str, Any]], dict[str, float | None], set[str]]:
    """(assignments in [start, end), seconds to first touch per lead key, escalated lead keys)."""
    a = routing_assignment
    with engine.connect() as connection:
        rows = [
            dict(r)
            for r in connection.execute(
                sa.select(a.c.lead_key, a.c.rep, a.c.pool).where(
                    a.c.assigned_at >= start, a.c.assigned_at < end
                )
            ).mappings()
        ]
        keys = [r["lead_key"] for r in rows]
        touches: dict[str, float | None] = {}
        escalated: set[str] = set()
        for chunk in (keys[i : i + 500] for i in range(0, len(keys), 500)):
            touches.update(
                connection.execute(
                    sa.select(
                        lead_first_touch.c.lead_key, lead_first_touch.c.seconds_to_first_touch
                    ).where(lead_first_touch.c.lead_key.in_(chunk))
                ).all()
            )
            escalated.update(
                key[: -len(ESCALATION_STEP) - 1]
                for key in connection.execute(
                    sa.select(effect_ledger.c.key).where(
                        effect_ledger.c.key.in_([f"{k}:{ESCALATION_STEP}" for k in chunk]),
                        effect_ledger.c.status == "done",
                    )
                ).scalars()
            )
    return rows, touches, escalated
