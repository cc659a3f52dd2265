"""Flow B end to end over real HTTP: signed form -> receiver -> sensor -> run -> Attio, Slack,
Outreach; each effect exactly once under redelivery, retried runs and injected faults."""

from __future__ import annotations

import json
import random
from datetime import UTC
from typing import Any

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from revops_pipelines.assets.leads import ROUTING
from revops_pipelines.definitions import defs
from revops_pipelines.domain.attio_values import first_value, record_id
from revops_pipelines.domain.personal_data import mask_email
from revops_pipelines.resources.enrichment import EnrichmentResource
from revops_pipelines.resources.outreach import OutreachResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.sensors.inbox import form_inbox_sensor
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.store.tables import effect_ledger, webhook_inbox
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_sandbox.enrichment import ENRICHMENT_SANDBOX_KEY
from revops_sandbox.form_traffic import typeform_delivery
from revops_sandbox.outreach import OUTREACH_SANDBOX_TOKEN
from revops_sandbox.server import serve_in_thread
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN
from tests.assets.inbox_runs import run_sensor

SECRET = "test-typeform-secret"
ALL_WRITES = ["POST", "PUT", "PATCH", "DELETE"]


@pytest.fixture
def world(side_systems, attio_sandbox, db_url, dagster_instance, monkeypatch):  # type: ignore[no-untyped-def]
    for sandbox, _ in side_systems.values():
        sandbox.reset()
    monkeypatch.setenv("ATTIO_API_KEY", "sandbox-attio-key")
    monkeypatch.setenv("ATTIO_BASE_URL", attio_sandbox.api_url)
    monkeypatch.setenv(store_engine.DATABASE_URL_ENV, db_url)
    slack, slack_url = side_systems["slack"]
    outreach, outreach_url = side_systems["outreach"]
    enrichment, enrichment_url = side_systems["enrichment"]
    resources = {
        "database": RevopsDatabase(url=db_url),
        "slack": SlackResource(token=SLACK_SANDBOX_TOKEN, base_url=f"{slack_url}/api/"),
        "outreach": OutreachResource(
            access_token=OUTREACH_SANDBOX_TOKEN, base_url=f"{outreach_url}/api/v2", mailbox_id="1"
        ),
        "enrichment": EnrichmentResource(api_key=ENRICHMENT_SANDBOX_KEY, base_url=enrichment_url),
    }
    settings = ReceiverSettings(database_url=db_url, secrets={"typeform": SECRET})
    with serve_in_thread(create_app(settings)) as receiver:
        yield {
            "attio": attio_sandbox,
            "slack": slack,
            "outreach": outreach,
            "enrichment": enrichment,
            "resources": resources,
            "receiver": receiver.url,
            "instance": dagster_instance,
            "engine": store_engine.get_engine(db_url),
            "db_url": db_url,
        }


def deliver(world: dict[str, Any], body: bytes, headers: dict[str, str]) -> int:
    return httpx.post(
        f"{world['receiver']}/webhooks/typeform", content=body, headers=headers
    ).status_code


def run_sensor_batches(world: dict[str, Any]) -> list[dg.ExecuteInProcessResult]:
    return run_sensor(world, form_inbox_sensor, "inbound_leads_job", raise_on_error=True)


def run_backlog(world: dict[str, Any]) -> dg.ExecuteInProcessResult:
    """A manual run over every pending row (what the sensor re-offers after a failure)."""
    job = defs.resolve_job_def("inbound_leads_job")
    config = {"ops": {"form_submissions": {"config": {"inbox_ids": [], "limit": 100}}}}
    return job.execute_in_process(
        run_config=config, instance=world["instance"], resources=world["resources"]
    )


def person(attio: Any, email: str) -> dict[str, Any]:
    [found] = [
        p
        for p in attio.records("people")
        if email in [v["email_address"] for v in p["values"]["email_addresses"]]
    ]
    return found


