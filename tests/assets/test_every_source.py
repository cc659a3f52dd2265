"""Issue 13's "done when": one lead from each source (Typeform, Tally, HubSpot, a custom form),
each delivered twice over real HTTP, through `inbound_leads_job` with 10% faults on every
stand-in (Attio, Slack, Outreach, Salesloft, enrichment), on SQLite and PostgreSQL, becomes
exactly one person with the right lead_source, one task, one list entry, one note, one Slack post
(plus one high-value post where the rule matches) and one enrollment in its pool's sequencer."""

from __future__ import annotations

import json

import httpx
import pytest
import sqlalchemy as sa

from revops_pipelines.domain.attio_values import first_value, record_id
from revops_pipelines.resources.enrichment import EnrichmentResource
from revops_pipelines.resources.outreach import OutreachResource
from revops_pipelines.resources.salesloft import SalesloftResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.store.tables import effect_ledger
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_sandbox.custom_forms import new_secret
from revops_sandbox.enrichment import ENRICHMENT_SANDBOX_KEY
from revops_sandbox.form_traffic import one_lead_per_source
from revops_sandbox.outreach import OUTREACH_SANDBOX_TOKEN
from revops_sandbox.salesloft import SALESLOFT_SANDBOX_TOKEN
from revops_sandbox.server import serve_in_thread
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN
from tests.assets.test_lead_flow import ALL_WRITES, run_backlog, run_sensor_batches

SOURCES = ("typeform", "tally", "hubspot", "forms")
SECRETS = {
    "typeform": "tf-every-source",
    "tally": "tally-every-source",
    "hubspot": "hs-every-source",
    "contact_us": new_secret(__import__("random").Random(1)),
}
REP_CHANNELS = ("sales-leads", "leads-alice", "leads-bob", "leads-carol", "leads-dan")


@pytest.fixture
def world(side_systems, attio_sandbox, db_url, dagster_instance, monkeypatch):  # type: ignore[no-untyped-def]
    for sandbox, _ in side_systems.values():
        sandbox.reset()
    monkeypatch.setenv("ATTIO_API_KEY", "sandbox-attio-key")
    monkeypatch.setenv("ATTIO_BASE_URL", attio_sandbox.api_url)
    monkeypatch.setenv(store_engine.DATABASE_URL_ENV, db_url)
    url = {name: u for name, (_, u) in side_systems.items()}
    resources = {
        "database": RevopsDatabase(url=db_url),
        "slack": SlackResource(token=SLACK_SANDBOX_TOKEN, base_url=f"{url['slack']}/api/"),
        "outreach": OutreachResource(
            access_token=OUTREACH_SANDBOX_TOKEN,
            base_url=f"{url['outreach']}/api/v2",
            mailbox_id="1",
        ),
        "salesloft": SalesloftResource(
            api_key=SALESLOFT_SANDBOX_TOKEN, base_url=f"{url['salesloft']}/v2"
        ),
        "enrichment": EnrichmentResource(
            api_key=ENRICHMENT_SANDBOX_KEY, base_url=url["enrichment"]
        ),
    }
    settings = ReceiverSettings(
        database_url=db_url,
        secrets={"typeform": SECRETS["typeform"], "tally": SECRETS["tally"]},
        hubspot_secret=SECRETS["hubspot"],
        forms={"contact_us": ("FORM_CONTACT_US_SECRET", SECRETS["contact_us"])},
    )
    with serve_in_thread(create_app(settings)) as receiver:
        yield {
            "attio": attio_sandbox,
            **{name: sandbox for name, (sandbox, _) in side_systems.items()},
            "resources": resources,
            "receiver": receiver.url,
            "instance": dagster_instance,
            "engine": store_engine.get_engine(db_url),
        }


def _email(path: str, body: bytes) -> str:
    payload = json.loads(body)
    if "typeform" in path:
        return next(a["email"] for a in payload["form_response"]["answers"] if a["type"] == "email")
    if "tally" in path:
        return next(f["value"] for f in payload["data"]["fields"] if f["type"] == "INPUT_EMAIL")
    if "hubspot" in path:
        return str(payload["properties"]["email"]["value"])
    return str(payload["email"])


def test_one_lead_from_each_source_under_redelivery_and_faults(world) -> None:  # type: ignore[no-untyped-def]
    deliveries = one_lead_per_source(SECRETS, world["receiver"], "contact_us", seed=13)
    expected: dict[str, str] = {}  # email -> lead_source
    for path, delivery in deliveries:
        statuses = [
            httpx.post(
                f"{world['receiver']}{path}", content=delivery.body, headers=delivery.headers
            ).status_code
            for _ in range(2)
        ]
        assert statuses == [202, 200], (path, statuses)
        source = path.rsplit("/", 1)[1]
        expected[_email(path, delivery.body).lower()] = source
    assert len(expected) == 4 and set(expected.values()) == {
        "typeform", "tally", "hubspot", "contact_us"
    }  # fmt: skip

    faults = {"rate": 0.1, "kinds": ["500", "503", "drop_after_apply"], "seed": 3}
    names = ("attio", "slack", "outreach", "salesloft", "enrichment")
    for name in names:
        world[name].faults.configure(
            {**faults, "methods": ALL_WRITES} if name == "attio" else faults
        )
    try:
        run_sensor_batches(world)
        for _ in range(8):
            if inbox.count_by_status(world["engine"], list(SOURCES))["pending"] == 0:
                break
            run_backlog(world)
    finally:
        for name in names:
            world[name].faults.clear()
    counts = inbox.count_by_status(world["engine"], list(SOURCES))
    assert counts["done"] == 4 and counts["pending"] == 0, counts
    injected = sum(sum(world[n].stats()["faults_injected"].values()) for n in names)
    assert injected > 0, "faults must actually have been injected"

    attio = world["attio"]
    people = {
        v["email_address"]: p
        for p in attio.records("people")
        for v in p["values"]["email_addresses"]
    }
    for email, source in expected.items():
        person = people[email]
        assert first_value(person, "lead_source") == source
        pid = record_id(person)
        assert len([t for t in attio.tasks() if pid in str(t["linked_records"])]) == 1
        assert len([n for n in attio.notes() if n["parent_record_id"] == pid]) == 1
        entries = [
            e
            for slug in ("inbound_leads", "partner_leads", "enterprise_pipeline")
            for e in attio.entries(slug)
            if e["parent_record_id"] == pid
        ]
        assert len(entries) == 1, (email, entries)
    assert sum(len(world["slack"].messages(c)) for c in REP_CHANNELS) == 4
    with world["engine"].connect() as connection:
        high_value = connection.execute(
            sa.select(sa.func.count())
            .select_from(effect_ledger)
            .where(effect_ledger.c.key.like("%:high_value"), effect_ledger.c.status == "done")
        ).scalar_one()
    assert len(world["slack"].messages("high-value-leads")) == high_value
    enrolled = [s["relationships"]["prospect"] for s in world["outreach"].sequence_states()]
    on_cadence = world["salesloft"].on_cadence()
    assert len(enrolled) + len(on_cadence) == 4
    assert len({e for e, _ in on_cadence}) == len(on_cadence)
