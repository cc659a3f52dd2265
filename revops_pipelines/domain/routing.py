"""Lead routing: ordered rules pick a pool, then a distribution strategy picks a rep in it.

Pure: rule matching and the choice of a rep over a snapshot of the routing state, for the models
of `config/routing.yaml` in `domain/routing_config.py` (re-exported here; load the file with
`config.load_model(path, RoutingConfig)`). `store/routing.py` keeps that state and makes
read-choose-record one transaction; the lead flow writes the decision to Attio (`owner`,
`routing_reason`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from revops_pipelines.domain.routing_config import (
    NUMERIC_FIELDS,
    ROUTING_FILE,
    Absence,
    Condition,
    Email,
    LeadFacts,
    LeadField,
    Operator,
    Pool,
    Rep,
    RoutingConfig,
    Rule,
    Scalar,
    Strategy,
)

__all__ = [  # the config names are re-exported: `domain.routing` is where callers import them
    "NUMERIC_FIELDS",
    "ROUTING_FILE",
    "Absence",
    "Choice",
    "Condition",
    "Email",
    "LeadFacts",
    "LeadField",
    "Operator",
    "Pool",
    "PoolState",
    "Rep",
    "RepState",
    "RoutingConfig",
    "RoutingDecision",
    "RoutingSimulation",
    "Rule",
    "Scalar",
    "Strategy",
    "choose_rep",
    "decide",
    "match_rule",
    "replay",
    "skip_reasons",
]


@dataclass(frozen=True)
class RepState:
    """One rep's standing in one pool: today's count, all-time count, last turn taken."""

    today: int = 0
    total: int = 0
    last_sequence: int = 0  # the pool sequence number of the rep's last lead; 0 = never
    today_all_pools: int | None = None  # capacity is the rep's, whichever pool the lead came from

    @property
    def load(self) -> int:
        """Leads today that count against the rep's daily capacity."""
        return self.today if self.today_all_pools is None else self.today_all_pools


PoolState = Mapping[str, RepState]  # rep email -> state


@dataclass(frozen=True)
class Choice:
    rep_email: str
    how: str  # e.g. "round robin, next in turn"
    skipped: tuple[str, ...]  # "ada@x.io (out of office until 2026-11-24)"


@dataclass(frozen=True)
class RoutingDecision:
    rule: str
    pool: str  # the pool the rep came from (the catch-all pool after a fallback)
    rep_email: str | None  # None: nobody available anywhere; left for the catch-all queue
    reason: str

    def person_values(self, assigned_on: date | None = None) -> dict[str, Any]:
        """The Attio person attributes this decision sets (`assigned_date` when given)."""
        values: dict[str, Any] = {"routing_reason": self.reason}
        if self.rep_email:
            values["owner"] = [{"workspace_member_email_address": self.rep_email}]
            if assigned_on is not None:
                values["assigned_date"] = assigned_on.isoformat()
        return values


def match_rule(lead: LeadFacts, config: RoutingConfig) -> Rule:
    """The first rule whose conditions all hold (the catch-all last rule always does)."""
    return next(rule for rule in config.rules if rule.matches(lead))


def skip_reasons(
    pool: Pool, config: RoutingConfig, state: PoolState, today: date
) -> dict[str, str]:
    """Rep email -> why the rep cannot take a lead in `pool` today (eligible reps are absent)."""
    reasons = {}
    for email in pool.reps:
        rep, mine = config.rep(email), state.get(email, RepState())
        absence = rep.absence_on(today)
        if absence is not None:
            reasons[email] = f"out of office until {absence.end.isoformat()}"
        elif rep.weight == 0:
            reasons[email] = "paused (weight 0)"
        elif rep.daily_capacity is not None and mine.load >= rep.daily_capacity:
            reasons[email] = f"at capacity, {mine.load}/{rep.daily_capacity} today"
    return reasons


def choose_rep(pool: Pool, config: RoutingConfig, state: PoolState, today: date) -> Choice | None:
    """The pool's next rep by its strategy, or None when nobody is available (see
    `skip_reasons`). Ties go to the least recently assigned rep, then to the pool's order."""
    skipped = skip_reasons(pool, config, state, today)
    candidates = [(i, e, state.get(e, RepState())) for i, e in enumerate(pool.reps)]
    eligible = [c for c in candidates if c[1] not in skipped]
    if not eligible:
        return None

    def load(item: tuple[int, str, RepState]) -> tuple[Fraction, int, int]:
        index, email, mine = item
        rep = config.rep(email)
        if pool.strategy == "weighted":
            # Highest-averages apportionment: each rep stays within one lead of its share.
            share = Fraction(mine.today + 1) / Fraction(str(rep.weight))
        elif pool.strategy == "capacity":
            share = Fraction(mine.load, rep.daily_capacity or 1)
        else:
            share = Fraction(0)
        return share, mine.last_sequence, index

    _, email, mine = min(eligible, key=load)
    rep = config.rep(email)
    how = {
        "round_robin": "round robin, next in turn",
        "weighted": f"weighted (weight {rep.weight:g}), most below its share at {mine.today} today",
        "capacity": f"capacity, {mine.load + 1} of {rep.daily_capacity} today",
    }[pool.strategy]
    return Choice(email, how, tuple(f"{e} ({why})" for e, why in skipped.items()))


