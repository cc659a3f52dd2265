"""Routing rules and distribution: rule order, fairness, weights, caps, out of office, bad files."""

from __future__ import annotations

import textwrap
from collections import Counter
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from revops_pipelines.config import ConfigError, config_path, load_model
from revops_pipelines.domain.routing import (
    LeadFacts,
    RepState,
    RoutingConfig,
    choose_rep,
    decide,
    match_rule,
    replay,
)
from revops_sandbox.attio.schema import MEMBERS

DAY = date(2026, 11, 20)  # a Friday


def _rep(email: str, **extra: Any) -> dict[str, Any]:
    return {"email": email, "name": email.split("@")[0], "time_zone": "UTC", **extra}


def _config(pools: list[dict[str, Any]], reps: list[dict[str, Any]], rules=None) -> RoutingConfig:
    rules = rules or [{"name": p["name"], "pool": p["name"]} for p in pools[-1:]]
    return RoutingConfig.model_validate({"reps": reps, "pools": pools, "rules": rules})


ISSUE_RULES = [
    {
        "name": "enterprise",
        "pool": "ent",
        "when": [{"field": "employee_count", "op": "gte", "value": 500}],
    },
    {
        "name": "tech",
        "pool": "tech",
        "when": [{"field": "industry", "op": "eq", "value": "Technology"}],
    },
    {"name": "emea", "pool": "emea", "when": [{"field": "region", "op": "eq", "value": "EMEA"}]},
    {"name": "default", "pool": "all"},
]


def _issue_config() -> RoutingConfig:
    pools = {"ent": "e@x.io", "tech": "t@x.io", "emea": "m@x.io", "all": "d@x.io"}
    return _config(
        [{"name": name, "reps": [email]} for name, email in pools.items()],
        [_rep(email) for email in pools.values()],
        ISSUE_RULES,
    )


@pytest.mark.parametrize(
    ("lead", "rule"),
    [
        (
            LeadFacts("a@b.co", employee_count=1200, industry="Technology", region="EMEA"),
            "enterprise",
        ),
        (LeadFacts("a@b.co", employee_count=500, region="EMEA"), "enterprise"),
        (LeadFacts("a@b.co", employee_count=499, industry="Technology", region="EMEA"), "tech"),
        (LeadFacts("a@b.co", industry="  technology ", region="EMEA"), "tech"),
        (LeadFacts("a@b.co", employee_count=20, region="emea"), "emea"),
        (LeadFacts("a@b.co", employee_count=20, industry="Retail", region="AMER"), "default"),
        (LeadFacts("a@b.co"), "default"),
    ],
)
def test_the_first_matching_rule_wins_in_file_order(lead: LeadFacts, rule: str) -> None:
    assert match_rule(lead, _issue_config()).name == rule


def test_operators_fold_case_and_an_unknown_value_never_matches() -> None:
    reps = [_rep("a@x.io")]
    pools = [{"name": "p", "reps": ["a@x.io"]}]

    def rule_for(condition: dict[str, Any], lead: LeadFacts) -> str:
        rules = [{"name": "hit", "pool": "p", "when": [condition]}, {"name": "miss", "pool": "p"}]
        return match_rule(lead, _config(pools, reps, rules)).name

    lead = LeadFacts("Jo@Acme.IO", company_domain="acme.io", employee_count=80, country="DE")
    assert rule_for({"field": "country", "op": "in", "value": ["de", "AT"]}, lead) == "hit"
    assert rule_for({"field": "country", "op": "not_in", "value": ["DE"]}, lead) == "miss"
    assert rule_for({"field": "email", "op": "contains", "value": "@ACME"}, lead) == "hit"
    assert rule_for({"field": "company_domain", "op": "ne", "value": "ACME.io"}, lead) == "miss"
    assert rule_for({"field": "employee_count", "op": "lte", "value": 80}, lead) == "hit"
    assert rule_for({"field": "employee_count", "op": "lt", "value": 80}, lead) == "miss"
    unknown = LeadFacts("jo@acme.io")
    assert rule_for({"field": "employee_count", "op": "lte", "value": 80}, unknown) == "miss"
    assert rule_for({"field": "region", "op": "ne", "value": "EMEA"}, unknown) == "miss"


def _round_robin(n: int) -> RoutingConfig:
    emails = [f"r{i}@x.io" for i in range(n)]
    return _config([{"name": "p", "reps": emails}], [_rep(e) for e in emails])


