"""The inbound-lead flow's services called directly (no Dagster) against the Attio, Slack,
Outreach and enrichment sandboxes over real HTTP: a form row becomes one person, one task, one
Slack message, one enrollment and one audit note, each in the effect ledger, and its inbox row
is done; unreadable and invalid submissions are quarantined with the reason."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
import sqlalchemy as sa

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.attio_values import first_value, record_id
from revops_pipelines.domain.custom_forms import FormsConfig
from revops_pipelines.domain.enrichment_fill import FILLABLE, FillPolicy
from revops_pipelines.domain.routing import RoutingConfig
from revops_pipelines.domain.submissions import FORM_SOURCES
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.enrichment import EnrichmentResource
from revops_pipelines.resources.outreach import OutreachResource
from revops_pipelines.resources.salesloft import SalesloftResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.inbox import InboxRun
from revops_pipelines.services.leads.batch import follow_up_leads, people_in_attio, route_leads
from revops_pipelines.services.leads.flow import LeadReport
from revops_pipelines.services.leads.intake import claim_submissions, normalize_leads
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent
from revops_pipelines.store.tables import effect_ledger, webhook_inbox
from revops_sandbox.enrichment import ENRICHMENT_SANDBOX_KEY
from revops_sandbox.form_traffic import typeform_delivery
from revops_sandbox.outreach import OUTREACH_SANDBOX_TOKEN
from revops_sandbox.salesloft import SALESLOFT_SANDBOX_TOKEN
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN
from tests.services.conftest import LISTS, ROUTING

FORMS = load_model(config_path("forms.yaml"), FormsConfig)
CHANNELS = ("sales-leads", "leads-alice", "leads-bob", "leads-carol", "leads-dan")


@pytest.fixture
def clients(side_systems, db_url) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    for sandbox, _ in side_systems.values():
        sandbox.reset()
    (slack, slack_url), (outreach, outreach_url), (_, enrichment_url) = (
        side_systems["slack"],
        side_systems["outreach"],
        side_systems["enrichment"],
    )
    return {
        "slack_sandbox": slack,
        "outreach_sandbox": outreach,
        "slack": SlackResource(token=SLACK_SANDBOX_TOKEN, base_url=f"{slack_url}/api/"),
        "outreach": OutreachResource(
            access_token=OUTREACH_SANDBOX_TOKEN, base_url=f"{outreach_url}/api/v2", mailbox_id="1"
        ),
        "enrichment": EnrichmentResource(
            api_key=ENRICHMENT_SANDBOX_KEY, base_url=enrichment_url, database_url=db_url
        ),
        "salesloft_sandbox": side_systems["salesloft"][0],
        "salesloft": SalesloftResource(
            api_key=SALESLOFT_SANDBOX_TOKEN, base_url=f"{side_systems['salesloft'][1]}/v2"
        ),
    }


def run_lead_flow(
    engine: sa.Engine,
    attio: AttioResource,
    clients: dict[str, Any],
    run_id: str,
    routing: RoutingConfig = ROUTING,
    policy: FillPolicy | None = None,
) -> tuple[InboxRun, list[LeadReport], Any, Any]:
    """Every step of the lead flow for one run, the way the job chains them."""
    run = InboxRun(engine, run_id)
    submissions = claim_submissions(run, forms=FORMS)
    leads = normalize_leads(run, submissions.submissions, clients["enrichment"])

    async def go() -> list[LeadReport]:
        async with attio.client() as client:
            people = await people_in_attio(client, run, leads.leads, routing, LISTS, policy)
            routed = await route_leads(client, engine, run, routing, people.kept)
            return await follow_up_leads(
                client,
                engine,
                run,
                routed.kept,
                routing=routing,
                lists=LISTS,
                slack=clients["slack"],
                outreach=clients["outreach"],
                salesloft=clients["salesloft"],
            )

    return run, asyncio.run(go()), submissions, leads


def test_one_form_row_becomes_exactly_one_of_every_effect(  # type: ignore[no-untyped-def]
    engine, attio, attio_sandbox, clients
) -> None:
    delivery = typeform_delivery("unused-secret", random.Random(4))
    payload = json.loads(delivery.body)
    [stored] = inbox.store_events(
        engine, [NewEvent("typeform", payload["event_id"], {}, delivery.body)]
    )
    run, reports, submissions, leads = run_lead_flow(engine, attio, clients, "svc-lead-1")

    [submission] = submissions.submissions
    [lead] = leads.leads
    assert submission.inbox_id == stored.id and lead.inbox_id == stored.id
    [report] = reports
    assert not (report.failed_critical or report.retry_later)
    email = next(a["email"] for a in payload["form_response"]["answers"] if a["type"] == "email")
    [person] = [
        p
        for p in attio_sandbox.records("people")
        if email in [v["email_address"] for v in p["values"]["email_addresses"]]
    ]
    pid = record_id(person)
    assert first_value(person, "owner", "referenced_actor_id")
    assert first_value(person, "routing_reason").startswith("rule ")
    assert len([t for t in attio_sandbox.tasks() if pid in str(t["linked_records"])]) == 1
    assert len([n for n in attio_sandbox.notes() if n["parent_record_id"] == pid]) == 1
    slack = clients["slack_sandbox"]
    assert sum(len(slack.messages(c)) for c in CHANNELS) == 1
    assert len(clients["outreach_sandbox"].sequence_states()) == 1
    with engine.connect() as connection:
        ledger = dict(
            connection.execute(
                sa.select(effect_ledger.c.step, effect_ledger.c.status).where(
                    effect_ledger.c.key.like(f"{lead.key}:%")
                )
            ).all()
        )
    assert ledger == {s: "done" for s in ("list", "task", "slack", "outreach", "note")}
    settled = run.settle(FORM_SOURCES)
    assert settled.ids == [stored.id] and settled.counts["done"] == 1

    # The same row processed again (a retried run) sends nothing twice: the ledger holds it.
    with engine.begin() as connection:
        connection.execute(sa.update(webhook_inbox).values(status="pending"))
    _, again, _, _ = run_lead_flow(engine, attio, clients, "svc-lead-2")
    assert [s.detail.endswith("(on an earlier attempt)") for s in again[0].steps[1:3]] == [
        True,
        True,
    ]
    assert sum(len(slack.messages(c)) for c in CHANNELS) == 1
    assert len([n for n in attio_sandbox.notes() if n["parent_record_id"] == pid]) == 1
    assert len(clients["outreach_sandbox"].sequence_states()) == 1


def test_unreadable_and_invalid_submissions_are_quarantined_with_the_reason(  # type: ignore[no-untyped-def]
    engine, attio, clients
) -> None:
    good = typeform_delivery("unused-secret", random.Random(5)).body
    payload = json.loads(good)
    email = next(a["email"] for a in payload["form_response"]["answers"] if a["type"] == "email")
    bad_email = good.replace(email.encode(), b"nobody-at-nowhere")
    unreadable = b'{"event_type": "form_response", "event_id": "no-form"}'
    stored = inbox.store_events(
        engine,
        [
            NewEvent("typeform", "bad-email", {}, bad_email),
            NewEvent("typeform", "unreadable", {}, unreadable),
        ],
    )
    run = InboxRun(engine, "svc-lead-bad")
    batch = claim_submissions(run)
    leads = normalize_leads(run, batch.submissions, clients["enrichment"])
    assert batch.claimed == 2 and leads.leads == []
    rows = {r.event_id: r for r in inbox.get_rows(engine, [s.id for s in stored if s.id])}
    assert rows["bad-email"].status == "quarantined"
    assert "invalid email" in (rows["bad-email"].last_error or "")
    assert rows["unreadable"].status == "quarantined"
    assert "form_response is missing" in (rows["unreadable"].last_error or "")
    assert run.settle(FORM_SOURCES).done == 0


def _person(attio_sandbox: Any, email: str) -> dict[str, Any]:
    [person] = [
        p
        for p in attio_sandbox.records("people")
        if email in [v["email_address"] for v in p["values"]["email_addresses"]]
    ]
    return person


def _company(attio_sandbox: Any, domain: str) -> dict[str, Any]:
    [company] = [
        c
        for c in attio_sandbox.records("companies")
        if domain in [v["domain"] for v in c["values"]["domains"]]
    ]
    return company


def test_the_seed_attributes_are_written_and_a_description_is_never_overwritten(  # type: ignore[no-untyped-def]
    engine, attio, attio_sandbox, clients
) -> None:
    """lead_source is the tool, form_id the form, the submission and assignment dates are set,
    a company the lead creates says where it came from, and a known company keeps its own."""
    rows = []
    for seed, event in ((21, "seed-a"), (22, "seed-b")):
        body = typeform_delivery("unused-secret", random.Random(seed)).body
        payload = json.loads(body)
        email = next(
            a["email"] for a in payload["form_response"]["answers"] if a["type"] == "email"
        )
        rows.append((event, body, payload, email))
    known_domain = rows[1][3].rsplit("@", 1)[1]

    async def existing() -> None:
        async with attio.client() as client:
            await client.records.assert_record(
                "companies",
                matching_attribute="domains",
                values={"domains": [known_domain], "name": "Known", "description": "Ours."},
            )

    asyncio.run(existing())
    inbox.store_events(engine, [NewEvent("typeform", e, {}, b) for e, b, _, _ in rows])
    _, reports, _, leads = run_lead_flow(engine, attio, clients, "svc-seed-attrs")
    assert all(not (r.failed_critical or r.retry_later) for r in reports)

    new_lead = next(lead for lead in leads.leads if lead.key == "typeform:seed-a")
    person = _person(attio_sandbox, rows[0][3])
    assert first_value(person, "lead_source") == "typeform"
    assert first_value(person, "form_id") == rows[0][2]["form_response"]["form_id"]
    assert first_value(person, "form_submission_date") == new_lead.submitted_at.date().isoformat()
    with engine.connect() as connection:
        assigned_at = connection.execute(
            sa.text("select assigned_at from routing_assignment where lead_key = :k"),
            {"k": new_lead.key},
        ).scalar_one()
    assert first_value(person, "assigned_date") == str(assigned_at)[:10]
    assert first_value(person, "routing_reason").startswith("rule ")
    new_company = _company(attio_sandbox, new_lead.company_domain or "")
    assert first_value(new_company, "description") == "Inbound from Typeform"
    assert first_value(_company(attio_sandbox, known_domain), "description") == "Ours."


def test_a_hubspot_lead_goes_through_the_whole_flow_once(  # type: ignore[no-untyped-def]
    engine, attio, attio_sandbox, clients
) -> None:
    """A HubSpot workflow delivery (the stand-in's contact payload) becomes one person with
    lead_source hubspot and every effect once, also when the run is repeated."""
    from revops_pipelines.domain.hubspot_forms import hubspot_event_id
    from revops_sandbox.hubspot import hubspot_delivery

    delivery = hubspot_delivery("unused", "https://hooks.example.com/x", random.Random(31))
    payload = json.loads(delivery.body)
    event_id = hubspot_event_id(payload) or ""
    inbox.store_events(engine, [NewEvent("hubspot", event_id, {}, delivery.body)])
    _, reports, _, leads = run_lead_flow(engine, attio, clients, "svc-hubspot-1")
    [report] = reports
    assert not (report.failed_critical or report.retry_later), report.steps
    [lead] = leads.leads
    person = _person(attio_sandbox, payload["properties"]["email"]["value"])
    assert first_value(person, "lead_source") == "hubspot"
    newest = max(payload["form-submissions"], key=lambda s: s["timestamp"])
    assert first_value(person, "form_id") == newest["form-id"]
    pid = record_id(person)
    for _ in range(2):
        assert len([t for t in attio_sandbox.tasks() if pid in str(t["linked_records"])]) == 1
        assert len([n for n in attio_sandbox.notes() if n["parent_record_id"] == pid]) == 1
        assert sum(len(clients["slack_sandbox"].messages(c)) for c in CHANNELS) == 1
        assert len(clients["outreach_sandbox"].sequence_states()) == 1
        with engine.begin() as connection:
            connection.execute(sa.update(webhook_inbox).values(status="pending"))
        run_lead_flow(engine, attio, clients, "svc-hubspot-2")
    assert lead.key == f"hubspot:{event_id}"


def test_a_custom_form_lead_goes_through_the_flow_and_a_bad_one_is_quarantined(  # type: ignore[no-untyped-def]
    engine, attio, attio_sandbox, clients
) -> None:
    """A `contact_us` delivery (forms.yaml) becomes a person whose lead_source is the form's key;
    one without the mapped email field is quarantined with the reason and writes nothing."""
    from revops_sandbox.custom_forms import contact_form_payload

    payload = contact_form_payload(random.Random(41))
    missing = {k: v for k, v in payload.items() if k != "email"}
    stored = inbox.store_events(
        engine,
        [
            NewEvent("forms", "contact_us:msg_good", {}, json.dumps(payload).encode()),
            NewEvent("forms", "contact_us:msg_bad", {}, json.dumps(missing).encode()),
        ],
    )
    run, reports, submissions, leads = run_lead_flow(engine, attio, clients, "svc-custom-1")
    [report] = reports
    assert not (report.failed_critical or report.retry_later), report.steps
    [lead] = leads.leads
    assert lead.key == "contact_us:msg_good" and lead.phone == "+442079460958"
    person = _person(attio_sandbox, payload["email"])
    assert first_value(person, "lead_source") == "contact_us"
    assert first_value(person, "form_id") == "contact_us"
    rows = {r.event_id: r for r in inbox.get_rows(engine, [s.id for s in stored if s.id])}
    assert rows["contact_us:msg_bad"].status == "quarantined"
    assert "no email at the mapped field 'email'" in (rows["contact_us:msg_bad"].last_error or "")
    assert submissions.quarantined[0][3] == "contact_us: no email at the mapped field 'email'"
    assert run.settle(FORM_SOURCES).counts["done"] == 1


def _one_rep_routing(
    rep_email: str, pool: dict[str, Any] | None = None, **rep: Any
) -> RoutingConfig:
    """routing.yaml's shape with one rep, and every Typeform lead high-value."""
    pool = pool or {"outreach_sequence_id": 1}
    return RoutingConfig.model_validate(
        {
            "reps": [{"email": rep_email, "name": "The Rep", "time_zone": "UTC", **rep}],
            "pools": [{"name": "only", "reps": [rep_email], **pool}],
            "rules": [{"name": "default", "pool": "only"}],
            "high_value": {
                "channel": "#high-value-leads",
                "when_any": [{"field": "source", "op": "eq", "value": "typeform"}],
            },
        }
    )


@pytest.mark.parametrize(
    ("rep_email", "rep", "owner"),
    [
        ("morgan.lee@northwindsales.io", {}, "<@U0MORGANLEE>"),  # found by email in Slack
        ("noah.patel@northwindsales.io", {}, "The Rep"),  # no such Slack user: the name
        ("noah.patel@northwindsales.io", {"slack_user_id": "U0CONFIG"}, "<@U0CONFIG>"),
    ],
)
def test_the_post_mentions_the_rep_and_a_high_value_lead_is_posted_once_more(  # type: ignore[no-untyped-def]
    engine, attio, attio_sandbox, clients, rep_email, rep, owner
) -> None:
    routing = _one_rep_routing(rep_email, slack_channel="#sales-leads", **rep)
    body = typeform_delivery("unused", random.Random(51)).body
    inbox.store_events(engine, [NewEvent("typeform", "hv-1", {}, body)])
    for attempt in range(2):  # the repeated run posts nothing again
        if attempt:
            with engine.begin() as connection:
                connection.execute(sa.update(webhook_inbox).values(status="pending"))
        _, [report], _, _ = run_lead_flow(engine, attio, clients, f"svc-hv-{attempt}", routing)
        assert not (report.failed_critical or report.retry_later), report.steps
    slack = clients["slack_sandbox"]
    [post] = slack.messages("sales-leads")
    owner_field = post["blocks"][1]["fields"][0]["text"]
    assert owner_field == f"*Owner:*\n{owner}"
    [high] = slack.messages("high-value-leads")
    assert high["blocks"][0]["text"]["text"] == "High-value inbound lead"
    assert "source typeform = typeform" in high["blocks"][1]["text"]["text"]
    [step] = [s for s in report.steps if s.step == "slack"]
    assert "high-value" in step.detail


def test_a_salesloft_pool_puts_the_lead_on_its_cadence_once(  # type: ignore[no-untyped-def]
    engine, attio, attio_sandbox, clients
) -> None:
    pool = {"sequencer": "salesloft", "salesloft_cadence_id": 2}
    routing = _one_rep_routing("morgan.lee@northwindsales.io", pool)
    body = typeform_delivery("unused", random.Random(61)).body
    email = next(
        a["email"] for a in json.loads(body)["form_response"]["answers"] if a["type"] == "email"
    )
    inbox.store_events(engine, [NewEvent("typeform", "sl-1", {}, body)])
    clients["salesloft_sandbox"].faults.push("drop_after_apply", methods=["POST"])
    for attempt in range(2):
        if attempt:
            with engine.begin() as connection:
                connection.execute(sa.update(webhook_inbox).values(status="pending"))
        _, [report], _, _ = run_lead_flow(engine, attio, clients, f"svc-sl-{attempt}", routing)
        assert not (report.failed_critical or report.retry_later), report.steps
    assert clients["salesloft_sandbox"].on_cadence() == [(email, 2)]
    assert clients["outreach_sandbox"].sequence_states() == []
    [step] = [s for s in report.steps if s.step == "salesloft"]
    assert step.detail == "cadence 2 (on an earlier attempt)"


def test_enrichment_fills_only_empty_unsynced_company_attributes_and_says_so(  # type: ignore[no-untyped-def]
    engine, attio, attio_sandbox, clients
) -> None:
    """New company: enriched facts fill it (its description is the seed's). Known company that
    Salesforce does not own: only its empty attributes are filled. Synced company: nothing the
    sync owns is touched, even where empty. Each fill is in the audit note."""
    from revops_sandbox.custom_forms import contact_form_payload

    policy = FillPolicy(
        synced_attributes=frozenset(FILLABLE),
        industry_options={"Internet Software & Services": "Technology"},
    )

    async def existing() -> None:
        async with attio.client() as client:
            for domain, values in (
                ("navy.example", {"name": "Navy", "salesforce_id": "001NAVY"}),
                ("apollo.example", {"name": "Apollo", "description": "Ours."}),
            ):
                await client.records.assert_record(
                    "companies",
                    matching_attribute="domains",
                    values={"domains": [domain], **values},
                )

    asyncio.run(existing())
    events = []
    for i, domain in enumerate(("analytical.example", "apollo.example", "navy.example")):
        payload = {**contact_form_payload(random.Random(70 + i)), "email": f"lead{i}@{domain}"}
        events.append(NewEvent("forms", f"contact_us:enrich-{i}", {}, json.dumps(payload).encode()))
    inbox.store_events(engine, events)
    _, reports, _, leads = run_lead_flow(engine, attio, clients, "svc-enrich", ROUTING, policy)
    assert all(not (r.failed_critical or r.retry_later) for r in reports)
    assert all(lead.enrichment for lead in leads.leads)

    new = _company(attio_sandbox, "analytical.example")
    assert first_value(new, "employee_count") == 540
    assert first_value(new, "industry", "option")["title"] == "Technology"
    assert first_value(new, "primary_location", "country_code") == "GB"
    assert first_value(new, "primary_location", "locality") == "London"
    assert first_value(new, "description") == "Inbound from contact_us"

    known = _company(attio_sandbox, "apollo.example")
    assert first_value(known, "employee_count") == 2300
    assert first_value(known, "description") == "Ours."
    assert first_value(known, "industry", "option") is None  # no option for its industry

    synced = _company(attio_sandbox, "navy.example")
    for slug in FILLABLE:
        assert first_value(synced, slug) is None, slug

    by_email = {r.lead.email: r for r in reports}
    steps = {e: [s for s in r.steps if s.step == "enrichment"] for e, r in by_email.items()}
    assert [s.detail for s in steps["lead0@analytical.example"]] == [
        "filled industry, employee count, primary location on the company"
    ]
    assert [s.detail for s in steps["lead1@apollo.example"]] == [
        "filled employee count, primary location on the company"
    ]
    assert steps["lead2@navy.example"] == []
    person = _person(attio_sandbox, "lead1@apollo.example")
    [note] = [n for n in attio_sandbox.notes() if n["parent_record_id"] == record_id(person)]
    assert "filled employee count, primary location on the company" in note["content_plaintext"]


def _with_marketing_answer(body: bytes, agreed: bool) -> bytes:
    """A Typeform delivery with a `legal` question about marketing email, answered `agreed`."""
    payload = json.loads(body)
    response = payload["form_response"]
    response["definition"]["fields"].append(
        {"id": "f_mkt", "ref": "marketing", "type": "legal", "title": "I agree to marketing emails"}
    )
    response["answers"].append(
        {"type": "boolean", "boolean": agreed, "field": {"id": "f_mkt", "type": "legal"}}
    )
    return json.dumps(payload).encode()


def test_a_lead_who_declined_marketing_email_is_followed_up_but_never_sequenced(  # type: ignore[no-untyped-def]
    engine, attio, attio_sandbox, clients
) -> None:
    routing = _one_rep_routing("morgan.lee@northwindsales.io")
    rng = random.Random(62)
    declined, agreed = (typeform_delivery("unused", rng).body for _ in range(2))
    inbox.store_events(
        engine,
        [
            NewEvent("typeform", "mkt-no", {}, _with_marketing_answer(declined, agreed=False)),
            NewEvent("typeform", "mkt-yes", {}, _with_marketing_answer(agreed, agreed=True)),
        ],
    )
    _, reports, _, _ = run_lead_flow(engine, attio, clients, "svc-consent", routing)
    by_consent = {r.lead.marketing_consent: r for r in reports}
    assert set(by_consent) == {False, True}, [r.lead.marketing_consent for r in reports]
    no, yes = by_consent[False], by_consent[True]
    for report in (no, yes):
        assert not (report.failed_critical or report.retry_later), report.steps
    # Declined: no sequence, said so; the rep still gets the lead's task and message.
    [step] = [s for s in no.steps if s.step == "outreach"]
    assert (step.status, step.detail) == ("skipped", "declined marketing email on the form")
    # Agreed: enrolled as any lead. The declined lead is not even a prospect in Outreach.
    prospects = str(clients["outreach_sandbox"].prospects())
    assert yes.lead.email in prospects and no.lead.email not in prospects, prospects
    assert len(clients["outreach_sandbox"].sequence_states()) == 1
    assert any(s.step == "task" and s.status == "done" for s in no.steps), no.steps
    assert any(s.step == "slack" and s.status == "done" for s in no.steps), no.steps