def decide(
    lead: LeadFacts, config: RoutingConfig, states: Mapping[str, PoolState], today: date
) -> RoutingDecision:
    """Match a rule, choose in its pool, fall back to the catch-all pool; explain it all."""
    rule = match_rule(lead, config)
    why = f"rule {rule.name} ({rule.explain(lead)})"
    pools = [config.pool(rule.pool)]
    if config.catch_all_pool.name != rule.pool:
        pools.append(config.catch_all_pool)
    for attempt, pool in enumerate(pools):
        label = f"pool {pool.name}" if attempt == 0 else f"catch-all pool {pool.name}"
        choice = choose_rep(pool, config, states.get(pool.name, {}), today)
        if choice is not None:
            skipped = f"; skipped {', '.join(choice.skipped)}" if choice.skipped else ""
            return RoutingDecision(
                rule.name, pool.name, choice.rep_email, f"{why} → {label}, {choice.how}{skipped}"
            )
        reasons = skip_reasons(pool, config, states.get(pool.name, {}), today)
        why += f" → {label}: nobody available ({'; '.join(f'{e} {r}' for e, r in reasons.items())})"
    return RoutingDecision(rule.name, pools[-1].name, None, f"{why}; left unassigned")


class RoutingSimulation:
    """The store's routing state kept in memory (per pool and rep: all-time count, the pool
    sequence of the rep's last lead, counts per day), so leads can be routed in order without
    writing anything: `route` decides and takes the turn, `record` applies an outcome decided
    elsewhere (a live assignment, an SLA re-route), `seed` starts from a live history."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self._totals: Counter[tuple[str, str]] = Counter()
        self._last: dict[tuple[str, str], int] = {}
        self._daily: Counter[tuple[str, str, date]] = Counter()  # (pool, rep, day)
        self._loads: Counter[tuple[str, date]] = Counter()  # (rep, day), every pool
        self._sequence: Counter[str] = Counter()

    def seed(
        self, pool: str, rep: str, *, total: int, last_sequence: int, days: Mapping[date, int]
    ) -> None:
        """Add a live history: `total` leads of `rep` in `pool`, the last at `last_sequence`,
        `days` counting them per day (only the days still to be routed matter)."""
        self._totals[(pool, rep)] += total
        self._last[(pool, rep)] = max(self._last.get((pool, rep), 0), last_sequence)
        self._sequence[pool] = max(self._sequence[pool], last_sequence)
        for day, count in days.items():
            self._daily[(pool, rep, day)] += count
            self._loads[(rep, day)] += count

    def record(self, pool: str, rep: str, day: date) -> None:
        """One lead for `rep` in `pool` on `day`, as the store records it: the pool's next
        sequence number becomes the rep's last turn."""
        self._sequence[pool] += 1
        self._totals[(pool, rep)] += 1
        self._last[(pool, rep)] = self._sequence[pool]
        self._daily[(pool, rep, day)] += 1
        self._loads[(rep, day)] += 1

    def states(self, day: date) -> dict[str, PoolState]:
        """Every pool's state as `decide` reads it on `day`."""
        return {
            pool.name: {
                email: RepState(
                    today=self._daily[(pool.name, email, day)],
                    total=self._totals[(pool.name, email)],
                    last_sequence=self._last.get((pool.name, email), 0),
                    today_all_pools=self._loads[(email, day)],
                )
                for email in pool.reps
            }
            for pool in self.config.pools
        }

    def route(self, lead: LeadFacts, day: date) -> RoutingDecision:
        decision = decide(lead, self.config, self.states(day), day)
        if decision.rep_email is not None:
            self.record(decision.pool, decision.rep_email, day)
        return decision


def replay(leads: Iterable[tuple[LeadFacts, date]], config: RoutingConfig) -> list[RoutingDecision]:
    """Route `(lead, day)` pairs in order from an empty state kept in memory, as the store
    would (a simulation: nothing is written anywhere)."""
    simulation = RoutingSimulation(config)
    return [simulation.route(lead, day) for lead, day in leads]
