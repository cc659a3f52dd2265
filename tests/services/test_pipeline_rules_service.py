"""Pipeline rules through the Attio-events service (no Dagster) against the Attio and Slack
sandboxes over real HTTP, on SQLite and PostgreSQL: the events are the ones the Attio sandbox
logs for the API writes (ids only, one `list-entry.updated` per changed attribute), delivered
three times each, with a system echo and a change of another attribute, under 10% faults on
both APIs. Each rule's Slack post and task happen once per transition."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from revops_pipelines.config import ConfigError, config_path, load_model
from revops_pipelines.domain.pipeline_rules import PipelineRules
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.attio_events.batch import (
    ATTIO_SOURCES,
    AttioEventsBatch,
    handle_attio_events,
)
from revops_pipelines.services.attio_events.pipelines import PipelineRulesError
from revops_pipelines.services.inbox import InboxRun, release_failed_run
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent
from revops_pipelines.store.tables import pipeline_stage_state
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN
from tests.conftest import ATTIO_TEST_KEY
from tests.services.conftest import DEALS, FAST_ATTIO, MAPPING

RULES = load_model(config_path("pipelines.yaml"), PipelineRules)
DEALS_CHANNEL = "deals"


@pytest.fixture
def world(engine, attio_sandbox, slack_sandbox) -> dict[str, Any]:  # type: ignore[no-untyped-def]
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


def _api(world: dict[str, Any], action: Any) -> Any:
    async def go() -> Any:
        async with world["attio"].client() as client:
            return await action(client)

    return asyncio.run(go())


def _company_with_owner(world: dict[str, Any], name: str) -> tuple[str, str]:
    """(company record id, owner member id): the company's `owner` is a workspace member."""
    member = world["sandbox"].members()[1]["id"]["workspace_member_id"]

    async def go(client: Any) -> str:
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
                "owner": {
                    "referenced_actor_type": "workspace-member",
                    "referenced_actor_id": member,
                },
            },
        )
        return company["id"]["record_id"]

    return _api(world, go), member


def _set_stage(world: dict[str, Any], company: str, stage: str) -> str:
    """Put the company on sales_pipeline at `stage` (assert by parent); the entry id."""

    async def go(client: Any) -> str:
        entry = await client.lists.assert_entry(
            "sales_pipeline",
            parent_object="companies",
            parent_record_id=company,
            entry_values={"stage": stage},
        )
        return entry["id"]["entry_id"]

    return _api(world, go)


def _deliver_new_events(world: dict[str, Any], *, burst: bool = True) -> int:
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


def _handle_once(world: dict[str, Any], run_id: str, rules: PipelineRules) -> AttioEventsBatch:
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


def _drain(world: dict[str, Any], rules: PipelineRules = RULES) -> list[AttioEventsBatch]:
    """Runs until no Attio row is pending (the way the sensor retries failed batches)."""
    batches: list[AttioEventsBatch] = []
    for attempt in range(20):
        if inbox.count_by_status(world["engine"], list(ATTIO_SOURCES))["pending"] == 0:
            return batches
        try:
            batches.append(_handle_once(world, f"run-{world['keys']}-{attempt}", rules))
        except Exception:  # a fault outside the per-entry handling: the rows went back
            continue
    raise AssertionError("the inbox did not drain in 20 runs")


def _faults(world: dict[str, Any], seed: int) -> None:
    spec = {"rate": 0.1, "kinds": ["500", "503", "drop_after_apply"], "seed": seed}
    world["sandbox"].faults.configure(spec)
    world["slack_sandbox"].faults.configure({**spec, "kinds": ["500", "drop_after_apply"]})


def _clear_faults(world: dict[str, Any]) -> None:
    world["sandbox"].faults.clear()
    world["slack_sandbox"].faults.clear()


def _tasks_on(world: dict[str, Any], company: str) -> list[dict[str, Any]]:
    return [
        t
        for t in world["sandbox"].tasks()
        if any(link["target_record_id"] == company for link in t["linked_records"])
    ]


def test_an_entry_moved_to_proposal_posts_once_and_gives_the_owner_one_task(world) -> None:  # type: ignore[no-untyped-def]
    company, owner = _company_with_owner(world, "Orbital Freight")
    entry = _set_stage(world, company, "Qualified")
    _deliver_new_events(world)
    _drain(world)
    assert world["slack_sandbox"].messages(DEALS_CHANNEL) == []  # Qualified fires nothing

    _set_stage(world, company, "Proposal")
    assert _deliver_new_events(world) >= 1
    _faults(world, seed=7)
    try:
        batches = _drain(world)
    finally:
        _clear_faults(world)
    assert sum(world["sandbox"].stats()["faults_injected"].values()) > 0
    assert sum(b.handling.pipelines.transitions for b in batches) >= 1
    [message] = world["slack_sandbox"].messages(DEALS_CHANNEL)
    assert "Orbital Freight moved to Proposal in Sales pipeline" in message["text"]
    [task] = _tasks_on(world, company)
    assert task["assignees"] == [
        {"referenced_actor_type": "workspace-member", "referenced_actor_id": owner}
    ]
    assert "follow up on the proposal" in task["content_plaintext"]
    deadline = datetime.fromisoformat(task["deadline_at"].replace("Z", "+00:00"))
    assert deadline.weekday() < 5 and timedelta(days=1) < deadline - datetime.now(UTC)
    with world["engine"].connect() as connection:
        [state] = connection.execute(sa.select(pipeline_stage_state)).mappings().all()
    assert (state["entry_id"], state["stage_title"]) == (entry, "Proposal")

    # The same move delivered again later, and a retried run: nothing new.
    world["delivered"] -= 1
    _deliver_new_events(world)
    later = _drain(world)
    assert sum(b.handling.pipelines.actions_done for b in later) == 0
    assert len(world["slack_sandbox"].messages(DEALS_CHANNEL)) == 1
    assert len(_tasks_on(world, company)) == 1

    # Out of Proposal and back: a new transition, acted on once more.
    _set_stage(world, company, "Qualified")
    _set_stage(world, company, "Proposal")
    _deliver_new_events(world)
    _drain(world)
    assert len(world["slack_sandbox"].messages(DEALS_CHANNEL)) == 2
    assert len(_tasks_on(world, company)) == 2


