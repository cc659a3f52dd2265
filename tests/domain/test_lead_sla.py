"""Lead SLAs, pure: deadlines in business hours in the rep's own time zone (DST and public
holidays included), and the re-route choice by the pool's own strategy among the other reps."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from revops_pipelines.domain.lead_sla import lead_sla_deadline, reroute_decision
from revops_pipelines.domain.routing import RepState, RoutingConfig

DAY = date(2026, 12, 3)  # a Thursday


def _config(
    strategy: str = "round_robin", reps: list[dict[str, Any]] | None = None
) -> RoutingConfig:
    reps = reps or [
        {
            "email": "la@x.io",
            "name": "LA",
            "time_zone": "America/Los_Angeles",
            "holiday_country": "US",
        },
        {"email": "sg@x.io", "name": "SG", "time_zone": "Asia/Singapore"},
    ]
    emails = [r["email"] for r in reps]
    return RoutingConfig.model_validate(
        {
            "business_hours": {"day_start_hour": 9, "day_end_hour": 17},
            "reps": reps,
            "pools": [{"name": "p", "strategy": strategy, "reps": emails, "sla_business_hours": 4}],
            "rules": [{"name": "default", "pool": "p"}],
        }
    )


@pytest.mark.parametrize(
    ("rep", "assigned", "due"),
    [
        # Thursday 12:00 in Los Angeles: four hours later, 16:00 local.
        ("la@x.io", datetime(2026, 12, 3, 20, tzinfo=UTC), datetime(2026, 12, 4, 0, tzinfo=UTC)),
        # The same moment is 04:00 Friday in Singapore: the clock starts at 09:00 local.
        ("sg@x.io", datetime(2026, 12, 3, 20, tzinfo=UTC), datetime(2026, 12, 4, 5, tzinfo=UTC)),
        # Friday 16:00 PST: one hour, the weekend (DST starts Sunday), three hours Monday PDT.
        ("la@x.io", datetime(2026, 3, 7, 0, tzinfo=UTC), datetime(2026, 3, 9, 19, tzinfo=UTC)),
        # Wednesday 16:00 before Thanksgiving (a US holiday for this rep): Friday 12:00 local.
        ("la@x.io", datetime(2026, 11, 26, 0, tzinfo=UTC), datetime(2026, 11, 27, 20, tzinfo=UTC)),
    ],
)
def test_sla_deadlines_count_business_hours_in_the_reps_time_zone(
    rep: str, assigned: datetime, due: datetime
) -> None:
    config = _config()
    assert lead_sla_deadline(config, config.pool("p"), rep, assigned) == due


def _team(strategy: str, **rep_extra: dict[str, Any]) -> RoutingConfig:
    reps = [
        {"email": f"{n}@x.io", "name": n.upper(), "time_zone": "UTC", **rep_extra.get(n, {})}
        for n in "abcd"
    ]
    return _config(strategy, reps)


def _state(**reps: tuple[int, int]) -> dict[str, RepState]:
    """rep -> (leads today, pool sequence of the rep's last lead)."""
    return {
        f"{n}@x.io": RepState(today=t, total=t, last_sequence=s, today_all_pools=t)
        for n, (t, s) in reps.items()
    }


def test_round_robin_reroutes_to_the_least_recently_assigned_other_rep() -> None:
    config = _team("round_robin")
    state = _state(a=(1, 1), b=(1, 2), c=(1, 3), d=(0, 0))
    decision = reroute_decision(config, config.pool("p"), "b@x.io", state, DAY)
    # Not c, the next in the pool's order after b: d has waited longest.
    assert decision is not None and decision.rep_email == "d@x.io"
    assert decision.rule == "sla_reroute" and decision.pool == "p"
    assert decision.reason.startswith("SLA re-route from b@x.io → pool p, round robin")


def test_the_current_rep_is_excluded_even_when_it_is_their_turn() -> None:
    config = _team("round_robin")
    state = _state(a=(1, 2), b=(0, 0), c=(1, 3), d=(1, 4))
    decision = reroute_decision(config, config.pool("p"), "b@x.io", state, DAY)
    assert decision is not None and decision.rep_email == "a@x.io"


def test_out_of_office_and_paused_reps_are_skipped() -> None:
    away = {"unavailable": [{"start": "2026-12-01", "end": "2026-12-10"}]}
    config = _team("round_robin", d=away, a={"weight": 0})
    state = _state(a=(0, 0), b=(1, 2), c=(1, 3), d=(0, 0))
    decision = reroute_decision(config, config.pool("p"), "b@x.io", state, DAY)
    assert decision is not None and decision.rep_email == "c@x.io"
    assert "d@x.io (out of office until 2026-12-10)" in decision.reason


def test_weighted_pools_reroute_to_the_rep_most_below_its_share() -> None:
    config = _team("weighted", b={"weight": 2})
    state = _state(a=(3, 4), b=(2, 5), c=(0, 0), d=(1, 1))
    # b: 3/2 = 1.5, c: 1/1, d: 2/1 -> c, not b (the next in order after a).
    decision = reroute_decision(config, config.pool("p"), "a@x.io", state, DAY)
    assert decision is not None and decision.rep_email == "c@x.io"


def test_capacity_pools_reroute_to_the_least_loaded_rep_below_its_cap() -> None:
    caps = {n: {"daily_capacity": 4} for n in "abcd"}
    config = _team("capacity", **caps)
    state = _state(a=(0, 1), b=(3, 2), c=(4, 3), d=(1, 4))
    decision = reroute_decision(config, config.pool("p"), "a@x.io", state, DAY)
    assert decision is not None and decision.rep_email == "d@x.io"
    assert "c@x.io (at capacity, 4/4 today)" in decision.reason


def test_nobody_else_available_means_no_reroute() -> None:
    away = {"unavailable": [{"start": "2026-12-01", "end": "2026-12-10"}]}
    config = _team("round_robin", b=away, c=away, d=away)
    assert reroute_decision(config, config.pool("p"), "a@x.io", _state(), DAY) is None
    alone = _config(reps=[{"email": "a@x.io", "name": "A", "time_zone": "UTC"}])
    assert reroute_decision(alone, alone.pool("p"), "a@x.io", _state(), DAY) is None
