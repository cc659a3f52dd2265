"""The webhook inbox: the one API for storing, claiming and settling raw webhook deliveries.

A row moves `pending -> processing -> done | quarantined`, or back to `pending` when a run fails
(one attempt charged each time) and to `failed` once it has used `max_attempts`. Claiming is
atomic: `FOR UPDATE SKIP LOCKED` on PostgreSQL, a single guarded `UPDATE ... RETURNING` on SQLite
(whose writers are serialized), so two workers never hold one row. Rows are never deleted:
retention (`purge_settled`) drops the body and headers of old settled rows and keeps the row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from revops_pipelines.domain.personal_data import mask_personal
from revops_pipelines.store.inbox_queries import (
    InboxRow,
    PendingRef,
    _row,
    _sources,
    claim_holders,
    claimed_ids,
    count_by_status,
    get_rows,
    pending_after,
    pending_idle,
    rows_with_status,
)
from revops_pipelines.store.tables import webhook_digests, webhook_inbox

__all__ = [  # the read-only queries and their row shapes are re-exported from inbox_queries
    "DEFAULT_MAX_ATTEMPTS",
    "MAX_ERROR_CHARS",
    "InboxRow",
    "NewEvent",
    "PendingRef",
    "PurgeResult",
    "ReleaseResult",
    "StoreOutcome",
    "StoreResult",
    "body_event_id",
    "charge_unclaimed_attempt",
    "claim_batch",
    "claim_holders",
    "claimed_ids",
    "count_by_status",
    "get_rows",
    "mark_done",
    "mark_quarantined",
    "pending_after",
    "pending_idle",
    "purge_settled",
    "release",
    "release_claimed_by",
    "release_stale",
    "requeue",
    "rows_with_status",
    "store_event",
    "store_events",
]

DEFAULT_MAX_ATTEMPTS = 5
MAX_ERROR_CHARS = 2000
StoreOutcome = Literal["stored", "duplicate"]
_t = webhook_inbox


@dataclass(frozen=True)
class StoreResult:
    outcome: StoreOutcome
    id: int | None  # the new row's id; None for a duplicate


@dataclass(frozen=True)
class ReleaseResult:
    pending: int = 0
    failed: int = 0

    def __add__(self, other: ReleaseResult) -> ReleaseResult:
        return ReleaseResult(self.pending + other.pending, self.failed + other.failed)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _clip(text: str) -> str:
    """An error as the inbox keeps it: personal data masked (the UI and the CLI show it; the
    raw values stay in the body), clipped to `MAX_ERROR_CHARS`."""
    text = mask_personal(text)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def body_event_id(body: bytes) -> str:
    """A content-derived event id for deliveries that carry none of their own."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class NewEvent:
    """One delivery to store: raw body, the headers worth keeping, the source's event id."""

    source: str
    event_id: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime | None = None
    # For a source whose event id the signature does not cover: the body's digest seen within
    # this window makes the delivery a duplicate too (a replayed body under a new key).
    replay_window: timedelta | None = None


def store_event(
    engine: sa.Engine,
    *,
    source: str,
    event_id: str,
    headers: Mapping[str, str],
    body: bytes,
    received_at: datetime | None = None,
) -> StoreResult:
    """Insert one delivery in one statement; a redelivery of `(source, event_id)` is a no-op."""
    [result] = store_events(engine, [NewEvent(source, event_id, headers, body, received_at)])
    return result


