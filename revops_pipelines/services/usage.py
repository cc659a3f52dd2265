"""Flow D: a day's Segment track events from the inbox, rolled up into Attio usage attributes.

`roll_up_day` reads the Segment rows received in the 30-day window ending with the day (plus
`SKEW` either side for clock skew and late delivery), counts each event once per `messageId`
(`domain/usage.py`), writes the rollups that changed to the people and companies that already
exist in Attio (never creating records), records what it wrote in `usage_state`, and settles the
pending rows received in the day itself: done, or quarantined when unreadable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from revops_pipelines.domain.attio_values import record_id
from revops_pipelines.domain.usage import (
    PlannedWrite,
    TrackEvent,
    UsageEventError,
    UsageObject,
    day_end,
    parse_track,
    plan_writes,
    rollup,
    window_start,
)
from revops_pipelines.resources.attio import AttioClient, AttioError
from revops_pipelines.services.inbox import InboxRun
from revops_pipelines.store.usage import (
    SEGMENT_SOURCES,
    load_state,
    pending_segment_before,
    save_state,
    segment_rows_received,
)

SKEW = timedelta(days=1)  # rows received this long before/after the window are read too

MATCH_FILTER: dict[UsageObject, str] = {"people": "email_addresses", "companies": "domains"}


@dataclass(frozen=True)
class WriteOutcome:
    write: PlannedWrite
    status: str  # written | not_in_attio | failed
    attio_record_id: str | None = None
    message: str | None = None


async def _find(client: AttioClient, obj: UsageObject, key: str) -> str | None:
    found = [
        r
        async for r in client.records.query(
            obj, filter={MATCH_FILTER[obj]: key}, page_size=1, limit=1
        )
    ]
    return record_id(found[0]) if found else None


async def _write_one(client: AttioClient, write: PlannedWrite) -> WriteOutcome:
    values = write.summary.attio_values()
    try:
        rid = write.attio_record_id or await _find(client, write.object, write.key)
        if rid is None:
            return WriteOutcome(write, "not_in_attio")
        try:
            await client.records.update(write.object, rid, values)
        except AttioError as exc:
            if exc.status_code != 404 or write.attio_record_id is None:
                raise
            rid = await _find(client, write.object, write.key)  # the record was merged/deleted
            if rid is None:
                return WriteOutcome(write, "not_in_attio")
            await client.records.update(write.object, rid, values)
        return WriteOutcome(write, "written", rid)
    except AttioError as exc:
        return WriteOutcome(write, "failed", message=str(exc))


async def write_all(client: AttioClient, writes: Sequence[PlannedWrite]) -> list[WriteOutcome]:
    """Every planned write at once: the client's limiter keeps them inside the budget."""
    return list(await asyncio.gather(*(_write_one(client, w) for w in writes)))


@dataclass
class UsageReport:
    as_of: date
    rows_read: int = 0
    events: list[TrackEvent] = field(default_factory=list)
    people: int = 0
    companies: int = 0
    outcomes: list[WriteOutcome] = field(default_factory=list)
    unchanged: int = 0
    skipped_newer: int = 0
    rows_done: int = 0
    quarantined: list[tuple[int, str]] = field(default_factory=list)  # (inbox id, reason)

    def with_status(self, status: str) -> list[WriteOutcome]:
        return [o for o in self.outcomes if o.status == status]


async def roll_up_day(
    client: AttioClient,
    engine: sa.Engine,
    run: InboxRun,
    own_start: datetime,
    own_end: datetime,
) -> UsageReport:
    """Roll up usage as of the last day of `[own_start, own_end)` and settle that window's rows."""
    as_of = (own_end - timedelta(days=1)).date()
    own_start, own_end = own_start.astimezone(UTC), own_end.astimezone(UTC)
    report = UsageReport(as_of)
    settle: list[int] = []
    for row in segment_rows_received(engine, window_start(as_of) - SKEW, day_end(as_of) + SKEW):
        report.rows_read += 1
        try:
            event = parse_track(row.body)
        except UsageEventError as exc:
            report.quarantined.append((row.id, str(exc)))
            continue
        if event is not None:
            report.events.append(event)
        if row.status == "pending" and own_start <= row.received_at < own_end:
            settle.append(row.id)

    summaries = rollup(report.events, as_of)
    report.people = sum(1 for obj, _ in summaries if obj == "people")
    report.companies = sum(1 for obj, _ in summaries if obj == "companies")
    writes, report.unchanged, report.skipped_newer = plan_writes(
        summaries, load_state(engine), as_of
    )
    report.outcomes = await write_all(client, writes)
    now = datetime.now(UTC)
    save_state(
        engine,
        [
            {
                "object": o.write.object,
                "record_key": o.write.key,
                "digest": o.write.summary.digest(),
                "as_of": as_of,
                "last_seen_at": o.write.summary.last_seen_at,
                "attio_record_id": o.attio_record_id,
                "last_run_id": run.run_id,
                "written_at": now,
            }
            for o in report.with_status("written")
        ],
    )
    # Rows read but never claimed: quarantined without a claim, then the day's rows settled.
    for row_id, reason in report.quarantined:
        run.quarantine(row_id, f"unreadable Segment event: {reason}", held=False)
    report.rows_done = run.settle_rows(SEGMENT_SOURCES, settle)
    return report


STUCK_AFTER = timedelta(days=2)


def stuck_segment_rows(engine: sa.Engine, now: datetime | None = None) -> list[int]:
    """Segment rows still pending `STUCK_AFTER` after they arrived: their day never rolled up."""
    return pending_segment_before(engine, (now or datetime.now(UTC)) - STUCK_AFTER)
