"""The inbox workflow of the flows' runs: the one place that changes an inbox row's status.

A run claims its batch under its run id (`InboxRun.claim`), quarantines what it cannot use with
the reason, hands a row back for a retry (one attempt charged; not retried before a backoff that
doubles with its attempts, up to a cap: `handback_backoff`), and settles the rest as done at
its end; a row out of attempts is `failed` with its last error. A run that fails or is canceled
has its rows released (`release_failed_run`); a sensor tick releases claims whose run ended
without handing them back (`release_orphaned`) and, as the last backstop, claims older than the
claim timeout (`plan_batches`); an operator requeues failed or quarantined rows (`requeue`). The SQL
is in `store/inbox.py`; assets, sensors and the CLI call this module.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from revops_pipelines.domain.run_liveness import ClaimHolder
from revops_pipelines.infra.logs import log_fields
from revops_pipelines.infra.retry import handback_delays
from revops_pipelines.infra.settings import load_settings
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import InboxRow, PendingRef, ReleaseResult

MAX_ATTEMPTS = inbox.DEFAULT_MAX_ATTEMPTS
DEFAULT_BATCH_LIMIT = 100


def handback_backoff() -> tuple[float, ...]:
    """Seconds a handed-back row waits after each failed attempt, from the settings profile
    (`inbox_retry_base_seconds`, doubling per attempt up to `inbox_retry_max_seconds`)."""
    settings = load_settings()
    return handback_delays(
        settings.inbox_retry_base_seconds, settings.inbox_retry_max_seconds, MAX_ATTEMPTS
    )


__all__ = [
    "DEFAULT_BATCH_LIMIT",
    "MAX_ATTEMPTS",
    "BatchPlan",
    "InboxRow",
    "InboxRun",
    "PendingRef",
    "ReleaseResult",
    "SettledBatch",
    "claim_holders",
    "failed_rows",
    "parse_age",
    "plan_batches",
    "purge",
    "quarantined_rows",
    "release_failed_run",
    "release_orphaned",
    "requeue",
    "status_counts",
]


@dataclass(frozen=True)
class SettledBatch:
    """What a run's last step marked done, and the flow's rows per status afterwards."""

    ids: list[int]
    done: int
    counts: dict[str, int]


class InboxRun:
    """One run's hold on its inbox rows: every status change is made under the run id, so a
    row another run holds is never touched, and logged with the row's id."""

    def __init__(self, engine: sa.Engine, run_id: str, log: Any = None) -> None:
        self.engine, self.run_id = engine, run_id
        self.log = log or logging.getLogger("revops.inbox")

    def claim(
        self, sources: Sequence[str], ids: Sequence[int] = (), limit: int = DEFAULT_BATCH_LIMIT
    ) -> list[InboxRow]:
        """Claim the batch `ids` (a sensor's run), or up to `limit` of the oldest pending rows
        (a manual run); rows another run holds are skipped."""
        wanted = list(ids) or None
        size = max(len(wanted), 1) if wanted else limit
        rows = inbox.claim_batch(
            self.engine, sources, limit=size, claimed_by=self.run_id, ids=wanted
        )
        log_fields(
            self.log,
            logging.INFO,
            f"claimed {len(rows)} inbox rows: {[r.id for r in rows]}",
            inbox_ids=[r.id for r in rows],
        )
        return rows

    def quarantine(
        self,
        inbox_id: int,
        reason: str,
        *,
        what: str | None = None,
        held: bool = True,
        **fields: Any,
    ) -> bool:
        """Set a row aside for good with its reason (never retried automatically). `held=False`
        for a row the run read without claiming it."""
        claimed_by = self.run_id if held else None
        changed = inbox.mark_quarantined(self.engine, inbox_id, reason, claimed_by=claimed_by)
        log_fields(
            self.log,
            logging.WARNING,
            f"{what or f'inbox row {inbox_id}'} quarantined: {reason}",
            inbox_id=inbox_id,
            **fields,
            outcome="quarantined",
        )
        return changed

    def hand_back(self, inbox_id: int, error: str, *, what: str | None = None) -> ReleaseResult:
        """Give a held row back (attempts + 1) so a later run tries it again; `failed` once it
        has used its attempts."""
        result = inbox.release(
            self.engine, [inbox_id], error, claimed_by=self.run_id, backoff=handback_backoff()
        )
        log_fields(
            self.log,
            logging.WARNING,
            f"{what or f'inbox row {inbox_id}'} goes back to the inbox: {error}",
            inbox_id=inbox_id,
            outcome="released",
        )
        return result

    def on_last_attempt(self, ids: Iterable[int]) -> dict[int, bool]:
        """Per row: whether this run is its last allowed attempt."""
        rows = inbox.get_rows(self.engine, list(ids))
        return {row.id: row.attempts + 1 >= MAX_ATTEMPTS for row in rows}

    def settle(self, sources: Sequence[str]) -> SettledBatch:
        """Mark done every row this run still holds (the last step of an inbox job)."""
        ids = inbox.claimed_ids(self.engine, self.run_id)
        done = inbox.mark_done(self.engine, ids, claimed_by=self.run_id)
        return SettledBatch(ids, done, status_counts(self.engine, sources))

    def settle_rows(self, sources: Sequence[str], ids: Sequence[int]) -> int:
        """Claim the pending rows `ids` and mark them done at once: for a flow that reads its
        rows without claiming them first (product usage)."""
        claimed = inbox.claim_batch(
            self.engine, sources, limit=max(len(ids), 1), claimed_by=self.run_id, ids=list(ids)
        )
        return inbox.mark_done(self.engine, [r.id for r in claimed], claimed_by=self.run_id)