def store_events(engine: sa.Engine, events: Sequence[NewEvent]) -> list[StoreResult]:
    """Insert several deliveries in one statement and one commit (group commit); the results are
    in the order given. Redeliveries, also within `events`, are duplicates: by `(source,
    event_id)`, and for events with a `replay_window` by the body's digest seen within it."""
    if not events:
        return []
    at = datetime.now(UTC)
    first: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        first.setdefault((event.source, event.event_id), index)
    with engine.begin() as conn:  # the digests and the rows commit together, or neither
        replayed = _replayed(conn, events, first, at)
        values = [
            {
                "source": event.source,
                "event_id": event.event_id,
                "received_at": event.received_at or at,
                "headers": dict(event.headers),
                "body": event.body,
                "status": "pending",
                "attempts": 0,
                "updated_at": event.received_at or at,
            }
            for index, event in enumerate(events)
            if first[(event.source, event.event_id)] == index and index not in replayed
        ]
        stored = _insert_new(conn, values)
    results = []
    for index, event in enumerate(events):
        key = (event.source, event.event_id)
        new_id = stored.get(key) if first[key] == index and index not in replayed else None
        results.append(StoreResult("stored", new_id) if new_id else StoreResult("duplicate", None))
    return results


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _insert_new(conn: sa.Connection, values: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert rows whose (source, event_id) is new (PostgreSQL or SQLite); their ids by key."""
    if not values:
        return {}
    stmt = (
        _insert(conn, _t)
        .on_conflict_do_nothing(index_elements=["source", "event_id"])
        .returning(_t.c.id, _t.c.source, _t.c.event_id)
    )
    # executemany: SQLAlchemy sends it as one multi-row INSERT
    return {(r.source, r.event_id): r.id for r in conn.execute(stmt, values)}


def _replayed(
    conn: sa.Connection,
    events: Sequence[NewEvent],
    first: Mapping[tuple[str, str], int],
    at: datetime,
) -> set[int]:
    """The indexes of `events` whose body digest was seen within their `replay_window` (earlier
    in `events` too). Each fresh digest is recorded (or refreshed, when last seen before the
    window) by one upsert that returns only the rows it wrote: under concurrency the second
    writer waits for the first's row lock and then finds the digest recent (PostgreSQL), or
    runs after it (SQLite serializes writers)."""
    replayed: set[int] = set()
    wanted: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        if event.replay_window is None or first[(event.source, event.event_id)] != index:
            continue
        key = (event.source, hashlib.sha256(event.body).hexdigest())
        if key in wanted:
            replayed.add(index)
        else:
            wanted[key] = index
    by_window: dict[timedelta, list[tuple[str, str]]] = {}
    for key, index in wanted.items():
        by_window.setdefault(events[index].replay_window or timedelta(0), []).append(key)
    for window, keys in by_window.items():
        insert = _insert(conn, webhook_digests)
        stmt = insert.on_conflict_do_update(
            index_elements=["source", "digest"],
            set_={"seen_at": insert.excluded.seen_at},
            where=webhook_digests.c.seen_at < at - window,
        ).returning(webhook_digests.c.source, webhook_digests.c.digest)
        rows = [{"source": s, "digest": d, "seen_at": at} for s, d in keys]
        written = {(r.source, r.digest) for r in conn.execute(stmt, rows)}
        replayed.update(wanted[key] for key in keys if key not in written)
    return replayed


def claim_batch(
    engine: sa.Engine,
    sources: str | Iterable[str],
    *,
    limit: int,
    claimed_by: str,
    ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> list[InboxRow]:
    """Atomically move up to `limit` pending rows (oldest first, optionally only `ids`) to
    `processing` under `claimed_by`, and return them. Rows another worker holds are skipped."""
    at = _now(now)
    candidates = (
        sa.select(_t.c.id)
        .where(_t.c.status == "pending", _t.c.source.in_(_sources(sources)))
        .order_by(_t.c.id)
        .limit(limit)
    )
    if ids is not None:
        candidates = candidates.where(_t.c.id.in_(list(ids)))
    if engine.dialect.name == "postgresql":
        picked = candidates.with_for_update(skip_locked=True).cte("picked")
        chosen: Any = sa.select(picked.c.id)
    else:
        chosen = candidates.scalar_subquery()
    stmt = (
        sa.update(_t)
        .where(_t.c.id.in_(chosen), _t.c.status == "pending")
        .values(status="processing", claimed_by=claimed_by, claimed_at=at, updated_at=at)
        .returning(*_t.c)
    )
    with engine.begin() as conn:
        rows = [_row(r._mapping) for r in conn.execute(stmt)]
    return sorted(rows, key=lambda r: r.id)


def mark_done(
    engine: sa.Engine,
    ids: Iterable[int],
    *,
    claimed_by: str | None = None,
    now: datetime | None = None,
) -> int:
    """Settle claimed rows as done (only rows still `processing`, and still held by
    `claimed_by` when given). Returns how many rows changed."""
    at = _now(now)
    stmt = sa.update(_t).where(_t.c.id.in_(list(ids)), _t.c.status == "processing")
    if claimed_by is not None:
        stmt = stmt.where(_t.c.claimed_by == claimed_by)
    with engine.begin() as conn:
        result = conn.execute(
            stmt.values(status="done", processed_at=at, updated_at=at, last_error=None)
        )
    return result.rowcount


def mark_quarantined(
    engine: sa.Engine,
    id: int,
    reason: str,
    *,
    claimed_by: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Set a row aside as unprocessable, with the reason; it is never retried automatically."""
    at = _now(now)
    stmt = sa.update(_t).where(_t.c.id == id, _t.c.status.in_(("pending", "processing")))
    if claimed_by is not None:
        stmt = stmt.where(_t.c.claimed_by == claimed_by)
    values = {"status": "quarantined", "last_error": _clip(reason), "processed_at": at}
    with engine.begin() as conn:
        return conn.execute(stmt.values(**values, updated_at=at)).rowcount == 1


Backoff = Sequence[float]  # seconds to wait after the 1st, 2nd, ... failed attempt


def _retry_at(at: datetime, backoff: Backoff | None) -> Any:
    """The row's next retry time from its attempts (before this charge), in SQL: one CASE over
    the schedule, so rows with different attempts are released in one statement."""
    if not backoff:
        return sa.null()

    def time(seconds: float) -> Any:
        return sa.bindparam(None, at + timedelta(seconds=seconds), type_=_t.c.retry_at.type)

    when = [(_t.c.attempts == n, time(s)) for n, s in enumerate(backoff)]
    return sa.case(*when, else_=time(backoff[-1]))


def _charge_attempt(
    engine: sa.Engine,
    where: sa.ColumnElement[bool],
    error: str,
    max_attempts: int,
    at: datetime,
    backoff: Backoff | None = None,
) -> ReleaseResult:
    """attempts + 1; back to pending (not retried before its backoff), or failed with the
    error once `max_attempts` is used up."""
    exhausted = _t.c.attempts + 1 >= max_attempts
    stmt = (
        sa.update(_t)
        .where(where)
        .values(
            attempts=_t.c.attempts + 1,
            status=sa.case((exhausted, "failed"), else_="pending"),
            processed_at=sa.case(
                (exhausted, sa.bindparam(None, at, type_=_t.c.processed_at.type)), else_=sa.null()
            ),
            last_error=_clip(error),
            claimed_by=None,
            claimed_at=None,
            updated_at=at,
            retry_at=sa.case((exhausted, sa.null()), else_=_retry_at(at, backoff))
            if backoff
            else None,
        )
        .returning(_t.c.status)
    )
    with engine.begin() as conn:
        statuses = list(conn.execute(stmt).scalars())
    return ReleaseResult(pending=statuses.count("pending"), failed=statuses.count("failed"))


def release(
    engine: sa.Engine,
    ids: Iterable[int],
    error: str,
    *,
    claimed_by: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: datetime | None = None,
    backoff: Backoff | None = None,
) -> ReleaseResult:
    """Give claimed rows back after a failure: one attempt is charged, the error recorded."""
    where = sa.and_(_t.c.id.in_(list(ids)), _t.c.status == "processing")
    if claimed_by is not None:
        where = sa.and_(where, _t.c.claimed_by == claimed_by)
    return _charge_attempt(engine, where, error, max_attempts, _now(now), backoff)


def release_claimed_by(
    engine: sa.Engine,
    claimed_by: str,
    error: str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: datetime | None = None,
    backoff: Backoff | None = None,
) -> ReleaseResult:
    """Release every row still held by `claimed_by` (a failed or canceled run)."""
    where = sa.and_(_t.c.claimed_by == claimed_by, _t.c.status == "processing")
    return _charge_attempt(engine, where, error, max_attempts, _now(now), backoff)


def charge_unclaimed_attempt(
    engine: sa.Engine,
    ids: Iterable[int],
    error: str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: datetime | None = None,
    backoff: Backoff | None = None,
) -> ReleaseResult:
    """Charge an attempt to rows of a failed run's batch that are still pending (the run died
    before claiming them), so a retry gets a fresh run key and poison batches still end."""
    where = sa.and_(_t.c.id.in_(list(ids)), _t.c.status == "pending")
    return _charge_attempt(engine, where, error, max_attempts, _now(now), backoff)


def release_stale(
    engine: sa.Engine,
    older_than: timedelta,
    *,
    sources: str | Iterable[str] | None = None,
    limit: int = 1000,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: datetime | None = None,
    backoff: Backoff | None = None,
) -> ReleaseResult:
    """Release up to `limit` claims older than `older_than` (their worker is presumed dead)."""
    at = _now(now)
    stale = sa.select(_t.c.id).where(_t.c.status == "processing", _t.c.claimed_at < at - older_than)
    if sources is not None:
        stale = stale.where(_t.c.source.in_(_sources(sources)))
    stale_ids = stale.order_by(_t.c.id).limit(limit).scalar_subquery()
    where = sa.and_(_t.c.id.in_(stale_ids), _t.c.status == "processing")
    error = f"claim expired after {int(older_than.total_seconds())} s"
    return _charge_attempt(engine, where, error, max_attempts, at, backoff)


def requeue(engine: sa.Engine, ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Operator action: put failed or quarantined rows back to pending with a fresh budget."""
    at = _now(now)
    stmt = (
        sa.update(_t)
        .where(
            _t.c.id.in_(list(ids)),
            _t.c.status.in_(("failed", "quarantined")),
            _t.c.purged_at.is_(None),  # a purged row has no body left to process
        )
        .values(status="pending", attempts=0, processed_at=None, updated_at=at, retry_at=None)
    )
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount


SETTLED = ("done", "quarantined")


@dataclass(frozen=True)
class PurgeResult:
    rows: int  # settled rows whose body and headers were dropped
    digests: int  # replay digests older than the cut-off, deleted


def purge_settled(
    engine: sa.Engine, before: datetime, *, batch: int = 1000, now: datetime | None = None
) -> PurgeResult:
    """Drop the body and headers of rows settled (done or quarantined) before `before`, in
    batches of `batch` rows (short transactions beside live traffic); the row and its
    `(source, event_id)` stay, so a redelivery is still a duplicate. Failed rows wait for an
    operator and are kept whole. Replay digests last seen before `before` go too."""
    at = _now(now)
    rows = 0
    while True:
        ids = (
            sa.select(_t.c.id)
            .where(_t.c.status.in_(SETTLED), _t.c.processed_at < before, _t.c.purged_at.is_(None))
            .order_by(_t.c.id)
            .limit(batch)
            .scalar_subquery()
        )
        stmt = (
            sa.update(_t)
            .where(_t.c.id.in_(ids))
            .values(body=b"", headers={}, purged_at=at, updated_at=at)
        )
        with engine.begin() as conn:
            changed = conn.execute(stmt).rowcount
        rows += changed
        if changed < batch:
            break
    with engine.begin() as conn:
        old = sa.delete(webhook_digests).where(webhook_digests.c.seen_at < before)
        digests = conn.execute(old).rowcount
    return PurgeResult(rows, digests)
