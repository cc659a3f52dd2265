"""Routing state in the store: turn order that survives restarts, retries and concurrent runs."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from revops_pipelines.domain.routing import LeadFacts, RoutingConfig, RoutingDecision
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.routing import assign, assignments, reroute_lead, route_lead
from revops_pipelines.store.tables import routing_assignment, routing_state

DAY = date(2026, 11, 20)
REPS = ["a@x.io", "b@x.io", "c@x.io"]


def _config(**capacity: int) -> RoutingConfig:
    """Round robin on `main` for big companies; `spare` is the catch-all."""
    caps = {f"{k}@x.io": v for k, v in capacity.items()}
    reps = [
        {"email": e, "name": e[0], "time_zone": "UTC", "daily_capacity": caps.get(e)}
        for e in [*REPS, "z@x.io"]
    ]
    return RoutingConfig.model_validate(
        {
            "reps": reps,
            "pools": [{"name": "main", "reps": REPS}, {"name": "spare", "reps": ["z@x.io"]}],
            "rules": [
                {
                    "name": "big",
                    "pool": "main",
                    "when": [{"field": "employee_count", "op": "gte", "value": 500}],
                },
                {"name": "default", "pool": "spare"},
            ],
        }
    )


BIG = LeadFacts("lead@big.co", employee_count=900)


def _route(url: str, key: str, config: RoutingConfig, day: date = DAY) -> Any:
    return route_lead(store_engine.get_engine(url), key, BIG, config, day)


def _state(url: str) -> dict[tuple[str, str, str], tuple[int, int]]:
    with store_engine.get_engine(url).connect() as connection:
        rows = connection.execute(sa.select(routing_state))
        return {(r.pool, r.rep, r.period): (r.assigned_count, r.last_sequence) for r in rows}


def test_round_robin_in_the_store_takes_turns_and_numbers_each_lead(db_url: str) -> None:
    config = _config()
    results = [_route(db_url, f"typeform:{i}", config) for i in range(7)]
    assert [r.decision.rep_email for r in results] == [*REPS, *REPS, "a@x.io"]
    assert [r.sequence for r in results] == list(range(1, 8))
    state = _state(db_url)
    assert state[("main", "*", "all")] == (7, 7)
    assert state[("main", "a@x.io", "all")] == (3, 7)
    assert state[("main", "b@x.io", DAY.isoformat())] == (2, 5)
    stored = assignments(store_engine.get_engine(db_url), "main")
    assert [(s["lead_key"], s["rep"], s["rule"]) for s in stored][:2] == [
        ("typeform:0", "a@x.io", "big"),
        ("typeform:1", "b@x.io", "big"),
    ]
    assert stored[0]["reason"] == (
        "rule big (employee_count 900 ≥ 500) → pool main, round robin, next in turn"
    )


def test_a_retried_lead_gets_the_same_rep_and_no_second_turn(db_url: str) -> None:
    config = _config()
    first = _route(db_url, "tally:evt-1", config)
    before = _state(db_url)
    again = _route(db_url, "tally:evt-1", config)
    assert (again.decision, again.sequence, again.replayed) == (first.decision, 1, True)
    assert first.replayed is False
    assert _state(db_url) == before
    assert _route(db_url, "tally:evt-2", config).decision.rep_email == "b@x.io"


def test_the_turn_order_survives_a_restart(db_url: str) -> None:
    config = _config()
    _route(db_url, "k1", config)
    _route(db_url, "k2", config)
    store_engine.dispose_all()  # every pooled connection closed, the engine cache emptied
    assert _route(db_url, "k3", config).decision.rep_email == "c@x.io"


def test_daily_caps_overflow_to_the_catch_all_and_reset_the_next_day(db_url: str) -> None:
    config = _config(a=1, b=1, c=1)
    today = [_route(db_url, f"k{i}", config) for i in range(4)]
    assert [(r.decision.pool, r.decision.rep_email) for r in today] == [
        ("main", "a@x.io"),
        ("main", "b@x.io"),
        ("main", "c@x.io"),
        ("spare", "z@x.io"),
    ]
    assert today[3].sequence == 1  # the catch-all pool's own sequence
    assert "a@x.io at capacity, 1/1 today" in today[3].decision.reason
    tomorrow = _route(db_url, "k5", config, DAY + timedelta(days=1))
    assert (tomorrow.decision.pool, tomorrow.decision.rep_email) == ("main", "a@x.io")


def test_an_unassigned_decision_is_not_stored_so_a_retry_can_still_find_a_rep(
    db_url: str,
) -> None:
    engine = store_engine.get_engine(db_url)

    def nobody(_states: Any) -> RoutingDecision:
        return RoutingDecision("big", "main", None, "nobody available")

    result = assign(engine, "k1", {"main": REPS}, nobody, DAY)
    assert (result.decision.rep_email, result.sequence, result.replayed) == (None, None, False)
    assert assignments(engine) == []
    assert _route(db_url, "k1", _config()).decision.rep_email == "a@x.io"


def test_concurrent_runs_share_one_turn_order(db_url: str) -> None:
    """Two threads, 200 leads each, on one pool: no turn is taken twice, none is skipped."""
    config = _config()
    engine = store_engine.get_engine(db_url)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            start.wait()
            for i in range(200):
                route_lead(engine, f"w{worker}:{i}", BIG, config, DAY)
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert errors == []
    stored = assignments(engine, "main")
    assert len(stored) == 400
    assert sorted(s["sequence"] for s in stored) == list(range(1, 401))
    counts = Counter(s["rep"] for s in stored)
    assert max(counts.values()) - min(counts.values()) <= 1
    # Each lead, in sequence order, went to the rep whose turn it was.
    assert [s["rep"] for s in stored] == [REPS[i % 3] for i in range(400)]
    assert {s["lead_key"].split(":")[0] for s in stored} == {"w1", "w2"}
    state = _state(db_url)
    assert state[("main", "*", "all")] == (400, 400)
    assert sum(state[("main", rep, "all")][0] for rep in REPS) == 400


def test_assignments_are_timestamped_in_utc(db_url: str) -> None:
    at = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    engine = store_engine.get_engine(db_url)
    route_lead(engine, "k1", BIG, _config(), DAY, now=at)
    with engine.connect() as connection:
        assigned_at = connection.execute(sa.select(routing_assignment.c.assigned_at)).scalar_one()
    assert assigned_at == at


def test_daily_capacity_in_the_store_counts_every_pool(db_url: str) -> None:
    config = _config(a=1)
    engine = store_engine.get_engine(db_url)
    spare_reps = {"spare": ["a@x.io", "z@x.io"]}

    def first_rep(states: Any) -> RoutingDecision:
        mine = states["spare"]["a@x.io"]
        rep = "z@x.io" if mine.load >= 1 else "a@x.io"
        return RoutingDecision("default", "spare", rep, f"a has {mine.load} today")

    assert _route(db_url, "k1", config).decision.rep_email == "a@x.io"  # pool main
    other = assign(engine, "k2", spare_reps, first_rep, DAY)
    assert (other.decision.rep_email, other.decision.reason) == ("z@x.io", "a has 1 today")


def test_the_facts_and_the_routing_day_are_stored_with_the_decision(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    _route(db_url, "typeform:f1", _config(), DAY)
    [stored] = assignments(engine)
    assert LeadFacts.from_record(stored["facts"]) == BIG
    assert stored["routing_day"] == DAY


def test_an_sla_reroute_is_chosen_once_and_takes_one_turn(db_url: str) -> None:
    """The first pass picks the rep with the pool's strategy and counts the turn; a second pass
    gets that rep back, whatever its decide function would say now."""
    engine = store_engine.get_engine(db_url)
    config = _config()
    for key in ("k1", "k2"):
        _route(db_url, key, config)  # a, then b
    asked: list[dict[str, Any]] = []

    def least_recent_other(states: Any) -> RoutingDecision:
        asked.append(dict(states["main"]))
        others = {r: s for r, s in states["main"].items() if r != "a@x.io"}
        rep = min(others, key=lambda r: others[r].last_sequence)
        return RoutingDecision("sla_reroute", "main", rep, "test")

    first = reroute_lead(engine, "k1", "main", REPS, least_recent_other, DAY)
    assert first is not None and (first.rep, first.replayed) == ("c@x.io", False)
    again = reroute_lead(engine, "k1", "main", REPS, least_recent_other, DAY)
    assert again is not None and (again.rep, again.replayed) == ("c@x.io", True)
    assert len(asked) == 1
    state = _state(db_url)
    assert state[("main", "*", "all")] == (3, 3)
    assert state[("main", "c@x.io", "all")] == (1, 3)
    assert state[("main", "c@x.io", DAY.isoformat())] == (1, 3)
    [k1] = [a for a in assignments(engine) if a["lead_key"] == "k1"]
    assert (k1["rep"], k1["rerouted_to"], k1["reroute_sequence"]) == ("a@x.io", "c@x.io", 3)
    # The next lead sees c's turn: a is next.
    assert _route(db_url, "k3", config).decision.rep_email == "a@x.io"


def test_a_reroute_finding_nobody_or_an_unknown_lead_stores_nothing(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    _route(db_url, "k1", _config())
    before = _state(db_url)
    assert reroute_lead(engine, "k1", "main", REPS, lambda _s: None, DAY) is None
    assert reroute_lead(engine, "missing", "main", REPS, lambda _s: None, DAY) is None
    assert _state(db_url) == before
    [k1] = assignments(engine)
    assert k1["rerouted_to"] is None
