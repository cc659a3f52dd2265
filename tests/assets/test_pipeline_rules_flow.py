"""A pipeline rule end to end, the way production runs it: an entry of `sales_pipeline` moved to
`Proposal` in the Attio sandbox -> the sandbox's own `list-entry.*` events, signed and delivered
to the receiver as Attio bursts them -> `attio_inbox_sensor` -> `attio_events_job` -> one post in
`#deals` and one task for the company's owner, under 10% faults on Attio and Slack, with failed
runs handed back the way `inbox_run_failure_sensor` does. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from revops_pipelines.sensors.inbox import release_run_batch
from revops_pipelines.store import inbox
from revops_pipelines.store.tables import webhook_digests
from tests.assets.attio_world import attio, attio_world, deliver
from tests.assets.inbox_runs import run_sensor
from tests.services.events_harness import create_company_with_owner

DEALS = "deals"
FAULTS = {"rate": 0.1, "kinds": ["500", "503", "drop_after_apply"]}


@pytest.fixture
def world(slack_sandbox, attio_sandbox, db_url, dagster_instance, monkeypatch):  # type: ignore[no-untyped-def]
    # Handed-back rows retry after a fraction of a second, so a faulty run is retried at once.
    monkeypatch.setenv("REVOPS_INBOX_RETRY_BASE_SECONDS", "0.2")
    monkeypatch.setenv("REVOPS_INBOX_RETRY_MAX_SECONDS", "0.5")
    with attio_world(slack_sandbox, attio_sandbox, db_url, dagster_instance, monkeypatch) as w:
        w["delivered"] = len(attio_sandbox.webhook_events())
        yield w


def company_with_owner(world: dict[str, Any], name: str) -> tuple[str, str]:
    """A company whose `owner` (actor reference) is a workspace member: (record id, member id)."""
    member = world["attio"].members()[1]["id"]["workspace_member_id"]
    return attio(world, lambda client: create_company_with_owner(client, name, member)), member


def move_to(world: dict[str, Any], company: str, stage: str) -> None:
    attio(
        world,
        lambda client: client.lists.assert_entry(
            "sales_pipeline",
            parent_object="companies",
            parent_record_id=company,
            entry_values={"stage": stage},
        ),
    )


def forward_events(world: dict[str, Any], tag: str) -> int:
    """Deliver the sandbox's new events as Attio bursts them: each three times under its key,
    plus its system echo and another attribute's update of the same entry.

    Attio's bodies name the entry and attribute, not the value, so a later move of the same
    entry has the body of an earlier one: the earlier digests are aged past the replay window
    first, as minutes between two real moves would."""
    aged = datetime.now(UTC) - timedelta(minutes=6)
    with world["engine"].begin() as connection:
        connection.execute(sa.update(webhook_digests).values(seen_at=aged))
    events = world["attio"].webhook_events(world["delivered"])
    world["delivered"] += len(events)
    for i, event in enumerate(events):
        key = f"{tag}-{i}"
        for _ in range(3):
            assert deliver(world, key, event) in (200, 202)
        if event["event_type"] == "list-entry.updated":
            echo = {**event, "actor": {"type": "system", "id": None}}
            other = {**event, "id": {**event["id"], "attribute_id": "other-attribute"}}
            deliver(world, f"{key}-burst", echo, other)
    return len(events)


def drain(world: dict[str, Any], *, timeout: float = 60.0) -> int:
    """Sensor ticks until no Attio row is pending or processing; failed runs hand their rows
    back. Returns the number of failed runs."""
    failed, deadline = 0, time.monotonic() + timeout
    while True:
        counts = inbox.count_by_status(world["engine"], ["attio"])
        if counts["pending"] + counts["processing"] == 0:
            return failed
        assert time.monotonic() < deadline, f"the Attio inbox did not drain: {counts}"
        for result in run_sensor(world):
            if not result.success:
                failed += 1
                run = world["instance"].get_run_by_id(result.run_id)
                release_run_batch(world["engine"], run, "failed: injected fault")
        time.sleep(0.2)


def tasks_on(world: dict[str, Any], record: str) -> list[dict[str, Any]]:
    return [
        t
        for t in world["attio"].tasks()
        if any(link["target_record_id"] == record for link in t["linked_records"])
    ]


def test_an_entry_moved_to_proposal_acts_once_through_the_sensor_under_bursts_and_faults(
    world,  # type: ignore[no-untyped-def]
) -> None:
    company, owner = company_with_owner(world, "Orbital Freight")
    move_to(world, company, "Qualified")
    assert forward_events(world, "qualified") >= 1
    drain(world)
    assert world["slack"].messages(DEALS) == []  # no rule for Qualified

    move_to(world, company, "Proposal")
    assert forward_events(world, "proposal") >= 1
    world["attio"].faults.configure({**FAULTS, "seed": 3})
    world["slack"].faults.configure({**FAULTS, "kinds": ["500", "drop_after_apply"], "seed": 3})
    try:
        drain(world)
    finally:
        world["attio"].faults.clear()
        world["slack"].faults.clear()
    injected = sum(world["attio"].stats()["faults_injected"].values())
    assert injected > 0, "no fault was injected: the test proved nothing"

    [message] = world["slack"].messages(DEALS)
    assert "Orbital Freight moved to Proposal in Sales pipeline" in message["text"]
    [task] = tasks_on(world, company)
    assert task["assignees"] == [
        {"referenced_actor_type": "workspace-member", "referenced_actor_id": owner}
    ]
    counts = inbox.count_by_status(world["engine"], ["attio"])
    assert counts["failed"] == 0 and counts["done"] >= 1

    # Out of Proposal and back in: a new transition, acted on once more.
    move_to(world, company, "Qualified")
    move_to(world, company, "Proposal")
    forward_events(world, "again")
    drain(world)
    assert len(world["slack"].messages(DEALS)) == 2
    assert len(tasks_on(world, company)) == 2
