"""What a routing simulation reads: the live routing decisions since a moment (with the facts
they used and their SLA re-routes), and the turns taken before it, summed per pool and rep.

Read-only. The turns before the window come back as sums (one row per pool and rep, however long
the history), plus per-day counts for the days the window routes on.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time

import sqlalchemy as sa

from revops_pipelines.domain.routing import LeadFacts, RoutingDecision
from revops_pipelines.domain.routing_simulation import PastLead, PastReroute, Turns
from revops_pipelines.store.tables import routing_assignment

_a = routing_assignment


def _day(routing_day: date | None, at: datetime) -> date:
    # Rows stored before the routing day was kept: their UTC assignment day stands in.
    return routing_day if routing_day is not None else at.astimezone(UTC).date()


def routed_since(
    engine: sa.Engine, since: datetime
) -> tuple[list[Turns], list[PastLead | PastReroute]]:
    """(turns before `since`, the leads routed and the re-routes made at or after it)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(_a).where(sa.or_(_a.c.assigned_at >= since, _a.c.rerouted_at >= since))
        ).all()
        events: list[PastLead | PastReroute] = []
        for row in rows:
            day = _day(row.routing_day, row.assigned_at)
            if row.assigned_at >= since:
                decision = RoutingDecision(row.rule, row.pool, row.rep, row.reason)
                facts = LeadFacts.from_record(row.facts) if row.facts else None
                events.append(PastLead(row.lead_key, row.assigned_at, day, decision, facts))
            if row.rerouted_to is not None and row.rerouted_at >= since:
                reroute_day = row.rerouted_at.astimezone(UTC).date()
                events.append(PastReroute(row.rerouted_at, row.pool, row.rerouted_to, reroute_day))
        days = {e.day for e in events}
        turns = _turns_before(connection, since, days)
    return turns, events


def _turns_before(connection: sa.Connection, since: datetime, days: set[date]) -> list[Turns]:
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    before = _a.c.assigned_at < since
    for pool, rep, count, last in connection.execute(
        sa.select(_a.c.pool, _a.c.rep, sa.func.count(), sa.func.max(_a.c.sequence))
        .where(before)
        .group_by(_a.c.pool, _a.c.rep)
    ):
        totals[(pool, rep)][0] += count
        totals[(pool, rep)][1] = max(totals[(pool, rep)][1], last)
    moved = _a.c.rerouted_at < since
    for pool, rep, count, last in connection.execute(
        sa.select(_a.c.pool, _a.c.rerouted_to, sa.func.count(), sa.func.max(_a.c.reroute_sequence))
        .where(moved, _a.c.rerouted_to.is_not(None))
        .group_by(_a.c.pool, _a.c.rerouted_to)
    ):
        totals[(pool, rep)][0] += count
        totals[(pool, rep)][1] = max(totals[(pool, rep)][1], last)
    per_day: Counter[tuple[str, str, date]] = Counter()
    if days:
        # A routing day is never after its assignment day, so older rows cannot count on them.
        start = datetime.combine(min(days), time(0), tzinfo=UTC)
        recent = connection.execute(
            sa.select(
                _a.c.pool,
                _a.c.rep,
                _a.c.routing_day,
                _a.c.assigned_at,
                _a.c.rerouted_to,
                _a.c.rerouted_at,
            ).where(
                sa.or_(
                    sa.and_(before, _a.c.assigned_at >= start),
                    sa.and_(moved, _a.c.rerouted_at >= start),
                )
            )
        )
        per_day.update(_days(recent, since, start, days))
    by_rep: dict[tuple[str, str], dict[date, int]] = defaultdict(dict)
    for (pool, rep, day), count in per_day.items():
        by_rep[(pool, rep)][day] = count
    return [
        Turns(pool, rep, total, last, by_rep.get((pool, rep), {}))
        for (pool, rep), (total, last) in sorted(totals.items())
    ]


def _days(
    rows: Iterable[sa.Row[tuple[str, str, date | None, datetime, str | None, datetime | None]]],
    since: datetime,
    start: datetime,
    days: set[date],
) -> Iterable[tuple[str, str, date]]:
    for pool, rep, routing_day, assigned_at, rerouted_to, rerouted_at in rows:
        if start <= assigned_at < since and _day(routing_day, assigned_at) in days:
            yield pool, rep, _day(routing_day, assigned_at)
        if rerouted_to is None or rerouted_at is None or not start <= rerouted_at < since:
            continue
        if (day := rerouted_at.astimezone(UTC).date()) in days:
            yield pool, rerouted_to, day
