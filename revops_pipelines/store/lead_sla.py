"""What the lead SLA check reads: routed leads of the given pools with no first touch yet and no
escalation done, with their follow-up task id (the lead flow's `<lead key>:task` ledger row)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from revops_pipelines.store.tables import effect_ledger, lead_first_touch, routing_assignment

ESCALATION_STEP = "sla_escalation"


@dataclass(frozen=True)
class OpenLead:
    lead_key: str
    pool: str
    rep: str
    assigned_at: datetime
    task_id: str | None


def open_leads(engine: sa.Engine, pools: list[str], *, limit: int = 500) -> list[OpenLead]:
    """Leads routed to `pools` without a recorded first touch or a finished escalation,
    oldest first."""
    if not pools:
        return []
    a, ledger = routing_assignment, effect_ledger
    task = ledger.alias("task")
    escalated = sa.select(ledger.c.key).where(
        ledger.c.key == a.c.lead_key + f":{ESCALATION_STEP}", ledger.c.status == "done"
    )
    touched = sa.select(lead_first_touch.c.lead_key).where(
        lead_first_touch.c.lead_key == a.c.lead_key
    )
    query = (
        sa.select(a.c.lead_key, a.c.pool, a.c.rep, a.c.assigned_at, task.c.target_ref)
        .select_from(
            a.outerjoin(
                task, sa.and_(task.c.key == a.c.lead_key + ":task", task.c.status == "done")
            )
        )
        .where(a.c.pool.in_(pools), ~sa.exists(escalated), ~sa.exists(touched))
        .order_by(a.c.assigned_at)
        .limit(limit)
    )
    with engine.connect() as connection:
        return [OpenLead(*row) for row in connection.execute(query)]
