"""The routing dashboard's numbers for a day (per rep: leads routed, median time to first touch,
SLA breaches): one query and one computation, shown by the daily dashboard asset and by the lead
assets for the days their run touched."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from revops_pipelines.domain.routing_dashboard import daily_rows
from revops_pipelines.store.routing_dashboard import day_facts

MAX_DAYS = 7  # a backlog run can touch many days; the newest are the ones a reader wants


def day_rows(engine: sa.Engine, day: date) -> list[dict[str, object]]:
    """Per rep, for the UTC `day`: the dashboard's row."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return daily_rows(*day_facts(engine, start, start + timedelta(days=1)))


def touched_days(
    engine: sa.Engine, moments: Iterable[datetime | None]
) -> list[tuple[date, list[dict[str, object]]]]:
    """The dashboard rows of each UTC day among `moments` (the newest `MAX_DAYS`), oldest first."""
    days = sorted({m.astimezone(UTC).date() for m in moments if m is not None})[-MAX_DAYS:]
    return [(day, day_rows(engine, day)) for day in days]
