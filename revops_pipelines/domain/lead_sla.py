"""Lead SLAs: when a routed lead's follow-up is overdue, and who takes it over.

A pool's `sla_business_hours` count only working time: from `day_start_hour` to `day_end_hour`
on business days (no weekend, company or public holiday) in the rep's time zone. A lead re-routed
after its SLA goes to the rep the pool's strategy picks among the others. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from revops_pipelines.domain.business_days import is_business_day
from revops_pipelines.domain.routing import PoolState, RoutingDecision, choose_rep
from revops_pipelines.domain.routing_config import Pool, RoutingConfig

_MAX_DAYS_AHEAD = 400


def sla_deadline(
    start_utc: datetime,
    hours: float,
    *,
    time_zone: str,
    day_start_hour: int,
    day_end_hour: int,
    holidays: Container[date] = frozenset(),
    weekend: Iterable[int] = (5, 6),
) -> datetime:
    """The moment `hours` of working time have passed since `start_utc` (returned in UTC)."""
    if start_utc.tzinfo is None:
        raise ValueError("start_utc must be timezone-aware")
    zone, off = ZoneInfo(time_zone), frozenset(weekend)
    local = start_utc.astimezone(zone)
    left = timedelta(hours=hours)
    day = local.date()
    for _ in range(_MAX_DAYS_AHEAD):
        if is_business_day(day, holidays, off):
            opens = datetime.combine(day, time(day_start_hour), tzinfo=zone)
            closes = (
                datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
                if day_end_hour == 24
                else datetime.combine(day, time(day_end_hour), tzinfo=zone)
            )
            begin = max(opens, local)
            if begin < closes:
                if begin + left <= closes:
                    return (begin + left).astimezone(UTC)
                left -= closes - begin
        day += timedelta(days=1)
    raise ValueError(f"no SLA deadline within {_MAX_DAYS_AHEAD} days of {start_utc}")


def lead_sla_deadline(
    config: RoutingConfig, pool: Pool, rep_email: str, assigned_at: datetime
) -> datetime | None:
    """When the lead assigned to `rep_email` at `assigned_at` breaches its pool's SLA."""
    if pool.sla_business_hours is None:
        return None
    rep, hours = config.rep(rep_email), config.business_hours
    return sla_deadline(
        assigned_at,
        pool.sla_business_hours,
        time_zone=rep.time_zone,
        day_start_hour=hours.day_start_hour,
        day_end_hour=hours.day_end_hour,
        holidays=hours.calendar(rep.holiday_country),
        weekend=hours.weekend_days,
    )


def reroute_decision(
    config: RoutingConfig, pool: Pool, current: str, state: PoolState, today: date
) -> RoutingDecision | None:
    """Who takes over a lead left open past its SLA: the pool's own strategy (round robin's
    turn, weights, capacity) over its reps other than `current`, skipping anyone out of office,
    paused or at capacity `today` (`choose_rep`); None when nobody else can take it."""
    others = tuple(email for email in pool.reps if email != current)
    if not others:
        return None
    choice = choose_rep(pool.model_copy(update={"reps": others}), config, state, today)
    if choice is None:
        return None
    skipped = f"; skipped {', '.join(choice.skipped)}" if choice.skipped else ""
    reason = f"SLA re-route from {current} → pool {pool.name}, {choice.how}{skipped}"
    return RoutingDecision("sla_reroute", pool.name, choice.rep_email, reason)


@dataclass(frozen=True)
class Breach:
    """A routed lead whose follow-up task was still open when its SLA passed."""

    lead_key: str
    pool: str
    rep: str
    assigned_at: datetime
    deadline: datetime
    task_id: str | None


def sla_channel(pool: Pool, config: RoutingConfig, rep_email: str) -> str:
    return pool.sla_channel or config.rep(rep_email).slack_channel or "#sales-leads"


def escalation_text(breach: Breach, rep_name: str, new_rep: str | None, url: str | None) -> str:
    """The Slack post: no lead personal data (a link to the record instead)."""
    lead = f"<{url}|A lead>" if url else "A lead"
    text = (
        f"SLA breached: {lead} routed to {rep_name} (pool {breach.pool}) on "
        f"{breach.assigned_at:%Y-%m-%d %H:%M} UTC still has an open follow-up task "
        f"(due by {breach.deadline:%Y-%m-%d %H:%M} UTC)."
    )
    return text + (f" Re-routed to {new_rep}." if new_rep else "")