def test_a_signed_typeform_submission_becomes_exactly_one_of_everything(world) -> None:  # type: ignore[no-untyped-def]
    delivery = typeform_delivery(SECRET, random.Random(4))
    statuses = [deliver(world, delivery.body, delivery.headers) for _ in range(10)]
    assert statuses[0] in (200, 202) and set(statuses[1:]) == {200}
    [first] = run_sensor_batches(world)
    assert first.success

    attio, slack, outreach = world["attio"], world["slack"], world["outreach"]
    email = next(
        a["email"]
        for a in json.loads(delivery.body)["form_response"]["answers"]
        if a["type"] == "email"
    )
    lead_person = person(attio, email)
    domain = email.split("@")[1]
    companies = [
        c
        for c in attio.records("companies")
        if domain in [v["domain"] for v in c["values"]["domains"]]
    ]
    assert len(companies) == 1
    assert first_value(lead_person, "company", "target_record_id") == record_id(companies[0])
    owner_id = first_value(lead_person, "owner", "referenced_actor_id")
    reason = first_value(lead_person, "routing_reason")
    assert owner_id and reason.startswith("rule ")
    members = {m["id"]["workspace_member_id"]: m["email_address"] for m in attio.members()}
    rep_email = members[owner_id]
    assert rep_email in {r.email for r in ROUTING.reps}
    # The routing dashboard's table of the day the lead was routed on (issue 14), in both steps'
    # metadata: one lead for the rep, not touched yet, no breach; the rep's address masked.
    [routed_at] = [r.assigned_at for r in first.output_for_node("routed_leads")]
    for step in ("routed_leads", "lead_follow_ups"):
        [materialization] = first.asset_materializations_for_node(step)
        table = materialization.metadata["routing_by_day"].value
        assert table.startswith(f"**{routed_at.astimezone(UTC).date().isoformat()}**")
        assert f"| {mask_email(rep_email)} | 1 | 0 | — | 0 |" in table
        assert rep_email not in table

    pid = record_id(lead_person)
    entries = [e for e in attio.entries("inbound_leads") if e["parent_record_id"] == pid]
    tasks = [
        t
        for t in attio.tasks()
        if any(link["target_record_id"] == pid for link in t["linked_records"])
    ]
    notes = [n for n in attio.notes() if n["parent_record_id"] == pid]
    assert len(entries) == 1 and len(tasks) == 1 and len(notes) == 1
    [task] = tasks
    assert task["content_plaintext"].startswith("Form submission: We would like a demo")
    assert [a["referenced_actor_id"] for a in task["assignees"]] == [owner_id]
    expected_due = ROUTING.task_deadline(
        rep_email, first.output_for_node("inbound_leads")[0].submitted_at
    )
    assert task["deadline_at"].startswith(expected_due.strftime("%Y-%m-%dT%H:%M:%S"))
    assert "list" in notes[0]["content_plaintext"] and "task" in notes[0]["content_plaintext"]
    assert (
        sum(
            len(slack.messages(c))
            for c in ("sales-leads", "leads-alice", "leads-bob", "leads-carol", "leads-dan")
        )
        == 1
    )
    assert len(outreach.sequence_states()) == 1
    assert inbox.count_by_status(world["engine"], ["typeform"])["done"] == 1

    # The whole run again over the same row (what a retried run re-executes) changes nothing.
    with world["engine"].begin() as connection:
        connection.execute(sa.update(webhook_inbox).values(status="pending"))
    again = run_backlog(world)
    assert again.success
    assert (
        again.asset_materializations_for_node("form_submissions")[0].metadata["claimed"].value == 1
    )
    assert (
        len(
            [
                t
                for t in attio.tasks()
                if any(link["target_record_id"] == pid for link in t["linked_records"])
            ]
        )
        == 1
    )
    assert len([n for n in attio.notes() if n["parent_record_id"] == pid]) == 1
    assert len(outreach.sequence_states()) == 1
    assert (
        sum(
            len(slack.messages(c))
            for c in ("sales-leads", "leads-alice", "leads-bob", "leads-carol", "leads-dan")
        )
        == 1
    )


