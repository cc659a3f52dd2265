"""Read-only queries over the webhook inbox: counts, pending rows for the sensors, rows by id or
status. The claiming and settling writes are in `store/inbox.py`, which re-exports all of these
(call them as `inbox.<name>`); the row shape `InboxRow` lives here as both sides return it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from revops_pipelines.domain.run_liveness import ClaimHolder
from revops_pipelines.store.tables import INBOX_STATUSES, webhook_inbox

_t = webhook_inbox


@dataclass(frozen=True)
class InboxRow:
    id: int
    source: str
    event_id: str
    received_at: datetime
    headers: dict[str, str]
    body: bytes
    status: str
    attempts: int
    last_error: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    processed_at: datetime | None

    @property
    def ref(self) -> str:
        """A stable reference to the raw delivery (`webhook_inbox:<id>`)."""
        return f"webhook_inbox:{self.id}"


@dataclass(frozen=True)
class PendingRef:
    """The few columns a sensor needs to plan a batch."""

    id: int
    source: str
    attempts: int


def _sources(sources: str | Iterable[str]) -> list[str]:
    return [sources] if isinstance(sources, str) else list(sources)


def _row(mapping: Mapping[str, Any]) -> InboxRow:
    values = {f.name: mapping[f.name] for f in fields(InboxRow)}
    return InboxRow(
        **{**values, "headers": dict(values["headers"] or {}), "body": bytes(values["body"])}
    )


def pending_after(
    engine: sa.Engine, sources: str | Iterable[str], *, after_id: int, limit: int
) -> list[PendingRef]:
    """Pending rows with an id above `after_id` (a sensor cursor), oldest first."""
    stmt = (
        sa.select(_t.c.id, _t.c.source, _t.c.attempts)
        .where(_t.c.status == "pending", _t.c.source.in_(_sources(sources)), _t.c.id > after_id)
        .order_by(_t.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [PendingRef(*r) for r in conn.execute(stmt)]


def pending_idle(
    engine: sa.Engine,
    sources: str | Iterable[str],
    *,
    up_to_id: int,
    idle_since: datetime,
    limit: int,
    now: datetime | None = None,
) -> list[PendingRef]:
    """Pending rows at or below `up_to_id` due for another run: handed back and past their
    `retry_at` (backoff by attempts), or without one and untouched since `idle_since` (never
    claimed by the run requested for them)."""
    at = now or datetime.now(UTC)
    due = sa.or_(
        _t.c.retry_at <= at, sa.and_(_t.c.retry_at.is_(None), _t.c.updated_at < idle_since)
    )
    stmt = (
        sa.select(_t.c.id, _t.c.source, _t.c.attempts)
        .where(
            _t.c.status == "pending",
            _t.c.source.in_(_sources(sources)),
            _t.c.id <= up_to_id,
            due,
        )
        .order_by(_t.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [PendingRef(*r) for r in conn.execute(stmt)]


def get_rows(engine: sa.Engine, ids: Iterable[int]) -> list[InboxRow]:
    with engine.connect() as conn:
        result = conn.execute(sa.select(_t).where(_t.c.id.in_(list(ids))).order_by(_t.c.id))
        return [_row(r._mapping) for r in result]


def rows_with_status(
    engine: sa.Engine,
    status: str,
    *,
    sources: str | Iterable[str] | None = None,
    claimed_by: str | None = None,
    limit: int = 100,
) -> list[InboxRow]:
    """Rows in one status (newest first), e.g. the failed rows an operator should look at."""
    stmt = sa.select(_t).where(_t.c.status == status)
    if sources is not None:
        stmt = stmt.where(_t.c.source.in_(_sources(sources)))
    if claimed_by is not None:
        stmt = stmt.where(_t.c.claimed_by == claimed_by)
    with engine.connect() as conn:
        result = conn.execute(stmt.order_by(_t.c.id.desc()).limit(limit))
        return [_row(r._mapping) for r in result]


def claimed_ids(engine: sa.Engine, claimed_by: str) -> list[int]:
    """Ids still `processing` under `claimed_by`."""
    stmt = (
        sa.select(_t.c.id)
        .where(_t.c.claimed_by == claimed_by, _t.c.status == "processing")
        .order_by(_t.c.id)
    )
    with engine.connect() as conn:
        return list(conn.execute(stmt).scalars())


def count_by_status(
    engine: sa.Engine, sources: str | Sequence[str] | None = None
) -> dict[str, int]:
    """Row counts per status (every status present, zero when empty)."""
    stmt = sa.select(_t.c.status, sa.func.count()).group_by(_t.c.status)
    if sources is not None:
        stmt = stmt.where(_t.c.source.in_(_sources(sources)))
    counts = dict.fromkeys(INBOX_STATUSES, 0)
    with engine.connect() as conn:
        counts.update({status: n for status, n in conn.execute(stmt)})
    return counts


@dataclass(frozen=True)
class InboxDepth:
    """What a monitoring scrape reads: rows per status, and when the oldest pending row arrived."""

    by_status: dict[str, int]
    oldest_pending_received_at: datetime | None


# What a scrape counts: the rows that are work or need an operator. `done` is the inbox's whole
# history and grows with the table; counting it on every scrape is what made scrapes slow
# (`revops webhooks status` still shows it).
DEPTH_STATUSES = ("pending", "processing", "failed", "quarantined")


def inbox_depth(engine: sa.Engine) -> InboxDepth:
    """Row counts of `DEPTH_STATUSES` and the oldest pending arrival, in one connection. Each
    count is a range of the (status, source, id) index: its cost follows the backlog, not the
    table."""
    counts = {}
    oldest = sa.select(sa.func.min(_t.c.received_at)).where(_t.c.status == "pending")
    with engine.connect() as conn:
        for status in DEPTH_STATUSES:
            count = sa.select(sa.func.count()).select_from(_t).where(_t.c.status == status)
            counts[status] = conn.execute(count).scalar_one()
        received_at = conn.execute(oldest).scalar_one_or_none()
    return InboxDepth(counts, received_at)


def claim_holders(
    engine: sa.Engine, sources: str | Iterable[str], *, limit: int
) -> list[ClaimHolder]:
    """The runs holding `processing` rows of `sources` (up to `limit`, oldest claim first):
    an index range over (status, source), grouped by run; processing rows are few."""
    oldest = sa.func.min(_t.c.claimed_at)
    stmt = (
        sa.select(_t.c.claimed_by, sa.func.count(), oldest)
        .where(
            _t.c.status == "processing",
            _t.c.source.in_(_sources(sources)),
            _t.c.claimed_by.is_not(None),
        )
        .group_by(_t.c.claimed_by)
        .order_by(oldest)
        .limit(limit)
    )
    with engine.connect() as conn:
        # MIN keeps the column's type, so the oldest claim comes back as an aware datetime.
        return [ClaimHolder(*row) for row in conn.execute(stmt)]
