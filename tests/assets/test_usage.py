"""`product_usage` over the inbox (SQLite and PostgreSQL) and the Attio sandbox over loopback."""

from __future__ import annotations

import asyncio
import importlib
import json
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from revops_pipelines.assets.usage import no_stuck_segment_rows, product_usage
from revops_pipelines.domain.attio_values import first_value
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.store.tables import usage_state
from tests.conftest import ATTIO_TEST_KEY

FAST_ATTIO = {"write_rate_per_second": 200.0, "read_rate_per_second": 400.0}


def track(message_id: str, event: str, when: str, email: str) -> inbox.NewEvent:
    stamp = datetime.fromisoformat(when).replace(tzinfo=UTC)
    body = {
        "type": "track",
        "event": event,
        "userId": "u-" + email,
        "context": {"traits": {"email": email}},
        "timestamp": stamp.isoformat().replace("+00:00", "Z"),
        "messageId": message_id,
    }
    return inbox.NewEvent("segment", message_id, {}, json.dumps(body).encode(), stamp)


def seed_usage_targets(attio: AttioResource) -> None:
    """The person and the company the usage events are about (usage never creates any)."""

    async def seed() -> None:
        async with attio.client() as client:
            await client.records.assert_record(
                "companies",
                matching_attribute="domains",
                values={"domains": ["acme.example"], "name": "Acme"},
            )
            await client.records.assert_record(
                "people",
                matching_attribute="email_addresses",
                values={"email_addresses": ["ana@acme.example"]},
            )

    asyncio.run(seed())


@pytest.fixture
def world(db_url: str, attio_sandbox: Any, dagster_instance: dg.DagsterInstance, monkeypatch):  # type: ignore[no-untyped-def]
    # The Attio budget is kept where a run keeps it without Redis: in the store's database, which
    # the definitions register (here the test's store, on SQLite and on PostgreSQL).
    importlib.import_module("revops_pipelines.definitions")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REVOPS_DATABASE_URL", db_url)
    attio = AttioResource(api_key=ATTIO_TEST_KEY, base_url=attio_sandbox.api_url, **FAST_ATTIO)

    seed_usage_targets(attio)
    resources = {"database": RevopsDatabase(url=db_url), "attio": attio}
    return store_engine.get_engine(db_url), attio, resources, dagster_instance


def run(world: tuple, partition: str) -> dict[str, Any]:  # type: ignore[type-arg]
    _engine, _attio, resources, instance = world
    result = dg.materialize(
        [product_usage], partition_key=partition, resources=resources, instance=instance
    )
    assert result.success
    [mat] = result.asset_materializations_for_node("product_usage")
    return {k: v.value for k, v in mat.metadata.items()}


def attio_values(attio: AttioResource, obj: str, filter_: dict[str, str]) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        async with attio.client() as client:
            [record] = await client.records.query_all(obj, filter=filter_)
            return {
                slug: first_value(record, slug)
                for slug in ("last_seen_at", "active_days_7", "active_days_30", "top_events")
            }

    return asyncio.run(get())


def test_rollup_writes_changes_once_and_settles_the_days_rows(world: tuple) -> None:  # type: ignore[type-arg]
    engine, attio, _resources, _instance = world
    stored = inbox.store_events(
        engine,
        [
            track("m1", "Login", "2026-11-18T09:00:00", "ana@acme.example"),
            track("m2", "Report Exported", "2026-11-20T09:30:00", "ana@acme.example"),
            track("m2", "Report Exported", "2026-11-20T09:30:00", "ana@acme.example"),
            track("m3", "Login", "2026-11-20T10:00:00", "bo@acme.example"),  # not in Attio
        ],
    )
    assert [r.outcome for r in stored] == ["stored", "stored", "duplicate", "stored"]
    # a redelivery arriving later, and an unreadable delivery
    inbox.store_events(engine, [track("m2", "Report Exported", "2026-11-20T09:30:00", "x@y.z")])
    bad = inbox.store_event(
        engine,
        source="segment",
        event_id="broken",
        headers={},
        body=b"{not json",
        received_at=datetime(2026, 11, 20, 11, tzinfo=UTC),
    )

    meta = run(world, "2026-11-20")
    assert meta["track_events"] == 3  # m2 counted once
    assert (meta["people"], meta["companies"]) == (2, 1)
    assert (meta["written"], meta["not_in_attio"], meta["failed"]) == (2, 1, 0)
    assert (meta["inbox_rows_done"], meta["inbox_rows_quarantined"]) == (2, 1)
    # Where the Attio budget was kept (no REDIS_URL: the store's database) and its limits.
    assert meta["rate_budgets"]["attio"]["mode"] == "database"
    assert set(meta["rate_budgets"]["attio"]["limits"]) == {"write", "read"}

    person = attio_values(attio, "people", {"email_addresses": "ana@acme.example"})
    assert person["active_days_7"] == 2 and person["active_days_30"] == 2
    assert person["top_events"] == "Login, Report Exported"
    assert person["last_seen_at"].startswith("2026-11-20T09:30:00")
    company = attio_values(attio, "companies", {"domains": "acme.example"})
    assert company["active_days_30"] == 2 and company["top_events"] == "Login, Report Exported"

    counts = inbox.count_by_status(engine, "segment")
    assert counts == {"pending": 1, "processing": 0, "done": 2, "failed": 0, "quarantined": 1}
    [quarantined] = inbox.rows_with_status(engine, "quarantined", sources="segment")
    assert quarantined.id == bad.id and "not JSON" in (quarantined.last_error or "")

    again = run(world, "2026-11-20")  # nothing changed: nothing written
    assert (again["written"], again["unchanged"], again["not_in_attio"]) == (0, 2, 1)

    older = run(world, "2026-11-19")  # a backfill never overwrites a newer partition's values
    assert (older["written"], older["skipped_newer_partition"]) == (0, 2)
    assert older["inbox_rows_done"] == 0  # nothing was received on the 19th
    with engine.connect() as conn:
        states = set(conn.execute(sa.select(usage_state.c.object, usage_state.c.as_of)))
    assert states == {("companies", date(2026, 11, 20)), ("people", date(2026, 11, 20))}


def test_activity_leaving_the_window_is_zeroed_once(world: tuple) -> None:  # type: ignore[type-arg]
    engine, attio, _resources, _instance = world
    inbox.store_events(engine, [track("m1", "Login", "2026-10-01T09:00:00", "ana@acme.example")])
    assert run(world, "2026-10-01")["written"] == 2
    assert (
        attio_values(attio, "people", {"email_addresses": "ana@acme.example"})["active_days_30"]
        == 1
    )
    later = run(world, "2026-11-19")
    assert later["written"] == 2
    person = attio_values(attio, "people", {"email_addresses": "ana@acme.example"})
    assert (person["active_days_7"], person["active_days_30"], person["top_events"]) == (0, 0, "")
    assert person["last_seen_at"].startswith("2026-10-01T09:00:00")
    following = run(world, "2026-11-20")  # already zero: nothing to write
    assert (following["written"], following["unchanged"]) == (0, 2)


def test_stuck_segment_rows_fail_the_check(world: tuple) -> None:  # type: ignore[type-arg]
    engine, _attio, resources, _instance = world
    database = resources["database"]
    assert no_stuck_segment_rows(database=database).passed
    inbox.store_events(engine, [track("old", "Login", "2026-11-01T09:00:00", "ana@acme.example")])
    result = no_stuck_segment_rows(database=database)
    assert not result.passed and result.metadata["stale_pending"].value == 1
    run(world, "2026-11-01")  # its day rolled up: settled
    assert no_stuck_segment_rows(database=database).passed
