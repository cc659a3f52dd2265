"""Pipeline rules through the Attio-events service (no Dagster) against the Attio and Slack
sandboxes over real HTTP, on SQLite and PostgreSQL: the events are the ones the Attio sandbox
logs for the API writes (ids only, one `list-entry.updated` per changed attribute), delivered
three times each, with a system echo and a change of another attribute, under 10% faults on
both APIs. Each rule's Slack post and task happen once per transition."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from revops_pipelines.config import ConfigError, load_model
from revops_pipelines.domain.pipeline_rules import PipelineRules
from revops_pipelines.services.attio_events.batch import ATTIO_SOURCES
from revops_pipelines.services.attio_events.pipelines import PipelineRulesError
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent
from revops_pipelines.store.tables import pipeline_stage_state
from tests.services.events_harness import (
    ROUTING,
    RULES,
    api,
    clear_faults,
    company_with_owner,
    deliver_new_events,
    drain,
    faults,
    handle_once,
    make_world,
    set_stage,
    tasks_on,
)

DEALS_CHANNEL = "deals"


@pytest.fixture
def world(engine, attio_sandbox, slack_sandbox) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return make_world(engine, attio_sandbox, slack_sandbox)


def test_an_entry_moved_to_proposal_posts_once_and_gives_the_owner_one_task(world) -> None:  # type: ignore[no-untyped-def]
    company, owner = company_with_owner(world, "Orbital Freight")
    entry = set_stage(world, company, "Qualified")
    deliver_new_events(world)
    drain(world)
    assert world["slack_sandbox"].messages(DEALS_CHANNEL) == []  # Qualified fires nothing

    set_stage(world, company, "Proposal")
    assert deliver_new_events(world) >= 1
    faults(world, seed=7)
    try:
        batches = drain(world)
    finally:
        clear_faults(world)
    assert sum(world["sandbox"].stats()["faults_injected"].values()) > 0
    assert sum(b.handling.pipelines.transitions for b in batches) >= 1
    [message] = world["slack_sandbox"].messages(DEALS_CHANNEL)
    assert "Orbital Freight moved to Proposal in Sales pipeline" in message["text"]
    [task] = tasks_on(world, company)
    assert task["assignees"] == [
        {"referenced_actor_type": "workspace-member", "referenced_actor_id": owner}
    ]
    assert "follow up on the proposal" in task["content_plaintext"]
    # Two business days later at 9:00 in the owner's time zone (a rep of routing.yaml).
    member = next(m for m in world["sandbox"].members() if m["id"]["workspace_member_id"] == owner)
    rep = ROUTING.rep(member["email_address"])
    deadline = datetime.fromisoformat(task["deadline_at"].replace("Z", "+00:00"))
    local = deadline.astimezone(ZoneInfo(rep.time_zone))
    assert (local.hour, local.minute) == (9, 0) and local.weekday() < 5
    assert timedelta(days=1) < deadline - datetime.now(UTC)
    with world["engine"].connect() as connection:
        [state] = connection.execute(sa.select(pipeline_stage_state)).mappings().all()
    assert (state["entry_id"], state["stage_title"]) == (entry, "Proposal")

    # The same move delivered again later, and a retried run: nothing new.
    world["delivered"] -= 1
    deliver_new_events(world)
    later = drain(world)
    assert sum(b.handling.pipelines.actions_done for b in later) == 0
    assert len(world["slack_sandbox"].messages(DEALS_CHANNEL)) == 1
    assert len(tasks_on(world, company)) == 1

    # Out of Proposal and back: a new transition, acted on once more.
    set_stage(world, company, "Qualified")
    set_stage(world, company, "Proposal")
    deliver_new_events(world)
    drain(world)
    assert len(world["slack_sandbox"].messages(DEALS_CHANNEL)) == 2
    assert len(tasks_on(world, company)) == 2


def test_a_run_that_failed_after_posting_posts_no_second_message(world) -> None:  # type: ignore[no-untyped-def]
    company, _ = company_with_owner(world, "Retry Rockets")
    set_stage(world, company, "Proposal")
    deliver_new_events(world, burst=False)
    world["sandbox"].faults.configure(
        {"rate": 1.0, "kinds": ["500"], "methods": ["POST"], "path": "tasks$", "seed": 1}
    )
    try:
        failed = handle_once(world, "fails-at-task", RULES)
    finally:
        world["sandbox"].faults.clear()
    assert failed.errors and len(world["slack_sandbox"].messages(DEALS_CHANNEL)) == 1
    assert tasks_on(world, company) == []
    drain(world)
    assert len(world["slack_sandbox"].messages(DEALS_CHANNEL)) == 1
    assert len(tasks_on(world, company)) == 1


def test_unknown_lists_and_deleted_entries_are_counted_and_skipped(world) -> None:  # type: ignore[no-untyped-def]
    company, _ = company_with_owner(world, "Ghost Cargo")
    entry = set_stage(world, company, "Proposal")
    created = world["sandbox"].webhook_events(world["delivered"])
    api(world, lambda client: client.lists.delete_entry("sales_pipeline", entry))
    deliver_new_events(world)  # created, then deleted: the entry is gone when we read it
    workspace = created[0]["id"]["workspace_id"]
    unknown = {
        "event_type": "list-entry.updated",
        "id": {"workspace_id": workspace, "list_id": "no-such-list", "entry_id": "e1"},
        "actor": {"type": "workspace-member", "id": "m1"},
    }
    body = json.dumps({"webhook_id": "wh-1", "events": [unknown]}).encode()
    inbox.store_events(world["engine"], [NewEvent("attio", "k-unknown", {}, body)])
    [batch] = drain(world)
    assert batch.errors == []
    skipped = batch.handling.pipelines.skipped
    assert skipped["unknown list"] == 1 and skipped["entry not found"] == 1
    assert world["slack_sandbox"].messages(DEALS_CHANNEL) == [] and tasks_on(world, company) == []
    assert inbox.count_by_status(world["engine"], list(ATTIO_SOURCES))["done"] >= 2


def test_a_rule_naming_a_stage_the_workspace_lacks_stops_before_any_write(world) -> None:  # type: ignore[no-untyped-def]
    company, _ = company_with_owner(world, "Nowhere Logistics")
    set_stage(world, company, "Proposal")
    deliver_new_events(world)
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
        handle_once(world, "bad-rules", bad)
    assert "no stage 'Negotiation'" in str(raised.value) and "no list 'renewals'" in str(
        raised.value
    )
    assert world["slack_sandbox"].messages(DEALS_CHANNEL) == [] and tasks_on(world, company) == []
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
