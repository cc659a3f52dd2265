"""A lead Attio refuses for good (a 400 validation error on its person, from the Attio sandbox's
`refuse` fault), end to end: signed Typeform posts -> receiver -> inbox -> `form_inbox_sensor`
-> `inbound_leads_job`. The refused lead's row is quarantined with Attio's message, masked; the
other leads of the same batch finish; nothing the refused lead did is repeated when an operator
requeues it; the inbox check lists it; once Attio takes it, it finishes with one of each."""

from __future__ import annotations

import json
import random
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster._serdes import serialize_value

from revops_pipelines.assets.forms import no_failed_form_rows
from revops_pipelines.domain.personal_data import mask_email
from revops_pipelines.services import inbox as inbox_service
from revops_pipelines.store import inbox
from revops_pipelines.store.tables import effect_ledger
from revops_sandbox.form_traffic import typeform_delivery
from tests.assets.test_lead_flow import (  # noqa: F401
    SECRET,
    deliver,
    run_backlog,
    run_sensor_batches,
    world,
)

CHANNELS = ("sales-leads", "leads-alice", "leads-bob", "leads-carol", "leads-dan")


def email_of(body: bytes) -> str:
    answers = json.loads(body)["form_response"]["answers"]
    return str(next(a["email"] for a in answers if a["type"] == "email"))


def effects(world: dict[str, Any], email: str) -> dict[str, int]:  # noqa: F811
    """What the lead with `email` has in every outside system."""
    attio = world["attio"]
    people = [
        p
        for p in attio.records("people")
        if email in [v["email_address"] for v in p["values"]["email_addresses"]]
    ]
    ids = {p["id"]["record_id"] for p in people}
    domain = email.split("@")[1]
    slack = [m for c in CHANNELS for m in world["slack"].messages(c)]
    prospects = {
        p["id"] for p in world["outreach"].prospects() if email in p["attributes"]["emails"]
    }
    enrolled = [
        s
        for s in world["outreach"].sequence_states()
        if s["relationships"]["prospect"]["data"]["id"] in prospects
    ]
    return {
        "people": len(people),
        "companies": sum(
            domain in [v["domain"] for v in c["values"]["domains"]]
            for c in attio.records("companies")
        ),
        "entries": sum(e["parent_record_id"] in ids for e in attio.entries("inbound_leads")),
        "tasks": sum(
            any(link["target_record_id"] in ids for link in t["linked_records"])
            for t in attio.tasks()
        ),
        "notes": sum(n["parent_record_id"] in ids for n in attio.notes()),
        "slack": sum(email.split("@")[0] in json.dumps(m) for m in slack),
        "outreach": len(enrolled),
    }


ONE_OF_EACH = {
    "people": 1,
    "companies": 1,
    "entries": 1,
    "tasks": 1,
    "notes": 1,
    "slack": 1,
    "outreach": 1,
}


def form_check(world: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """`no_failed_form_rows` as the next inbox run evaluates it (this run's ran before the
    refusal: the check step follows the claim)."""
    result = no_failed_form_rows(database=world["resources"]["database"])
    return {"passed": result.passed, **{k: v.value for k, v in result.metadata.items()}}


def test_a_lead_attio_refuses_is_quarantined_masked_while_its_batch_finishes(
    world: dict[str, Any],  # noqa: F811
) -> None:
    rng = random.Random(31)
    deliveries = []
    while len({email_of(d.body) for d in deliveries}) < 3:  # three distinct people
        delivery = typeform_delivery(SECRET, rng)
        if email_of(delivery.body) not in {email_of(d.body) for d in deliveries}:
            deliveries.append(delivery)
    emails = [email_of(d.body) for d in deliveries]
    refused = emails[1]
    attio, engine = world["attio"], world["engine"]
    attio.faults.refuse(refused)
    for delivery in deliveries:
        assert deliver(world, delivery.body, delivery.headers) in (200, 202)

    [run] = run_sensor_batches(world)  # one batch holds all three leads
    assert run.success
    claimed = run.asset_materializations_for_node("form_submissions")[0].metadata["claimed"]
    assert claimed.value == 3
    assert inbox.count_by_status(engine, ["typeform"]) == {
        "pending": 0,
        "processing": 0,
        "done": 2,
        "failed": 0,
        "quarantined": 1,
    }
    assert attio.stats()["faults_injected"] == {"refuse": 1}  # refused, never retried
    # The refused lead's row: quarantined with Attio's own message, the email masked.
    [row] = inbox_service.quarantined_rows(engine, ["typeform"])
    assert row.last_error is not None
    assert refused not in row.last_error and mask_email(refused) in row.last_error
    assert "400 validation_type" in row.last_error and "email_addresses" in row.last_error
    # The other two finished with one of everything; the refused one has only its company.
    for email in (emails[0], emails[2]):
        assert effects(world, email) == ONE_OF_EACH, email
    nothing = dict.fromkeys(ONE_OF_EACH, 0)
    assert effects(world, refused) == {**nothing, "companies": 1}
    # The check lists it, masked, and stays green (a quarantined row is not a failed one).
    check = form_check(world)
    assert check["passed"] and check["quarantined"] == 1
    listed = check["quarantined_rows"]
    assert f"| {row.id} | typeform |" in listed and "400 validation_type" in listed
    assert refused not in listed
    # Nowhere in the run's event log (messages, metadata, errors) is the raw address.
    instance: dg.DagsterInstance = world["instance"]
    assert refused not in serialize_value(instance.all_logs(run.run_id))

    # An operator requeues it while Attio still refuses: quarantined again, nothing repeated.
    assert inbox_service.requeue(engine, [row.id]) == 1
    assert run_backlog(world).success
    assert inbox.count_by_status(engine, ["typeform"])["quarantined"] == 1
    assert effects(world, refused) == {**nothing, "companies": 1}
    for email in (emails[0], emails[2]):
        assert effects(world, email) == ONE_OF_EACH, email
    # Attio takes it now: requeued once more, the lead finishes with exactly one of each.
    attio.faults.clear()
    inbox_service.requeue(engine, [row.id])
    assert run_backlog(world).success
    assert inbox.count_by_status(engine, ["typeform"])["done"] == 3
    for email in emails:
        assert effects(world, email) == ONE_OF_EACH, email
    with engine.connect() as connection:
        ledger = connection.execute(sa.select(effect_ledger.c.key)).scalars().all()
    assert len(ledger) == len(set(ledger))
