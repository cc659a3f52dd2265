"""The two-way write-back called directly (no Dagster) through the Attio-events service: a rep's
edit of a two-way field on a synced company, delivered by Attio's webhook, is patched onto the
Salesforce account (sandbox, HTTPS) once; the same change delivered again writes nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import sqlalchemy as sa

from revops_pipelines.domain.attio_values import select_title
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.attio_events.batch import ATTIO_SOURCES, handle_attio_events
from revops_pipelines.services.company_sync.sync import SYNC_NAME
from revops_pipelines.services.inbox import InboxRun
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent
from revops_pipelines.store.tables import sync_state
from tests.services.conftest import DEALS, MAPPING, sync


def test_an_attio_edit_of_a_two_way_field_reaches_salesforce_once(  # type: ignore[no-untyped-def]
    company_world, attio_sandbox
) -> None:
    world = company_world
    sync(world, "svc-sync-1")
    engine, sf = world["engine"], world["sf"]
    with engine.connect() as connection:
        pairs = connection.execute(
            sa.select(sync_state.c.source_id, sync_state.c.attio_record_id)
            .where(sync_state.c.sync_name == SYNC_NAME, sync_state.c.status == "ok")
            .where(sync_state.c.attio_record_id.is_not(None))
            .order_by(sync_state.c.source_id)
        ).all()
    records = {r["id"]["record_id"]: r for r in attio_sandbox.records("companies")}
    source_id, record_id = next(
        (s, r)
        for s, r in pairs
        if r in records and select_title(records[r], "industry") and not sf.account(s)["IsDeleted"]
    )
    current = select_title(records[record_id], "industry")
    industry = next(t for t in ("Healthcare", "Energy", "Retail") if t != current)
    seen = len(attio_sandbox.webhook_events(0))
    member = attio_sandbox.members()[0]["id"]["workspace_member_id"]
    attio_sandbox.edit_as_member("companies", record_id, {"industry": industry}, member)
    events = attio_sandbox.webhook_events(seen)
    assert events
    body = json.dumps({"webhook_id": "wh-two-way", "events": events}).encode()
    inbox.store_events(engine, [NewEvent("attio", "two-way-1", {}, body)])
    before = sf.counts["account_updates"]

    def handle(run_id: str) -> Any:
        async def go() -> Any:
            async with world["attio"].client() as client:
                run = InboxRun(engine, run_id)
                batch = await handle_attio_events(
                    client,
                    engine,
                    run,
                    slack=SlackResource(),
                    salesforce=world["salesforce"],
                    deals=DEALS,
                    mapping=MAPPING,
                )
                run.settle(ATTIO_SOURCES)
                return batch

        return asyncio.run(go())

    batch = handle("svc-two-way-1")
    assert batch.errors == [] and batch.write_back is not None
    assert batch.write_back.salesforce_patches == 1
    assert sf.account(source_id)["Industry"] == industry
    assert sf.counts["account_updates"] == before + 1
    # The same change delivered again under a new key writes nothing more.
    inbox.store_events(engine, [NewEvent("attio", "two-way-2", {}, body)])
    again = handle("svc-two-way-2")
    assert again.write_back is not None and again.write_back.salesforce_patches == 0
    assert sf.counts["account_updates"] == before + 1
    assert inbox.count_by_status(engine, "attio")["done"] == 2