def test_ten_percent_faults_everywhere_still_give_exactly_one_of_each(world) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(9)
    deliveries = [typeform_delivery(SECRET, rng) for _ in range(5)]
    emails = set()
    for d in deliveries:
        assert deliver(world, d.body, d.headers) in (200, 202)
        emails.add(
            next(
                a["email"]
                for a in json.loads(d.body)["form_response"]["answers"]
                if a["type"] == "email"
            )
        )
    faults = {
        "rate": 0.1,
        "kinds": ["500", "503", "drop_after_apply"],
        "methods": ALL_WRITES,
        "seed": 5,
    }
    for name in ("attio", "slack", "outreach"):
        world[name].faults.configure(faults)
    try:
        run_sensor_batches(world)
        for _ in range(8):
            if inbox.count_by_status(world["engine"], ["typeform"])["pending"] == 0:
                break
            run_backlog(world)
    finally:
        for name in ("attio", "slack", "outreach", "enrichment"):
            world[name].faults.clear()
    assert inbox.count_by_status(world["engine"], ["typeform"])["pending"] == 0
    injected = sum(
        sum(world[n].stats()["faults_injected"].values()) for n in ("attio", "slack", "outreach")
    )
    assert injected > 0, "faults must actually have been injected"
    attio = world["attio"]
    people = [person(attio, e) for e in emails]
    assert len(people) == len(
        emails
    )  # one person per distinct email (several deliveries may share one)
    for p in people:
        pid = record_id(p)
        assert len([n for n in attio.notes() if n["parent_record_id"] == pid]) >= 1
    done_leads = inbox.count_by_status(world["engine"], ["typeform"])["done"]
    assert done_leads == len(deliveries)
    assert len(attio.notes()) == len(deliveries)
    assert len(attio.tasks()) == len(deliveries)
    assert len(world["outreach"].sequence_states()) == len(emails)
    channels = ("sales-leads", "leads-alice", "leads-bob", "leads-carol", "leads-dan")
    with world["engine"].connect() as connection:
        slack_rows = (
            connection.execute(sa.select(effect_ledger).where(effect_ledger.c.step == "slack"))
            .mappings()
            .all()
        )
    assert sum(len(world["slack"].messages(c)) for c in channels) == len(deliveries), [
        (r["status"], r["attempts"], r["last_error"]) for r in slack_rows
    ]


def test_a_lead_stopped_mid_way_resumes_without_repeating_done_steps(world) -> None:  # type: ignore[no-untyped-def]
    delivery = typeform_delivery(SECRET, random.Random(21))
    assert deliver(world, delivery.body, delivery.headers) in (200, 202)
    attio = world["attio"]
    # Every note write fails: the lead stops at its last step, after list, task, Slack, Outreach.
    attio.faults.configure(
        {"rate": 1.0, "kinds": ["500"], "methods": ["POST"], "path": "notes$", "seed": 1}
    )
    try:
        [stopped] = run_sensor_batches(world)
    finally:
        attio.faults.clear()
    assert stopped.success  # the run finishes; the lead goes back to the inbox
    assert inbox.count_by_status(world["engine"], ["typeform"])["pending"] == 1
    assert len(attio.tasks()) == 1 and len(attio.notes()) == 0
    resumed = run_backlog(world)
    assert resumed.success
    assert inbox.count_by_status(world["engine"], ["typeform"])["done"] == 1
    assert len(attio.tasks()) == 1 and len(attio.notes()) == 1
    assert len(world["outreach"].sequence_states()) == 1
    channels = ("sales-leads", "leads-alice", "leads-bob", "leads-carol", "leads-dan")
    assert sum(len(world["slack"].messages(c)) for c in channels) == 1
    steps = resumed.asset_materializations_for_node("lead_follow_ups")[0].metadata["steps"].value
    assert steps.get("note:done") == 1 and steps.get("task:done") == 1
    # The audit note tells which steps the first attempt did: all but the note itself.
    [note] = attio.notes()
    text = note["content_plaintext"]
    for step in ("list", "task", "slack", "outreach"):
        line = next(x for x in text.splitlines() if f"{step} done" in x)
        assert "(on an earlier attempt)" in line, line
