"""The product-usage service called directly (no Dagster) against the Attio sandbox over real
HTTP: a day's Segment events rolled up onto the people and companies Attio already has, the
day's inbox rows settled, and an unchanged rollup not written again."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from revops_pipelines.domain.attio_values import first_value
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.services.inbox import InboxRun
from revops_pipelines.services.usage import UsageReport, roll_up_day, stuck_segment_rows
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent
from tests.assets.test_usage import seed_usage_targets

DAY = datetime(2026, 11, 20, tzinfo=UTC)


def track(message_id: str, event: str, when: datetime, email: str) -> NewEvent:
    body = {
        "type": "track",
        "event": event,
        "userId": "u-" + email,
        "context": {"traits": {"email": email}},
        "timestamp": when.isoformat().replace("+00:00", "Z"),
        "messageId": message_id,
    }
    return NewEvent("segment", message_id, {}, json.dumps(body).encode(), when)


@pytest.fixture
def seeded(attio: AttioResource) -> AttioResource:
    """Attio with the person and the company the events are about (usage never creates any)."""

    seed_usage_targets(attio)
    return attio


def roll_up(engine: sa.Engine, attio: AttioResource, run_id: str) -> UsageReport:
    async def go() -> UsageReport:
        async with attio.client() as client:
            run = InboxRun(engine, run_id)
            return await roll_up_day(client, engine, run, DAY, DAY + timedelta(days=1))

    return asyncio.run(go())


def person(attio: AttioResource) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        async with attio.client() as client:
            [record] = await client.records.query_all(
                "people", filter={"email_addresses": "ana@acme.example"}
            )
            return {s: first_value(record, s) for s in ("active_days_7", "top_events")}

    return asyncio.run(get())


def test_a_days_events_reach_the_existing_records_once(engine, seeded) -> None:  # type: ignore[no-untyped-def]
    stored = inbox.store_events(
        engine,
        [
            track("m1", "Login", DAY - timedelta(days=2) + timedelta(hours=9), "ana@acme.example"),
            track("m2", "Report Exported", DAY + timedelta(hours=9), "ana@acme.example"),
            track("m3", "Login", DAY + timedelta(hours=10), "bo@acme.example"),  # not in Attio
        ],
    )
    broken = inbox.store_event(
        engine,
        source="segment",
        event_id="broken",
        headers={},
        body=b"{not json",
        received_at=DAY + timedelta(hours=11),
    )
    report = roll_up(engine, seeded, "svc-usage-1")
    assert (report.people, report.companies) == (2, 1)
    assert len(report.with_status("written")) == 2
    assert [o.write.key for o in report.with_status("not_in_attio")] == ["bo@acme.example"]
    assert person(seeded) == {"active_days_7": 2, "top_events": "Login, Report Exported"}
    # The day's two readable rows are done, the unreadable one quarantined; the earlier day's
    # row waits for its own partition.
    assert report.rows_done == 2 and [q[0] for q in report.quarantined] == [broken.id]
    statuses = {r.id: r.status for r in inbox.get_rows(engine, [s.id for s in stored if s.id])}
    assert sorted(statuses.values()) == ["done", "done", "pending"]
    # That row is stuck once it has waited two days.
    assert stuck_segment_rows(engine, now=DAY) == []
    assert stuck_segment_rows(engine, now=DAY + timedelta(days=1)) == [stored[0].id]

    again = roll_up(engine, seeded, "svc-usage-2")
    assert again.with_status("written") == [] and again.unchanged == 2