def release_failed_run(
    engine: sa.Engine,
    run_id: str,
    batch_ids: Iterable[int],
    error: str,
    *,
    max_attempts: int = MAX_ATTEMPTS,
) -> ReleaseResult:
    """Give back every row a finished-but-unsuccessful run holds, and charge an attempt to the
    rows of its batch it never claimed (so a batch that kills its run still ends up failed)."""
    # unclaimed first: the rows released next are pending too, and must not be charged twice
    backoff = handback_backoff()
    unclaimed = inbox.charge_unclaimed_attempt(
        engine, list(batch_ids), error, max_attempts=max_attempts, backoff=backoff
    )
    released = inbox.release_claimed_by(
        engine, run_id, error, max_attempts=max_attempts, backoff=backoff
    )
    return released + unclaimed


def claim_holders(engine: sa.Engine, sources: Sequence[str], limit: int) -> list[ClaimHolder]:
    """The runs holding rows of `sources`, oldest claim first (a sensor checks they live)."""
    return inbox.claim_holders(engine, sources, limit=limit)


def release_orphaned(
    engine: sa.Engine, run_id: str, error: str, *, max_attempts: int = MAX_ATTEMPTS
) -> ReleaseResult:
    """Give back the rows still held by a run that can no longer settle them (ended without
    handing them back, or unknown): one attempt charged, as for a failed run."""
    return inbox.release_claimed_by(
        engine, run_id, error, max_attempts=max_attempts, backoff=handback_backoff()
    )


@dataclass(frozen=True)
class BatchPlan:
    """A sensor tick's view of a flow's inbox: stale claims released, the new pending rows
    above the cursor, the idle pending rows at or below it, and the failed-row count."""

    released: ReleaseResult
    fresh: list[PendingRef]
    retry: list[PendingRef]
    failed: int


def plan_batches(
    engine: sa.Engine,
    sources: Sequence[str],
    *,
    after_id: int,
    budget: int,
    retry_after: timedelta,
    claim_timeout: timedelta,
    max_attempts: int = MAX_ATTEMPTS,
    now: datetime | None = None,
) -> BatchPlan:
    """Bounded, indexed queries only (at most `budget` rows): a sensor tick does no more."""
    at = now or datetime.now(UTC)
    released = inbox.release_stale(
        engine,
        claim_timeout,
        sources=sources,
        limit=budget,
        max_attempts=max_attempts,
        now=at,
        backoff=handback_backoff(),
    )
    fresh = inbox.pending_after(engine, sources, after_id=after_id, limit=budget)
    retry: list[PendingRef] = []
    if len(fresh) < budget:
        retry = inbox.pending_idle(
            engine,
            sources,
            up_to_id=after_id,
            idle_since=at - retry_after,
            limit=budget - len(fresh),
            now=at,
        )
    failed = inbox.count_by_status(engine, list(sources))["failed"]
    return BatchPlan(released, fresh, retry, failed)


def requeue(engine: sa.Engine, ids: Iterable[int]) -> int:
    """Operator action: failed or quarantined rows back to pending with a fresh attempt budget."""
    return inbox.requeue(engine, ids)


def status_counts(engine: sa.Engine, sources: str | Sequence[str]) -> dict[str, int]:
    """Rows per status for one source or several."""
    return inbox.count_by_status(engine, sources if isinstance(sources, str) else list(sources))


def failed_rows(engine: sa.Engine, sources: Sequence[str], limit: int = 50) -> list[InboxRow]:
    """Rows that used up their attempts, oldest first."""
    return inbox.rows_with_status(engine, "failed", sources=list(sources), limit=limit)


def quarantined_rows(engine: sa.Engine, sources: Sequence[str], limit: int = 50) -> list[InboxRow]:
    """Rows set aside for good with their reason (unparseable, invalid, refused by Attio)."""
    return inbox.rows_with_status(engine, "quarantined", sources=list(sources), limit=limit)


DEFAULT_RETENTION = timedelta(days=30)


def purge(
    engine: sa.Engine, older_than: timedelta = DEFAULT_RETENTION, *, now: datetime | None = None
) -> inbox.PurgeResult:
    """Retention: drop the bodies and headers of rows settled more than `older_than` ago (their
    `(source, event_id)` stays, so redeliveries are still duplicates), and old replay digests."""
    if older_than < timedelta(days=1):
        raise ValueError(f"refusing to purge rows settled less than a day ago ({older_than})")
    at = now or datetime.now(UTC)
    result = inbox.purge_settled(engine, at - older_than, now=at)
    logging.getLogger("revops.inbox").info(
        "inbox purge: %s rows emptied, %s digests removed", result.rows, result.digests
    )
    return result


def parse_age(text: str) -> timedelta:
    """`30d`, `12h`, `2w` as a duration (the CLI's and the schedule's `--older-than`)."""
    units = {"h": "hours", "d": "days", "w": "weeks"}
    value, unit = text.strip()[:-1], text.strip()[-1:].lower()
    if unit not in units or not value.isdigit():
        raise ValueError(f"{text!r} is not an age: write a number and h, d or w (e.g. 30d)")
    return timedelta(**{units[unit]: int(value)})
