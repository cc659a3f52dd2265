"""Shared by the Attio-events service tests: the sandboxes' clients, the Attio sandbox's logged
events delivered into the inbox the way Attio delivers them (redeliveries, bursts, echoes), and
runs of the service until the inbox drains (failed batches handed back, as the sensor does)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.pipeline_rules import PipelineRules
from revops_pipelines.domain.routing_config import RoutingConfig
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.attio_events.batch import (
    ATTIO_SOURCES,
    AttioEventsBatch,
    handle_attio_events,
)
from revops_pipelines.services.inbox import InboxRun, release_failed_run
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN
from tests.conftest import ATTIO_TEST_KEY
from tests.services.conftest import DEALS, FAST_ATTIO, MAPPING

RULES = load_model(config_path("pipelines.yaml"), PipelineRules)
ROUTING = load_model(config_path("routing.yaml"), RoutingConfig)


def make_world(engine: Any, attio_sandbox: Any, slack_sandbox: Any) -> dict[str, Any]:
    """The clients and sandboxes of one events test, and its delivery position."""
    attio = AttioResource(
        api_key=ATTIO_TEST_KEY,
        base_url=attio_sandbox.api_url,
        max_attempts=3,
        max_total_wait_seconds=1.0,
        **FAST_ATTIO,
    )
    attio_sandbox.configure(write_rate=200.0, read_rate=400.0)
    slack = SlackResource(token=SLACK_SANDBOX_TOKEN, base_url=f"{slack_sandbox.url}/api/")
    return {
        "engine": engine,
        "attio": attio,
        "sandbox": attio_sandbox,
        "slack": slack,
        "slack_sandbox": slack_sandbox,
        "delivered": len(attio_sandbox.webhook_events()),
        "keys": 0,
    }


def api(world: dict[str, Any], action: Any) -> Any:
    async def go() -> Any:
        async with world["attio"].client() as client:
            return await action(client)

    return asyncio.run(go())


async def create_company_with_owner(client: Any, name: str, member: str) -> str:
    """An `owner` (actor-reference) attribute on companies, and a company whose owner is the
    workspace member `member`: its record id."""
    await client.workspace.create_attribute(
        "objects",
        "companies",
        {
            "title": "Owner",
            "api_slug": "owner",
            "type": "actor-reference",
            "description": None,
            "is_required": False,
            "is_unique": False,
            "is_multiselect": False,
            "config": {},
        },
    )
    slug = "".join(c for c in name.lower() if c.isalnum())
    company = await client.records.create(
        "companies",
        {
            "name": name,
            "domains": [f"{slug}.example"],
            "owner": {"referenced_actor_type": "workspace-member", "referenced_actor_id": member},
        },
    )
    return company["id"]["record_id"]


def company_with_owner(world: dict[str, Any], name: str) -> tuple[str, str]:
    """(company record id, owner member id): the company's `owner` is a workspace member."""
    member = world["sandbox"].members()[1]["id"]["workspace_member_id"]
    return api(world, lambda client: create_company_with_owner(client, name, member)), member


def set_stage(world: dict[str, Any], company: str, stage: str) -> str:
    """Put the company on sales_pipeline at `stage` (assert by parent); the entry id."""

    async def go(client: Any) -> str:
        entry = await client.lists.assert_entry(
            "sales_pipeline",
            parent_object="companies",
            parent_record_id=company,
            entry_values={"stage": stage},
        )
        return entry["id"]["entry_id"]

    return api(world, go)


def deliver_new_events(world: dict[str, Any], *, burst: bool = True) -> int:
    """Store the sandbox's new events in the inbox as Attio delivers them: each under its
    Idempotency-Key three times (the receiver keeps one), again under a new key (a later
    redelivery), plus a system echo and another attribute's update for each list entry."""
    events = world["sandbox"].webhook_events(world["delivered"])
    world["delivered"] += len(events)
    rows: list[NewEvent] = []
    for event in events:
        extra: list[dict[str, Any]] = [event]
        if burst and event["event_type"] == "list-entry.updated":
            echo = {**event, "actor": {"type": "system", "id": None}}
            other = {**event, "id": {**event["id"], "attribute_id": "other-attribute"}}
            extra += [echo, other]
        for item in extra:
            world["keys"] += 1
            body = json.dumps({"webhook_id": "wh-1", "events": [item]}).encode()
            key = f"k-{world['keys']}"
            rows += [NewEvent("attio", key, {}, body)] * 3 + [
                NewEvent("attio", f"{key}-again", {}, body)
            ]
    inbox.store_events(world["engine"], rows)
    return len(events)


def handle_once(world: dict[str, Any], run_id: str, rules: PipelineRules) -> AttioEventsBatch:
    run = InboxRun(world["engine"], run_id)

    async def go() -> AttioEventsBatch:
        async with world["attio"].client() as client:
            return await handle_attio_events(
                client,
                world["engine"],
                run,
                slack=world["slack"],
                salesforce=SalesforceResource(),
                deals=DEALS,
                mapping=MAPPING,
                pipelines=rules,
                routing=ROUTING,
            )

    try:
        batch = asyncio.run(go())
    except Exception as exc:
        release_failed_run(world["engine"], run_id, [], str(exc), max_attempts=100)
        raise
    if batch.errors:
        release_failed_run(world["engine"], run_id, [], "; ".join(batch.errors), max_attempts=100)
    else:
        run.settle(ATTIO_SOURCES)
    return batch


def drain(world: dict[str, Any], rules: PipelineRules = RULES) -> list[AttioEventsBatch]:
    """Runs until no Attio row is pending (the way the sensor retries failed batches)."""
    batches: list[AttioEventsBatch] = []
    for attempt in range(20):
        if inbox.count_by_status(world["engine"], list(ATTIO_SOURCES))["pending"] == 0:
            return batches
        try:
            batches.append(handle_once(world, f"run-{world['keys']}-{attempt}", rules))
        except Exception:  # a fault outside the per-entry handling: the rows went back
            continue
    raise AssertionError("the inbox did not drain in 20 runs")


def faults(world: dict[str, Any], seed: int) -> None:
    spec = {"rate": 0.1, "kinds": ["500", "503", "drop_after_apply"], "seed": seed}
    world["sandbox"].faults.configure(spec)
    world["slack_sandbox"].faults.configure({**spec, "kinds": ["500", "drop_after_apply"]})


def clear_faults(world: dict[str, Any]) -> None:
    world["sandbox"].faults.clear()
    world["slack_sandbox"].faults.clear()


def tasks_on(world: dict[str, Any], company: str) -> list[dict[str, Any]]:
    return [
        t
        for t in world["sandbox"].tasks()
        if any(link["target_record_id"] == company for link in t["linked_records"])
    ]
