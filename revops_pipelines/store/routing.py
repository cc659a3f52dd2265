"""Routing state: turn order and counts per pool and rep, and one stored decision per lead.

`assign` reads a pool's state, lets the pure domain decide, and records the outcome in one
transaction that concurrent runs cannot interleave: on PostgreSQL the pools' `routing_state` rows
are locked with `SELECT ... FOR UPDATE` (in one global order, so two runs never deadlock on them),
on SQLite `BEGIN IMMEDIATE` takes the database's write lock before the first read.

Rows of `routing_state` per pool: one `(pool, "*", "all")` counter whose `last_sequence` is the
pool's monotonic sequence; per rep, an `"all"` row (all-time count, the sequence of the rep's last
lead, which is the round-robin turn order) and a row per day (`YYYY-MM-DD`: the day's count, for
capacity and weighted pools). An SLA re-route (`reroute_lead`) takes a turn the same way and is
kept on the lead's `routing_assignment` row, so it is chosen once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from revops_pipelines.domain.routing import (
    LeadFacts,
    PoolState,
    RepState,
    RoutingConfig,
    RoutingDecision,
    decide,
    match_rule,
)
from revops_pipelines.store.tables import routing_assignment, routing_state

ALL_TIME = "all"
POOL_COUNTER = "*"  # not an email, so it never collides with a rep
_DEADLOCK = "40P01"
_ATTEMPTS = 3
_s = routing_state


@dataclass(frozen=True)
class Assignment:
    decision: RoutingDecision
    sequence: int | None  # the pool's sequence number of this lead; None when unassigned
    replayed: bool  # True: the lead was routed before and this is the stored decision
    assigned_at: datetime | None = None  # when the rep was assigned (None when unassigned)


def route_lead(
    engine: sa.Engine,
    lead_key: str,
    lead: LeadFacts,
    config: RoutingConfig,
    today: date,
    *,
    now: datetime | None = None,
) -> Assignment:
    """Route one lead with the rules of `config`, keyed by `lead_key` (source + event id)."""
    names = dict.fromkeys([match_rule(lead, config).pool, config.catch_all_pool.name])
    pools = {name: config.pool(name).reps for name in names}
    return assign(
        engine,
        lead_key,
        pools,
        lambda states: decide(lead, config, states, today),
        today,
        now=now,
        facts=lead.as_record(),
    )


def assign(
    engine: sa.Engine,
    lead_key: str,
    pools: Mapping[str, Sequence[str]],
    decide_fn: Callable[[Mapping[str, PoolState]], RoutingDecision],
    today: date,
    *,
    now: datetime | None = None,
    facts: Mapping[str, Any] | None = None,
) -> Assignment:
    """Decide and record one lead's assignment atomically; a lead seen before gets its stored
    decision back instead of a second turn.

    `pools` maps each pool the decision may use (the rule's pool and the catch-all pool) to its
    reps in order; `decide_fn` gets their state and must pick from them. An unassigned decision
    (nobody available) is returned but not stored, so a retry can find a rep later. `facts`
    (what the rules read) are stored with the decision for `revops routing simulate`."""
    at = now or datetime.now(UTC)
    with engine.connect() as connection:
        stored = _stored(connection, lead_key)  # the common retry path takes no lock
    if stored is not None:
        return stored
    for attempt in range(_ATTEMPTS):
        try:
            with _write_transaction(engine) as connection:
                stored = _stored(connection, lead_key)  # a concurrent run may have just won
                if stored is not None:
                    return stored
                states, counters = _lock_and_read(connection, pools, today, at)
                decision = decide_fn(states)
                if decision.rep_email is None:
                    return Assignment(decision, None, replayed=False)
                if decision.rep_email not in pools.get(decision.pool, ()):
                    raise ValueError(f"{decision.rep_email} is not a rep of {decision.pool}")
                sequence = counters[decision.pool] + 1
                _count_turn(connection, decision.pool, decision.rep_email, sequence, today, at)
                connection.execute(
                    routing_assignment.insert().values(
                        lead_key=lead_key,
                        pool=decision.pool,
                        rep=decision.rep_email,
                        rule=decision.rule,
                        reason=decision.reason,
                        sequence=sequence,
                        assigned_at=at,
                        facts=dict(facts) if facts is not None else None,
                        routing_day=today,
                    )
                )
                return Assignment(decision, sequence, replayed=False, assigned_at=at)
        except sa.exc.OperationalError as exc:
            # Two assigns should never deadlock (rows are locked in one global order), but
            # other writers may take these rows too; PostgreSQL then aborts one side: retry.
            if getattr(exc.orig, "sqlstate", None) != _DEADLOCK or attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@contextmanager
def _write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect() as connection, connection.begin():
        if connection.dialect.name == "sqlite":
            # pysqlite starts transactions lazily and DEFERRED, so two runs could both read the
            # same turn; IMMEDIATE takes the write lock now (busy_timeout makes the other wait).
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection


def _stored(connection: sa.Connection, lead_key: str) -> Assignment | None:
    row = connection.execute(
        sa.select(routing_assignment).where(routing_assignment.c.lead_key == lead_key)
    ).one_or_none()
    if row is None:
        return None
    decision = RoutingDecision(rule=row.rule, pool=row.pool, rep_email=row.rep, reason=row.reason)
    return Assignment(decision, row.sequence, replayed=True, assigned_at=row.assigned_at)


def _lock_and_read(
    connection: sa.Connection, pools: Mapping[str, Sequence[str]], today: date, at: datetime
) -> tuple[dict[str, PoolState], dict[str, int]]:
    """Create the pools' missing rows, lock them all, and return (state, sequence) per pool."""
    day = today.isoformat()
    keys = [(pool, POOL_COUNTER, ALL_TIME) for pool in pools]
    keys += [
        (p, rep, period) for p, reps in pools.items() for rep in reps for period in (ALL_TIME, day)
    ]
    # Missing rows first, in sorted order: an existing row is left as it is (the project's
    # `upsert` would overwrite its counts), and a new one is created exactly once.
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    new = [
        {
            "pool": p,
            "rep": r,
            "period": d,
            "assigned_count": 0,
            "last_sequence": 0,
            "updated_at": at,
        }
        for p, r, d in sorted(set(keys))
    ]
    connection.execute(dialect.insert(_s).on_conflict_do_nothing(), new)
    everyone = sorted({rep for reps in pools.values() for rep in reps})
    query = (
        sa.select(_s.c.pool, _s.c.rep, _s.c.period, _s.c.assigned_count, _s.c.last_sequence)
        .where(
            sa.or_(
                sa.and_(_s.c.pool.in_(list(pools)), _s.c.period.in_([ALL_TIME, day])),
                # A rep's daily capacity counts leads from every pool, so their other pools'
                # counts for today are read (and locked) too.
                sa.and_(_s.c.rep.in_(everyone), _s.c.period == day),
            )
        )
        .order_by(_s.c.pool, _s.c.rep, _s.c.period)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    rows = {(r.pool, r.rep, r.period): r for r in connection.execute(query)}
    loads = Counter[str]()
    for (_pool, rep, period), row in rows.items():
        if period == day:
            loads[rep] += row.assigned_count
    states: dict[str, PoolState] = {}
    for pool, reps in pools.items():
        states[pool] = {
            rep: RepState(
                today=rows[(pool, rep, day)].assigned_count,
                total=rows[(pool, rep, ALL_TIME)].assigned_count,
                last_sequence=rows[(pool, rep, ALL_TIME)].last_sequence,
                today_all_pools=loads[rep],
            )
            for rep in reps
        }
    counters = {pool: rows[(pool, POOL_COUNTER, ALL_TIME)].last_sequence for pool in pools}
    return states, counters


def _count_turn(
    connection: sa.Connection, pool: str, rep: str, sequence: int, today: date, at: datetime
) -> None:
    """The rep's all-time and day counts and last turn, and the pool's counter, in one update."""
    mine = sa.and_(_s.c.rep == rep, _s.c.period.in_([ALL_TIME, today.isoformat()]))
    counter = sa.and_(_s.c.rep == POOL_COUNTER, _s.c.period == ALL_TIME)
    connection.execute(
        sa.update(_s)
        .where(_s.c.pool == pool, sa.or_(mine, counter))
        .values(assigned_count=_s.c.assigned_count + 1, last_sequence=sequence, updated_at=at)
    )


@dataclass(frozen=True)
class Reroute:
    rep: str
    reason: str
    rerouted_at: datetime
    replayed: bool  # True: an earlier SLA pass chose this rep; this is the stored choice


def reroute_lead(
    engine: sa.Engine,
    lead_key: str,
    pool: str,
    reps: Sequence[str],
    decide_fn: Callable[[Mapping[str, PoolState]], RoutingDecision | None],
    today: date,
    *,
    now: datetime | None = None,
) -> Reroute | None:
    """Choose, once, the rep who takes over a routed lead (an SLA re-route) and count it as a
    turn in `pool`, like a new lead; a lead re-routed before gets that choice back. None when
    the lead was never routed or `decide_fn` finds nobody (not stored: a later pass may)."""
    at = now or datetime.now(UTC)
    a = routing_assignment
    with _write_transaction(engine) as connection:
        query = sa.select(a).where(a.c.lead_key == lead_key)
        if connection.dialect.name == "postgresql":
            # Two passes on one lead: the second waits here and then sees the first's choice.
            query = query.with_for_update()
        row = connection.execute(query).one_or_none()
        if row is None:
            return None
        if row.rerouted_to is not None:
            return Reroute(row.rerouted_to, row.reroute_reason or "", row.rerouted_at, True)
        states, counters = _lock_and_read(connection, {pool: reps}, today, at)
        decision = decide_fn(states)
        if decision is None or decision.rep_email is None:
            return None
        if decision.rep_email not in reps:
            raise ValueError(f"{decision.rep_email} is not a rep of {pool}")
        sequence = counters[pool] + 1
        _count_turn(connection, pool, decision.rep_email, sequence, today, at)
        connection.execute(
            sa.update(a)
            .where(a.c.lead_key == lead_key)
            .values(
                rerouted_to=decision.rep_email,
                rerouted_at=at,
                reroute_sequence=sequence,
                reroute_reason=decision.reason,
            )
        )
        return Reroute(decision.rep_email, decision.reason, at, False)


def assignments(engine: sa.Engine, pool: str | None = None) -> list[dict[str, Any]]:
    """Stored decisions in sequence order (per pool), for reports and tests."""
    query = sa.select(routing_assignment).order_by(
        routing_assignment.c.pool, routing_assignment.c.sequence
    )
    if pool is not None:
        query = query.where(routing_assignment.c.pool == pool)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]
