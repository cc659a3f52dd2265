"""Two-way fields end to end over real HTTP: a person edits a synced company in Attio, Attio's
webhooks (one `record.updated` per attribute, a system echo, redeliveries) reach the receiver,
`attio_inbox_sensor` runs `attio_events_job`, and the change lands on the Salesforce account
once, with no ping-pong back into Attio; a change on both sides is recorded as a conflict and
settled by the configured winner."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from revops_pipelines.assets.salesforce_sync import FIELD_MAPPING
from revops_pipelines.domain.attio_values import first_value, select_title
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.company_sync.sync import SYNC_NAME
from revops_pipelines.services.two_way import TwoWayWriteBack
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.tables import sync_conflicts, sync_log, sync_state, webhook_digests
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_sandbox.server import serve_in_thread
from tests.assets.inbox_runs import meta, run_sensor
from tests.assets.sync_harness import materialize_days
from tests.webhooks.helpers import sign

SECRET = "two-way-attio-secret"


@pytest.fixture
def world(sync_world) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    sf, attio, res, instance, db_url = sync_world(accounts=24, seed=11)
    synced = materialize_days("2026-11-16", "2026-11-20", res, instance)
    assert synced.success
    engine = store_engine.get_engine(db_url)
    settings = ReceiverSettings(database_url=db_url, secrets={"attio": SECRET})
    with serve_in_thread(create_app(settings)) as receiver:
        yield {
            "sf": sf,
            "attio": attio,
            "resources": {**res, "slack": SlackResource()},
            "instance": instance,
            "engine": engine,
            "receiver": receiver.url,
            "delivered": 0,
        }


# --- helpers --------------------------------------------------------------------------------
def synced_company(world: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(Salesforce Id, Attio record id, Attio record) of a synced company with an industry."""
    with world["engine"].connect() as connection:
        rows = connection.execute(
            sa.select(sync_state.c.source_id, sync_state.c.attio_record_id)
            .where(sync_state.c.sync_name == SYNC_NAME, sync_state.c.status == "ok")
            .where(sync_state.c.attio_record_id.is_not(None))
            .order_by(sync_state.c.source_id)
        ).all()
    records = {r["id"]["record_id"]: r for r in world["attio"].records("companies")}
    for source_id, record_id in rows:
        record = records.get(record_id)
        if (
            record
            and select_title(record, "industry")
            and not world["sf"].account(source_id)["IsDeleted"]
        ):
            return source_id, record_id, record
    raise AssertionError("the sync left no company with an industry")


def other_option(current: str | None, *avoid: str | None) -> str:
    return next(
        t for t in ("Healthcare", "Energy", "Retail", "Media") if t not in (current, *avoid)
    )


def deliver(world: dict[str, Any], events: list[dict[str, Any]], prefix: str) -> list[int]:
    """Each event in its own signed delivery (as Attio sends today), keyed `prefix-i`."""
    statuses = []
    for i, event in enumerate(events):
        body = json.dumps({"webhook_id": "wh-two-way", "events": [event]}).encode()
        headers = {
            "Attio-Signature": sign("attio", SECRET, body),
            "Idempotency-Key": f"{prefix}-{i}",
        }
        response = httpx.post(f"{world['receiver']}/webhooks/attio", content=body, headers=headers)
        statuses.append(response.status_code)
    return statuses


def new_events(world: dict[str, Any]) -> list[dict[str, Any]]:
    events = world["attio"].webhook_events(world["delivered"])
    world["delivered"] += len(events)
    return events


def patches(world: dict[str, Any]) -> int:
    return world["sf"].counts["account_updates"]


def conflicts(world: dict[str, Any], source_id: str) -> list[Any]:
    with world["engine"].connect() as connection:
        return connection.execute(
            sa.select(sync_conflicts).where(sync_conflicts.c.source_id == source_id)
        ).all()


def member(world: dict[str, Any]) -> str:
    return world["attio"].members()[0]["id"]["workspace_member_id"]


def change_both_sides(world: dict[str, Any]) -> tuple[str, str, str | None, str, str]:
    """A rep sets a synced company's industry in Attio; Salesforce gets another one, stamped an
    hour later. (Salesforce Id, Attio record id, the agreed industry, Attio's, Salesforce's)."""
    source_id, record_id, record = synced_company(world)
    current = select_title(record, "industry")
    attio_choice = other_option(current)
    sf_choice = other_option(current, attio_choice)
    world["attio"].edit_as_member("companies", record_id, {"industry": attio_choice}, member(world))
    later = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    world["sf"].update_account(
        source_id,
        {"Industry": sf_choice, "LastModifiedDate": later, "SystemModstamp": later},
        admin=True,
    )
    return source_id, record_id, current, attio_choice, sf_choice