def test_a_run_that_failed_after_posting_posts_no_second_message(world) -> None:  # type: ignore[no-untyped-def]
    company, _ = _company_with_owner(world, "Retry Rockets")
    _set_stage(world, company, "Proposal")
    _deliver_new_events(world, burst=False)
    world["sandbox"].faults.configure(
        {"rate": 1.0, "kinds": ["500"], "methods": ["POST"], "path": "tasks$", "seed": 1}
    )
    try:
        failed = _handle_once(world, "fails-at-task", RULES)
    finally:
        world["sandbox"].faults.clear()
    assert failed.errors and len(world["slack_sandbox"].messages(DEALS_CHANNEL)) == 1
    assert _tasks_on(world, company) == []
    _drain(world)
    assert len(world["slack_sandbox"].messages(DEALS_CHANNEL)) == 1
    assert len(_tasks_on(world, company)) == 1


def test_unknown_lists_and_deleted_entries_are_counted_and_skipped(world) -> None:  # type: ignore[no-untyped-def]
    company, _ = _company_with_owner(world, "Ghost Cargo")
    entry = _set_stage(world, company, "Proposal")
    created = world["sandbox"].webhook_events(world["delivered"])
    _api(world, lambda client: client.lists.delete_entry("sales_pipeline", entry))
    _deliver_new_events(world)  # created, then deleted: the entry is gone when we read it
    workspace = created[0]["id"]["workspace_id"]
    unknown = {
        "event_type": "list-entry.updated",
        "id": {"workspace_id": workspace, "list_id": "no-such-list", "entry_id": "e1"},
        "actor": {"type": "workspace-member", "id": "m1"},
    }
    body = json.dumps({"webhook_id": "wh-1", "events": [unknown]}).encode()
    inbox.store_events(world["engine"], [NewEvent("attio", "k-unknown", {}, body)])
    [batch] = _drain(world)
    assert batch.errors == []
    skipped = batch.handling.pipelines.skipped
    assert skipped["unknown list"] == 1 and skipped["entry not found"] == 1
    assert world["slack_sandbox"].messages(DEALS_CHANNEL) == [] and _tasks_on(world, company) == []
    assert inbox.count_by_status(world["engine"], list(ATTIO_SOURCES))["done"] >= 2


def test_a_rule_naming_a_stage_the_workspace_lacks_stops_before_any_write(world) -> None:  # type: ignore[no-untyped-def]
    company, _ = _company_with_owner(world, "Nowhere Logistics")
    _set_stage(world, company, "Proposal")
    _deliver_new_events(world)
    bad = PipelineRules.model_validate(
        {
            "rules": [
                {
                    "name": "good",
                    "list": "sales_pipeline",
                    "to_stage": "Proposal",
                    "slack": {"channel": "#deals"},
                },
                {
                    "name": "typo",
                    "list": "sales_pipeline",
                    "to_stage": "Negotiation",
                    "slack": {"channel": "#deals"},
                },
                {
                    "name": "gone",
                    "list": "renewals",
                    "to_stage": "Won",
                    "slack": {"channel": "#deals"},
                },
            ]
        }
    )
    with pytest.raises(PipelineRulesError) as raised:
        _handle_once(world, "bad-rules", bad)
    assert "no stage 'Negotiation'" in str(raised.value) and "no list 'renewals'" in str(
        raised.value
    )
    assert world["slack_sandbox"].messages(DEALS_CHANNEL) == [] and _tasks_on(world, company) == []
    assert inbox.count_by_status(world["engine"], list(ATTIO_SOURCES))["pending"] > 0


def test_a_bad_rule_is_refused_with_the_file_and_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "pipelines.yaml"
    path.write_text(
        "rules:\n"
        "  - name: proposal_sent\n"
        "    list: sales_pipeline\n"
        "    to_stage: Proposal\n"
        "    task:\n"
        "      due_business_days: -1\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_model(path, PipelineRules)
    assert f"{path}:6: rules[0].task.due_business_days" in str(raised.value)
    path.write_text("rules:\n  - name: no_action\n    list: l\n    to_stage: S\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r":2: rules\[0\].*needs an action"):
        load_model(path, PipelineRules)
