"""Real crash recovery of a lead run (issue 15, items 6 and 8).

An `inbound_leads_job` run executes in a worker process of its own and is SIGKILLed in the middle
of its follow-up effects: at the moment one follow-up write (an Attio task, a Slack post, an
Outreach enrollment) has landed in its sandbox while the answer is held back (the sandbox's
`timeout_after_apply`), the most ambiguous moment a crash can pick. Nothing tells Dagster: the
run stays STARTED, as when a machine dies with its code server. Then, as the daemon would,
`run_heartbeat_sensor` marks the silent run failed (after the 2 s lease of these tests, not the
hour of the claim timeout), `inbox_run_failure_sensor` hands the rows back, the inbox sensor's
retry batch gives them to the next run (another worker process), and that run finishes. Every
effect then exists exactly once, none missing: people, companies, list entries, tasks, notes,
Slack posts, Outreach enrollments.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from revops_pipelines.domain.attio_values import first_value, record_id
from revops_pipelines.sensors.inbox import form_inbox_sensor
from revops_pipelines.store import inbox
from revops_pipelines.store.tables import effect_ledger
from revops_sandbox.form_traffic import typeform_delivery
from tests.crash import recovery, worker
from tests.crash.conftest import CrashWorld
from tests.sensors.helpers import tick

LEADS = 3
JOB = "inbound_leads_job"


@dataclass(frozen=True)
class Hold:
    """A follow-up write to hold (applied, its answer withheld) and kill the run on."""

    system: str  # the side system's fixture name, or "attio"
    path: str  # the write's path, a regular expression
    step: str  # its effect-ledger step

    def landed(self, sandbox: Any) -> bool:
        if self.system == "attio":
            return bool(sandbox.tasks())
        if self.system == "slack":
            return any(c["messages"] for c in sandbox.channels.values())
        return bool(sandbox.sequence_states())


HOLDS = [
    Hold("attio", "^/v2/tasks$", "task"),
    Hold("slack", "chat.postMessage$", "slack"),
    Hold("outreach", "/sequenceStates$", "outreach"),
]


def _store_leads(engine: sa.Engine) -> dict[str, str]:
    """Three Typeform leads of distinct people in the inbox: event id -> email."""
    rng, leads = random.Random(15), {}
    while len(leads) < LEADS:
        delivery = typeform_delivery("unused-secret", rng)
        body = json.loads(delivery.body)
        email = next(a["email"] for a in body["form_response"]["answers"] if a["type"] == "email")
        if email in leads.values():
            continue
        stored = inbox.store_event(
            engine, source="typeform", event_id=body["event_id"], headers={}, body=delivery.body
        )
        assert stored.id is not None
        leads[body["event_id"]] = email
    return leads


def _ledger(engine: sa.Engine, step: str) -> list[str]:
    with engine.connect() as connection:
        query = sa.select(effect_ledger.c.status).where(effect_ledger.c.step == step)
        return list(connection.execute(query).scalars())


@pytest.mark.parametrize("hold", HOLDS, ids=[h.step for h in HOLDS])
def test_a_lead_run_killed_mid_follow_ups_is_handed_back_and_finished_exactly_once(
    lead_world: CrashWorld, side_systems: dict[str, Any], hold: Hold
) -> None:
    w = lead_world
    leads = _store_leads(w.engine)
    first = tick(form_inbox_sensor, w.instance, w.db_url, None)
    [request] = first.run_requests
    held = w.attio if hold.system == "attio" else side_systems[hold.system][0]
    held.faults.configure(
        {
            "next": [{"kind": "timeout_after_apply", "methods": ["POST"], "path": hold.path}],
            "timeout_seconds": 120,
        }
    )

    run_id = str(uuid.uuid4())
    spec = worker.RunSpec(JOB, run_id, w.env, request.run_config, request.tags)
    doomed = worker.start(spec)
    try:
        worker.wait_for(
            f"a held {hold.step} write", lambda: hold.landed(held), timeout=90, worker=doomed
        )
    finally:
        worker.kill(doomed)
    held.faults.clear()

    # Killed mid-effect: the held write landed, its ledger row still says "started".
    assert "started" in _ledger(w.engine, hold.step)
    rows = inbox.rows_with_status(w.engine, "processing", sources=["typeform"])
    assert {r.claimed_by for r in rows} == {run_id} and len(rows) == LEADS
    assert w.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
    assert recovery.beating_runs(w.engine) == {run_id}  # it beat until killed, then went silent

    message = recovery.marked_failed_once_silent(w.instance, w.db_url, run_id)
    assert "stopped beating" in message
    recovery.hand_back_failed_run(w.instance, w.db_url, run_id)
    back = inbox.rows_with_status(w.engine, "pending", sources=["typeform"])
    assert len(back) == LEADS and {r.attempts for r in back} == {1}
    assert all("stopped beating" in (r.last_error or "") for r in back)

    def retry() -> dg.RunRequest | None:
        requests = tick(form_inbox_sensor, w.instance, w.db_url, first.cursor).run_requests
        return requests[0] if requests else None

    again = worker.wait_for("the retry batch", retry, timeout=30, every=0.3)
    next_id = str(uuid.uuid4())
    next_run = worker.start(worker.RunSpec(JOB, next_id, w.env, again.run_config, again.tags))
    next_run.join(timeout=120)
    record = w.instance.get_run_by_id(next_id)
    assert next_run.exitcode == 0 and record is not None
    assert record.status == dg.DagsterRunStatus.SUCCESS, record.status
    assert recovery.beating_runs(w.engine) == set()  # the dead run's row found, the next's ended
    assert inbox.count_by_status(w.engine, ["typeform"])["done"] == LEADS

    _assert_each_effect_once(w.attio, side_systems, leads)


def _assert_each_effect_once(
    attio: Any, side_systems: dict[str, Any], leads: dict[str, str]
) -> None:
    emails = set(leads.values())
    people = {
        record_id(p): first_value(p, "email_addresses", "email_address")
        for p in attio.records("people")
    }
    assert sorted(e for e in people.values() if e in emails) == sorted(emails)  # one each
    ids = {pid for pid, email in people.items() if email in emails}
    companies = [
        first_value(p, "company", "target_record_id")
        for p in attio.records("people")
        if record_id(p) in ids
    ]
    domains = Counter(
        d["domain"] for c in attio.records("companies") for d in c["values"]["domains"]
    )
    assert {email.split("@")[1] for email in emails} <= set(domains)
    assert all(domains[email.split("@")[1]] == 1 for email in emails), domains
    assert None not in companies

    def per_person(items: list[dict[str, Any]], link: Any) -> Counter[str]:
        return Counter(p for item in items for p in link(item) if p in ids)

    entries = per_person(attio.entries("inbound_leads"), lambda e: [e["parent_record_id"]])
    tasks = per_person(
        attio.tasks(), lambda t: [x["target_record_id"] for x in t["linked_records"]]
    )
    notes = per_person(attio.notes(), lambda n: [n["parent_record_id"]])
    for name, counts in (("list entry", entries), ("task", tasks), ("note", notes)):
        assert counts == Counter(dict.fromkeys(ids, 1)), f"{name} per person: {counts}"
    assert len(attio.tasks()) == len(attio.notes()) == len(leads)

    slack, outreach = side_systems["slack"][0], side_systems["outreach"][0]
    markers = Counter(
        (m.get("metadata") or {}).get("event_payload", {}).get("marker")
        for c in slack.channels.values()
        for m in c["messages"]
    )
    assert max(markers.values()) == 1, markers
    assert {f"typeform:{event_id}:slack" for event_id in leads} <= set(markers)
    prospects = Counter(
        e for p in outreach.prospects() for e in p["attributes"].get("emails") or []
    )
    assert {e: prospects[e] for e in emails} == dict.fromkeys(emails, 1), prospects
    assert len(outreach.sequence_states()) == len(leads)