def test_round_robin_is_fair_over_1000_leads_at_every_step_and_across_days() -> None:
    config = _round_robin(3)
    # 1,000 leads spread over ten days: turn order carries over from one day to the next.
    leads = [(LeadFacts(f"l{i}@a.co"), DAY + timedelta(days=i // 100)) for i in range(1000)]
    decisions = replay(leads, config)
    counts = dict.fromkeys(config.pools[0].reps, 0)
    for decision in decisions:
        counts[decision.rep_email or ""] += 1
        assert max(counts.values()) - min(counts.values()) <= 1
    assert counts == {"r0@x.io": 334, "r1@x.io": 333, "r2@x.io": 333}
    assert [d.rep_email for d in decisions[:6]] == ["r0@x.io", "r1@x.io", "r2@x.io"] * 2


def test_the_least_recently_assigned_rep_goes_next_and_ties_follow_pool_order() -> None:
    config = _round_robin(3)
    pool = config.pools[0]
    state = {"r0@x.io": RepState(last_sequence=7), "r1@x.io": RepState(last_sequence=5)}
    assert choose_rep(pool, config, state, DAY).rep_email == "r2@x.io"  # never assigned
    state["r2@x.io"] = RepState(last_sequence=9)
    assert choose_rep(pool, config, state, DAY).rep_email == "r1@x.io"


def test_weights_split_2_to_1_exactly_and_deterministically() -> None:
    reps = [_rep("senior@x.io", weight=2), _rep("new@x.io", weight=1)]
    config = _config(
        [{"name": "p", "strategy": "weighted", "reps": ["senior@x.io", "new@x.io"]}], reps
    )
    leads = [(LeadFacts(f"l{i}@a.co"), DAY) for i in range(300)]
    decisions = replay(leads, config)
    counts: Counter[str] = Counter()
    # Tolerance: the highest-averages rule keeps each rep within one lead of its exact share
    # (n·w/W) after every lead, so the 2:1 split is exact whenever n is a multiple of 3.
    for n, decision in enumerate(decisions, start=1):
        counts[decision.rep_email or ""] += 1
        assert abs(counts["senior@x.io"] - Fraction(2 * n, 3)) < 1
        assert abs(counts["new@x.io"] - Fraction(n, 3)) < 1
    assert counts == {"senior@x.io": 200, "new@x.io": 100}
    assert replay(leads, config) == decisions


def test_a_rep_with_weight_zero_is_paused() -> None:
    reps = [_rep("a@x.io", weight=0), _rep("b@x.io")]
    config = _config([{"name": "p", "strategy": "weighted", "reps": ["a@x.io", "b@x.io"]}], reps)
    decisions = replay([(LeadFacts(f"l{i}@a.co"), DAY) for i in range(5)], config)
    assert {d.rep_email for d in decisions} == {"b@x.io"}
    assert "a@x.io (paused (weight 0))" in decisions[0].reason


def _capped() -> RoutingConfig:
    reps = [_rep("a@x.io", daily_capacity=2), _rep("b@x.io", daily_capacity=4), _rep("c@x.io")]
    pools = [
        {"name": "capped", "strategy": "capacity", "reps": ["a@x.io", "b@x.io"]},
        {"name": "catch", "reps": ["c@x.io"]},
    ]
    rules = [
        {
            "name": "capped",
            "pool": "capped",
            "when": [{"field": "source", "op": "eq", "value": "tally"}],
        },
        {"name": "default", "pool": "catch"},
    ]
    return _config(pools, reps, rules)


def test_caps_skip_a_full_rep_and_overflow_to_the_catch_all_when_all_are_full() -> None:
    config = _capped()
    leads = [(LeadFacts(f"l{i}@a.co", source="tally"), DAY) for i in range(8)]
    decisions = replay(leads, config)
    assert Counter(d.rep_email for d in decisions[:6]) == {"a@x.io": 2, "b@x.io": 4}
    # The lowest share of capacity used goes first: a (cap 2) and b (cap 4) fill in step.
    assert [d.rep_email for d in decisions[:3]] == ["a@x.io", "b@x.io", "b@x.io"]
    assert "skipped a@x.io (at capacity, 2/2 today)" in decisions[5].reason
    assert [(d.pool, d.rep_email) for d in decisions[6:]] == [("catch", "c@x.io")] * 2
    assert decisions[6].reason == (
        "rule capped (source tally = tally) → pool capped: nobody available (a@x.io at capacity, "
        "2/2 today; b@x.io at capacity, 4/4 today) → catch-all pool catch, round robin, next in turn"
    )
    # Capacity is per day: the next morning the capped pool takes leads again.
    tomorrow = replay(
        [*leads, (LeadFacts("n@a.co", source="tally"), DAY + timedelta(days=1))], config
    )
    assert tomorrow[-1].pool == "capped"


def _enterprise(away: dict[str, list[dict[str, str]]]) -> RoutingConfig:
    reps = [_rep(e, unavailable=away.get(e, [])) for e in ("ada@x.io", "bo@x.io", "cy@x.io")]
    pools = [
        {"name": "enterprise", "reps": ["ada@x.io", "bo@x.io"]},
        {"name": "inbound", "reps": ["cy@x.io"]},
    ]
    rules = [
        {
            "name": "enterprise",
            "pool": "enterprise",
            "when": [{"field": "employee_count", "op": "gte", "value": 500}],
        },
        {"name": "default", "pool": "inbound"},
    ]
    return _config(pools, reps, rules)


def test_out_of_office_reps_are_skipped_then_the_catch_all_takes_over() -> None:
    vacation = [{"start": "2026-11-16", "end": "2026-11-24", "note": "vacation"}]
    lead = LeadFacts("x@big.co", employee_count=1200)
    config = _enterprise({"ada@x.io": vacation})
    decision = decide(lead, config, {}, DAY)
    assert decision.rep_email == "bo@x.io"
    assert decision.reason == (
        "rule enterprise (employee_count 1200 ≥ 500) → pool enterprise, round robin, "
        "next in turn; skipped ada@x.io (out of office until 2026-11-24)"
    )
    busy = {"enterprise": {"bo@x.io": RepState(today=1, total=1, last_sequence=1)}}
    assert decide(lead, config, busy, date(2026, 11, 25)).rep_email == "ada@x.io"  # back
    # With bo away too, nobody in enterprise can take it: the catch-all pool does.
    both_away = _enterprise({"ada@x.io": vacation, "bo@x.io": vacation})
    fallback = decide(lead, both_away, {}, DAY)
    assert (fallback.rule, fallback.pool, fallback.rep_email) == (
        "enterprise",
        "inbound",
        "cy@x.io",
    )
    assert fallback.reason == (
        "rule enterprise (employee_count 1200 ≥ 500) → pool enterprise: nobody available "
        "(ada@x.io out of office until 2026-11-24; bo@x.io out of office until 2026-11-24) "
        "→ catch-all pool inbound, round robin, next in turn"
    )


def test_nobody_available_anywhere_leaves_the_lead_unassigned_with_the_reason() -> None:
    away = [{"start": "2026-11-01", "end": "2026-11-30"}]
    config = _config([{"name": "p", "reps": ["a@x.io"]}], [_rep("a@x.io", unavailable=away)])
    decision = decide(LeadFacts("l@a.co"), config, {}, DAY)
    assert decision.rep_email is None
    assert decision.reason == (
        "rule p (catch-all) → pool p: nobody available (a@x.io out of office until 2026-11-30); "
        "left unassigned"
    )
    assert decision.person_values() == {"routing_reason": decision.reason}
    assigned = decide(LeadFacts("l@a.co"), config, {}, date(2026, 12, 1))
    assert assigned.person_values()["owner"] == [{"workspace_member_email_address": "a@x.io"}]


def test_the_packaged_routing_file_routes_to_real_sandbox_members_on_several_continents() -> None:
    config = load_model(config_path("routing.yaml"), RoutingConfig)
    members = {email: level for _f, _l, email, level in MEMBERS}
    assert {r.email for r in config.reps} <= {
        e for e, level in members.items() if level != "suspended"
    }
    assert {r.time_zone.split("/")[0] for r in config.reps} >= {
        "America",
        "Europe",
        "Asia",
        "Australia",
    }
    assert [(r.name, r.pool) for r in config.rules] == [
        ("enterprise", "enterprise"),
        ("tech", "tech"),
        ("emea", "emea"),
        ("default", "inbound"),
    ]
    assert match_rule(LeadFacts("a@b.co", employee_count=800), config).name == "enterprise"
    assert match_rule(LeadFacts("a@b.co", region="EMEA"), config).name == "emea"


GOOD = """\
business_hours:
  task_due_hour: 9
reps:
  - email: a@x.io
    name: A
    time_zone: Europe/Berlin
  - email: b@x.io
    name: B
    time_zone: Asia/Tokyo
pools:
  - name: main
    strategy: round_robin
    reps: [a@x.io, b@x.io]
rules:
  - name: big
    pool: main
    when:
      - {field: employee_count, op: gte, value: 500}
  - name: default
    pool: main
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("  - name: default\n    pool: main\n", "", 17, "the last rule must be a catch-all"),
        (
            "strategy: round_robin",
            "strategy: lottery",
            12,
            "'round_robin', 'weighted' or 'capacity'",
        ),
        ("time_zone: Asia/Tokyo", "time_zone: Mars/Olympus", 9, "unknown time zone 'Mars/Olympus'"),
        ("reps: [a@x.io, b@x.io]", "reps: [a@x.io]", 7, "b@x.io is in no pool"),
        ("    pool: main\n    when", "    pool: mian\n    when", 16, "no pool named 'mian'"),
        ("op: gte, value: 500", "op: contains, value: '5'", 18, "employee_count is a number"),
        ("task_due_hour: 9", "task_due_hour: 25", 2, "less than or equal to 23"),
    ],
)
def test_a_bad_routing_file_fails_with_file_line_and_reason(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in GOOD
    path = tmp_path / "routing.yaml"
    path.write_text(GOOD.replace(old, new))
    with pytest.raises(ConfigError) as caught:
        load_model(path, RoutingConfig)
    assert f"{path}:{line}:" in str(caught.value)
    assert message in str(caught.value)


def test_a_capacity_pool_needs_every_rep_capped_and_catch_alls_only_come_last(
    tmp_path: Path,
) -> None:
    text = GOOD.replace("strategy: round_robin", "strategy: capacity") + textwrap.indent(
        "- name: late\n  pool: main\n", "  "
    )
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_model(path, RoutingConfig)
    problems = {(line, reason) for line, _key, reason in caught.value.problems}
    assert (13, "a@x.io needs a daily_capacity here") in problems
    assert (19, "default has no conditions: the rules after it never match") in problems


def test_the_good_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(GOOD)
    config = load_model(path, RoutingConfig)
    assert config.catch_all_pool.name == "main"
    assert [r.time_zone for r in config.reps] == ["Europe/Berlin", "Asia/Tokyo"]


def test_daily_capacity_counts_a_reps_leads_from_every_pool() -> None:
    reps = [_rep("a@x.io", daily_capacity=2), _rep("b@x.io")]
    pools = [
        {"name": "partners", "reps": ["a@x.io"]},
        {"name": "inbound", "reps": ["a@x.io", "b@x.io"]},
    ]
    rules = [
        {
            "name": "partners",
            "pool": "partners",
            "when": [{"field": "source", "op": "eq", "value": "tally"}],
        },
        {"name": "default", "pool": "inbound"},
    ]
    config = _config(pools, reps, rules)
    leads = [(LeadFacts(f"p{i}@a.co", source="tally"), DAY) for i in range(2)]
    leads += [(LeadFacts(f"i{i}@a.co", source="typeform"), DAY) for i in range(3)]
    decisions = replay(leads, config)
    assert [(d.pool, d.rep_email) for d in decisions] == [
        ("partners", "a@x.io"),
        ("partners", "a@x.io"),
        ("inbound", "b@x.io"),
        ("inbound", "b@x.io"),
        ("inbound", "b@x.io"),
    ]
    assert decisions[2].reason.endswith("skipped a@x.io (at capacity, 2/2 today)")


def test_high_value_names_a_rule_that_exists_and_explains_why(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from revops_pipelines.config import ConfigError, config_path, load_model
    from revops_pipelines.domain.routing_config import LeadFacts, RoutingConfig

    config = load_model(config_path("routing.yaml"), RoutingConfig)
    assert config.high_value is not None
    big = LeadFacts(email="a@b.example", employee_count=5000)
    assert config.high_value.reason(big, "tech") == "employee_count 5000 ≥ 1000"
    assert (
        config.high_value.reason(LeadFacts(email="a@b.example"), "enterprise") == "rule enterprise"
    )
    assert (
        config.high_value.reason(LeadFacts(email="a@b.example", employee_count=10), "tech") is None
    )
    text = (
        config_path("routing.yaml")
        .read_text()
        .replace("rules: [enterprise]", "rules: [enterprize]")
    )
    bad = tmp_path / "routing.yaml"
    bad.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if "enterprize" in row)
    with pytest.raises(
        ConfigError,
        match=rf"routing.yaml:{line}: high_value.rules\[0\]: no rule named 'enterprize'",
    ):
        load_model(bad, RoutingConfig)
