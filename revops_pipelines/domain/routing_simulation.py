"""A routing simulation over the leads routed live: each lead is routed again, in the order the
live runs routed it, with the facts the live decision recorded, under one or more routing files.

Every file's simulation starts from the live turns taken before the window (`Turns`), so with
the rules unchanged the replay reproduces the live decisions. A lead whose facts were not
recorded (routed before they were kept) is not routed again: its live outcome is applied to the
state (it did take that turn) and its row says so. SLA re-routes take their turns the same way.
Pure: the store reads the history, the CLI prints it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from revops_pipelines.domain.routing import (
    LeadFacts,
    RoutingConfig,
    RoutingDecision,
    RoutingSimulation,
)

UNASSIGNED = "(unassigned)"


@dataclass(frozen=True)
class Turns:
    """One rep's live turns in one pool before the window: how many, the last sequence number,
    and how many fell on each day the window routes on."""

    pool: str
    rep: str
    total: int
    last_sequence: int
    days: Mapping[date, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PastLead:
    """A lead routed live: its decision, and the facts that decision used (None: not kept)."""

    lead_key: str
    at: datetime
    day: date  # the day its turn counted on (capacity, weights)
    live: RoutingDecision
    facts: LeadFacts | None


@dataclass(frozen=True)
class PastReroute:
    """An SLA re-route: a turn `rep` took in `pool`."""

    at: datetime
    pool: str
    rep: str
    day: date


@dataclass(frozen=True)
class SimulatedLead:
    lead: PastLead
    outcomes: tuple[RoutingDecision | None, ...]  # one per routing file; None: facts not kept


def replay_routed(
    turns: Iterable[Turns],
    events: Sequence[PastLead | PastReroute],
    configs: Sequence[RoutingConfig],
) -> list[SimulatedLead]:
    """Each lead of `events` routed again under each of `configs`, in time order."""
    history = list(turns)
    ordered = sorted(events, key=lambda e: e.at)
    leads = [e for e in ordered if isinstance(e, PastLead)]
    outcomes: list[list[RoutingDecision | None]] = [[] for _ in leads]
    for config in configs:
        simulation = RoutingSimulation(config)
        for t in history:
            simulation.seed(
                t.pool, t.rep, total=t.total, last_sequence=t.last_sequence, days=t.days
            )
        n = 0
        for event in ordered:
            if isinstance(event, PastReroute):
                simulation.record(event.pool, event.rep, event.day)
                continue
            if event.facts is None:
                # What it would have got is unknown; the turn it took live did happen.
                if event.live.rep_email is not None:
                    simulation.record(event.live.pool, event.live.rep_email, event.day)
                outcomes[n].append(None)
            else:
                outcomes[n].append(simulation.route(event.facts, event.day))
            n += 1
    return [SimulatedLead(lead, tuple(o)) for lead, o in zip(leads, outcomes, strict=True)]


def same(a: RoutingDecision | None, b: RoutingDecision | None) -> bool:
    """Two decisions agree when they pick the same rule, pool and rep (reasons may differ)."""
    if a is None or b is None:
        return a is b
    return (a.rule, a.pool, a.rep_email) == (b.rule, b.pool, b.rep_email)


@dataclass(frozen=True)
class Summary:
    leads: int
    without_facts: int
    current_differs_from_live: int
    changed: int  # proposed differs from current (0 without a proposed file)
    rule_changed: int
    rep_changed: int  # same rule, another rep


def summarize(rows: Sequence[SimulatedLead]) -> Summary:
    """Counts over the leads with recorded facts: current vs live, proposed vs current."""
    known = [r for r in rows if r.outcomes and r.outcomes[0] is not None]
    current_off = sum(1 for r in known if not same(r.outcomes[0], r.lead.live))
    pairs = [(r.outcomes[0], r.outcomes[1]) for r in known if len(r.outcomes) > 1]
    moved = [(c, p) for c, p in pairs if not same(c, p)]
    rule_changed = sum(1 for c, p in moved if c and p and c.rule != p.rule)
    return Summary(
        leads=len(rows),
        without_facts=len(rows) - len(known),
        current_differs_from_live=current_off,
        changed=len(moved),
        rule_changed=rule_changed,
        rep_changed=len(moved) - rule_changed,
    )


def tallies(
    decisions: Iterable[RoutingDecision | None],
) -> tuple[Counter[str], Counter[str]]:
    """Leads per rep and per rule (leads without an outcome left out)."""
    known = [d for d in decisions if d is not None]
    return (
        Counter(d.rep_email or UNASSIGNED for d in known),
        Counter(d.rule for d in known),
    )