# --- tests ----------------------------------------------------------------------------------
def test_an_attio_edit_burst_is_written_back_once_and_never_echoes(world) -> None:  # type: ignore[no-untyped-def]
    attio, sf = world["attio"], world["sf"]
    source_id, record_id, record = synced_company(world)
    new_industry = other_option(select_title(record, "industry"))
    new_employees = (first_value(record, "employee_count") or 0) + 17
    new_events(world)  # what the sync's own writes caused is not part of this change
    attio.edit_as_member(
        "companies",
        record_id,
        {
            "industry": new_industry,
            "employee_count": new_employees,
            "description": "Edited by a rep in Attio",
            "annual_revenue": 9_999_999,
            "name": "Renamed in Attio",
        },
        member(world),
    )
    burst = new_events(world)
    assert [e["event_type"] for e in burst] == ["record.updated"] * 5
    assert {e["actor"]["type"] for e in burst} == {"workspace-member"}
    echo = {**burst[0], "actor": {"type": "system", "id": None}}
    events = [*burst, echo]
    before = patches(world)

    assert deliver(world, events, "burst") == [202] * 6
    assert deliver(world, events, "burst") == [200] * 6  # Attio's redelivery: duplicates
    [result] = run_sensor(world)
    assert result.success
    m = meta(result)
    assert (m["unique_events"], m["salesforce_patches"], m["two_way_conflicts"]) == (1, 1, 0)
    assert patches(world) == before + 1
    account = sf.account(source_id)
    assert account["Industry"] == new_industry
    assert account["NumberOfEmployees"] == new_employees

    # The same bodies under new keys within the replay window are duplicates at the door (issue
    # 15). Past the window (a batch Attio split differently, much later) they are stored, and the
    # write-back's own consequences change nothing more.
    assert deliver(world, events, "replayed") == [200] * 6
    with world["engine"].begin() as connection:
        connection.execute(
            sa.update(webhook_digests).values(seen_at=datetime.now(UTC) - timedelta(minutes=6))
        )
    assert deliver(world, events, "again") == [202] * 6
    [again] = run_sensor(world)
    assert again.success and meta(again)["salesforce_patches"] == 0
    assert patches(world) == before + 1
    assert new_events(world) == []  # nothing was written to Attio

    # No ping-pong: the next incremental sync reads the patched account and writes nothing.
    stamp = account["SystemModstamp"].date().isoformat()
    synced = materialize_days(stamp, stamp, world["resources"], world["instance"])
    assert synced.success
    with world["engine"].connect() as connection:
        logged = connection.execute(
            sa.select(sync_log.c.operation).where(
                sync_log.c.source_id == source_id, sync_log.c.run_id == synced.run_id
            )
        ).all()
    assert logged == []  # the account was unchanged for the sync: no Attio write for it
    assert not [e for e in new_events(world) if e["id"]["record_id"] == record_id]
    now = {r["id"]["record_id"]: r for r in attio.records("companies")}[record_id]
    assert select_title(now, "industry") == new_industry
    assert first_value(now, "description") == "Edited by a rep in Attio"


def test_a_change_on_both_sides_is_a_conflict_the_later_write_wins(world) -> None:  # type: ignore[no-untyped-def]
    attio = world["attio"]
    new_events(world)
    source_id, record_id, current, attio_choice, sf_choice = change_both_sides(world)
    before = patches(world)

    deliver(world, new_events(world), "conflict")
    [result] = run_sensor(world)
    assert result.success
    assert meta(result)["two_way_conflicts"] == 1
    [conflict] = conflicts(world, source_id)
    assert (conflict.attribute, conflict.winner) == ("industry", "salesforce")
    assert (conflict.attio_value, conflict.salesforce_value) == (attio_choice, sf_choice)
    assert conflict.base_value == current
    assert patches(world) == before  # Salesforce won: nothing written to it
    now = {r["id"]["record_id"]: r for r in attio.records("companies")}[record_id]
    assert select_title(now, "industry") == sf_choice  # Attio now holds the winner

    # Our own write to Attio comes back as a webhook: it changes nothing, and the conflict is
    # not recorded twice.
    echoes = new_events(world)
    assert [e["actor"]["type"] for e in echoes] == ["api-token"]
    deliver(world, echoes, "echo")
    [echo_run] = run_sensor(world)
    assert echo_run.success and meta(echo_run)["salesforce_patches"] == 0
    assert len(conflicts(world, source_id)) == 1 and patches(world) == before
    assert new_events(world) == []


def test_the_configured_winner_overrides_the_later_write(world) -> None:  # type: ignore[no-untyped-def]
    sf = world["sf"]
    source_id, record_id, _, attio_choice, _ = change_both_sides(world)
    attio_wins = FIELD_MAPPING.model_copy(update={"conflict_winner": "attio"})
    resource: AttioResource = world["resources"]["attio"]

    async def write_back() -> TwoWayWriteBack:
        async with resource.client() as client:
            runner = TwoWayWriteBack(
                client,
                world["engine"],
                world["resources"]["salesforce"],
                attio_wins,
                run_id="manual",
            )
            await runner.company_changed(record_id)
            return runner

    runner = asyncio.run(write_back())
    assert (runner.report.conflicts, runner.report.salesforce_patches) == (1, 1)
    [conflict] = conflicts(world, source_id)
    assert conflict.winner == "attio" and "configured winner" in conflict.reason
    assert sf.account(source_id)["Industry"] == attio_choice


def test_a_sync_before_the_write_back_keeps_the_attio_edit(world) -> None:  # type: ignore[no-untyped-def]
    attio, sf = world["attio"], world["sf"]
    source_id, record_id, record = synced_company(world)
    attio_choice = other_option(select_title(record, "industry"))
    new_events(world)
    attio.edit_as_member("companies", record_id, {"industry": attio_choice}, member(world))
    edit = new_events(world)
    # Salesforce changes another field; the sync runs before Attio's webhook is handled.
    account = sf.update_account(source_id, {"Name": "Renamed in Salesforce"})
    day = account["SystemModstamp"].date().isoformat()
    assert materialize_days(day, day, world["resources"], world["instance"]).success
    now = {r["id"]["record_id"]: r for r in attio.records("companies")}[record_id]
    assert first_value(now, "name") == "Renamed in Salesforce"
    assert select_title(now, "industry") == attio_choice  # not overwritten by the stale value

    deliver(world, edit, "late")
    [result] = run_sensor(world)
    assert result.success and meta(result)["salesforce_patches"] == 1
    assert sf.account(source_id)["Industry"] == attio_choice
    assert conflicts(world, source_id) == []
