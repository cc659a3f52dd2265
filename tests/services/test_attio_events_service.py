"""The Attio-events service called directly (no Dagster) against the Attio and Slack sandboxes
over real HTTP: a deal moved to won is announced once in Slack and documented once by a note on
the deal, through redeliveries and a retried batch; unreadable deliveries are quarantined."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import sqlalchemy as sa

from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.attio_events.batch import (
    ATTIO_SOURCES,
    AttioEventsBatch,
    handle_attio_events,
)
from revops_pipelines.services.inbox import InboxRun
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent
from revops_pipelines.store.tables import effect_ledger, webhook_inbox
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN
from tests.services.conftest import DEALS, MAPPING

WINS = "sales-wins"


async def _won_deal(client: Any, member: str) -> tuple[dict[str, str], str]:
    """(workspace ids, deal id) of a new deal, then moved to the won stage."""
    objects = {o["api_slug"]: o["id"] for o in await client.workspace.objects()}
    stage = next(
        a["id"]["attribute_id"]
        for a in await client.workspace.attributes("objects", "deals")
        if a["api_slug"] == "stage"
    )
    company = await client.records.create(
        "companies", {"name": "Acme Rockets", "domains": ["rockets.example"]}
    )
    deal = await client.records.create(
        "deals",
        {
            "name": "Rocket fuel",
            "stage": "In Progress",
            "value": 125000,
            "associated_company": {
                "target_object": "companies",
                "target_record_id": company["id"]["record_id"],
            },
            "owner": {"referenced_actor_type": "workspace-member", "referenced_actor_id": member},
        },
    )
    deal_id = deal["id"]["record_id"]
    await client.records.update("deals", deal_id, {"stage": "Won 🎉"})
    ids = {
        "workspace_id": objects["deals"]["workspace_id"],
        "object_id": objects["deals"]["object_id"],
        "record_id": deal_id,
        "attribute_id": stage,
    }
    return ids, deal_id


def _delivery(target: dict[str, str]) -> bytes:
    event = {
        "event_type": "record.updated",
        "id": target,
        "actor": {"type": "workspace-member", "id": "member-1"},
    }
    return json.dumps({"webhook_id": "wh-1", "events": [event]}).encode()


def _handle(engine: sa.Engine, attio: AttioResource, slack: SlackResource, run_id: str) -> Any:
    run = InboxRun(engine, run_id)

    async def go() -> AttioEventsBatch:
        async with attio.client() as client:
            return await handle_attio_events(
                client,
                engine,
                run,
                slack=slack,
                salesforce=SalesforceResource(),
                deals=DEALS,
                mapping=MAPPING,
            )

    return run, asyncio.run(go())


def test_a_won_deal_is_announced_once_and_its_rows_settle(  # type: ignore[no-untyped-def]
    engine, attio, attio_sandbox, slack_sandbox
) -> None:
    slack = SlackResource(token=SLACK_SANDBOX_TOKEN, base_url=f"{slack_sandbox.url}/api/")
    member = attio_sandbox.members()[0]["id"]["workspace_member_id"]

    async def seed() -> tuple[dict[str, str], str]:
        async with attio.client() as client:
            return await _won_deal(client, member)

    target, deal_id = asyncio.run(seed())
    body = _delivery(target)
    inbox.store_events(
        engine,
        [
            NewEvent("attio", "k-stage", {}, body),
            NewEvent("attio", "k-echo", {}, body),  # Attio's redelivery under a new key
            NewEvent("attio", "k-broken", {}, b"not json"),
        ],
    )
    run, batch = _handle(engine, attio, slack, "svc-attio-1")
    assert batch.errors == []
    assert (batch.deliveries, len(batch.events), len(batch.normalized)) == (3, 2, 1)
    assert batch.write_back is None and "not configured" in (batch.write_back_problem or "")
    assert batch.handling.notifications_sent == 1
    [message] = slack_sandbox.messages(WINS)
    assert "Rocket fuel" in message["text"] and "$125,000" in message["text"]
    [note] = [n for n in attio_sandbox.notes() if n["parent_record_id"] == deal_id]
    assert message["ts"] in note["content_plaintext"]
    [broken] = batch.quarantined
    assert broken[1] == "k-broken"
    settled = run.settle(ATTIO_SOURCES)
    assert settled.done == 2 and settled.counts["quarantined"] == 1
    with engine.connect() as connection:
        steps = connection.execute(sa.select(effect_ledger.c.step, effect_ledger.c.status)).all()
    assert steps and {status for _, status in steps} == {"done"}

    # The batch retried from pending: nothing is posted or written twice.
    with engine.begin() as connection:
        connection.execute(
            sa.update(webhook_inbox)
            .where(webhook_inbox.c.status == "done")
            .values(status="pending", claimed_by=None, claimed_at=None, processed_at=None)
        )
    _, again = _handle(engine, attio, slack, "svc-attio-2")
    assert again.deliveries == 2 and again.handling.notifications_sent == 0
    assert len(slack_sandbox.messages(WINS)) == 1
    assert len([n for n in attio_sandbox.notes() if n["parent_record_id"] == deal_id]) == 1
