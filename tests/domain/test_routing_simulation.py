"""Replaying live routing decisions, pure: the replay starts from the live turns before the
window, applies SLA re-routes and leads without recorded facts as the turns they were, and
routes the others again from their recorded facts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from revops_pipelines.domain.routing import LeadFacts, RoutingConfig, RoutingDecision
from revops_pipelines.domain.routing_simulation import (
    PastLead,
    PastReroute,
    Turns,
    replay_routed,
    summarize,
)

DAY = date(2026, 11, 20)
CONFIG = RoutingConfig.model_validate(
    {
        "reps": [{"email": f"{n}@x.io", "name": n, "time_zone": "UTC"} for n in "abc"],
        "pools": [
            {"name": "big", "reps": ["a@x.io"]},
            {"name": "all", "reps": ["b@x.io", "c@x.io"]},
        ],
        "rules": [
            {
                "name": "enterprise",
                "pool": "big",
                "when": [{"field": "employee_count", "op": "gte", "value": 500}],
            },
            {"name": "default", "pool": "all"},
        ],
    }
)


def _at(hour: int) -> datetime:
    return datetime(2026, 11, 20, hour, tzinfo=UTC)


def _lead(key: str, hour: int, rep: str, facts: LeadFacts | None) -> PastLead:
    pool, rule = ("big", "enterprise") if rep == "a@x.io" else ("all", "default")
    return PastLead(key, _at(hour), DAY, RoutingDecision(rule, pool, rep, "live"), facts)


def test_history_reroutes_and_unrecorded_leads_take_their_turns() -> None:
    """Each of the three changes a decision: without the history k2 goes to b, without the
    re-route k3 does, without k4's live turn k5 does."""
    turns = [Turns("all", "b@x.io", total=1, last_sequence=1, days={DAY: 1})]
    small = LeadFacts("z@s.io", employee_count=5)
    events = [
        # Listed out of order: the replay sorts by time.
        _lead("k3", 12, "c@x.io", small),
        PastReroute(_at(11), "all", "b@x.io", DAY),
        _lead("k1", 9, "a@x.io", LeadFacts("y@big.io", employee_count=900)),
        _lead("k2", 10, "c@x.io", small),
        _lead("k4", 13, "b@x.io", None),  # routed before facts were kept
        _lead("k5", 14, "c@x.io", LeadFacts("w@s.io")),
    ]
    rows = replay_routed(turns, events, [CONFIG])
    assert [r.lead.lead_key for r in rows] == ["k1", "k2", "k3", "k4", "k5"]
    assert [r.outcomes[0] and r.outcomes[0].rep_email for r in rows] == [
        "a@x.io",
        "c@x.io",
        "c@x.io",
        None,
        "c@x.io",
    ]
    summary = summarize(rows)
    assert (summary.leads, summary.without_facts, summary.current_differs_from_live) == (5, 1, 0)


def test_a_proposed_file_is_compared_with_the_current_one() -> None:
    # Everyone to the big pool: the default rule is gone.
    proposed = RoutingConfig.model_validate(
        {**CONFIG.model_dump(), "rules": [{"name": "everyone", "pool": "big"}]}
    )
    events = [
        _lead("k1", 9, "a@x.io", LeadFacts("y@big.io", employee_count=900)),
        _lead("k2", 10, "b@x.io", LeadFacts("z@s.io", employee_count=5)),
    ]
    rows = replay_routed([], events, [CONFIG, proposed])
    assert [r.outcomes[1].rule for r in rows] == ["everyone", "everyone"]  # type: ignore[union-attr]
    summary = summarize(rows)
    assert (summary.changed, summary.rule_changed, summary.rep_changed) == (2, 2, 0)


def test_stored_facts_round_trip_and_tolerate_other_versions() -> None:
    facts = LeadFacts("a@b.io", "b.io", 900, "Technology", "EMEA", "DE", "typeform")
    assert LeadFacts.from_record(facts.as_record()) == facts
    newer = {**facts.as_record(), "seniority": "vp"}  # a field this version does not know
    assert LeadFacts.from_record(newer) == facts
    assert LeadFacts.from_record({"email": "a@b.io"}) == LeadFacts("a@b.io")
