"""Personal data stays out of Dagster: a lead run and the quarantine path, then every event-log
entry (messages, metadata, errors), every inbox error, everything written to stderr and every log
record is scanned for the raw email addresses and phone number (issue 15, item 1)."""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._serdes import serialize_value

from revops_pipelines.domain.personal_data import mask_email, mask_personal, mask_phone
from revops_pipelines.infra.logs import SecretMaskingFilter
from revops_pipelines.sensors.alerts import failure_message
from revops_pipelines.store import inbox
from revops_pipelines.store.tables import webhook_inbox
from revops_sandbox.form_traffic import typeform_delivery
from revops_sandbox.signatures import typeform_signature
from tests.assets.test_lead_flow import SECRET, deliver, run_sensor_batches, world  # noqa: F401

GOOD_EMAIL = "maria.lopez@northwind.io"
PHONE = "+44 20 7946 0958"
BAD_EMAILS = ("maria.lopez@@northwind.io", "maria lopez at northwind")
RAW = (GOOD_EMAIL, "maria.lopez", "+442079460958", PHONE, *BAD_EMAILS)


def lead_delivery(email: str, seed: int) -> tuple[bytes, dict[str, str]]:
    """A signed Typeform delivery from the demo's generator, with our email and a phone."""
    body = json.loads(typeform_delivery(SECRET, random.Random(seed)).body)
    response = body["form_response"]
    for answer in response["answers"]:
        if answer["type"] == "email":
            answer["email"] = email
    response["definition"]["fields"].append(
        {"id": "f_phone", "ref": "phone", "type": "phone_number", "title": "Phone?"}
    )
    response["answers"].append(
        {
            "type": "phone_number",
            "phone_number": PHONE,
            "field": {"id": "f_phone", "type": "phone_number", "ref": "phone"},
        }
    )
    raw = json.dumps(body).encode()
    return raw, {"Typeform-Signature": typeform_signature(SECRET, raw)}


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [raw for raw in RAW if raw.lower() in lowered]


def test_no_raw_email_or_phone_in_events_metadata_inbox_errors_or_logs(
    world: dict[str, Any],  # noqa: F811
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    # What our handlers write: the receiver's root handler and the run's JSON logger both carry
    # the masking filter (third-party records such as httpx's request lines included).
    caplog.handler.addFilter(SecretMaskingFilter())
    for seed, email in enumerate((GOOD_EMAIL, *BAD_EMAILS)):
        body, headers = lead_delivery(email, seed)
        assert deliver(world, body, headers) in (200, 202)
    runs = run_sensor_batches(world)
    assert runs and all(r.success for r in runs)
    engine = world["engine"]
    counts = inbox.count_by_status(engine, ["typeform"])
    assert counts["done"] == 1 and counts["quarantined"] == 2

    # The raw values are where they are needed: the inbox body and Attio.
    with engine.connect() as connection:
        rows = connection.execute(sa.select(webhook_inbox)).mappings().all()
    assert any(GOOD_EMAIL.encode() in bytes(r["body"]) for r in rows)
    assert any(
        GOOD_EMAIL in json.dumps(p["values"]["email_addresses"])
        for p in world["attio"].records("people")
    )

    instance: dg.DagsterInstance = world["instance"]
    entries = [e for run in instance.get_runs() for e in instance.all_logs(run.run_id)]
    assert entries
    texts = {"event log": "\n".join(serialize_value(e) for e in entries)}
    texts["inbox errors"] = "\n".join(str(r["last_error"]) for r in rows)
    texts["stderr"] = capfd.readouterr().err
    texts["log records"] = "\n".join(
        f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records
    )
    found = {where: leaks(text) for where, text in texts.items()}
    assert found == {where: [] for where in texts}
    # The masked forms are there, so the scan read the right things.
    assert json.dumps("m•••@northwind.io")[1:-1] in texts["event log"]  # serialized as JSON
    assert "m•••@northwind.io" in texts["inbox errors"]


def test_the_run_failure_alert_masks_personal_data() -> None:
    run = dg.DagsterRun(job_name="inbound_leads_job", run_id="0123456789abcdef")
    error = f"Attio refused {GOOD_EMAIL} (phone {PHONE})"
    text, blocks = failure_message(run, error)
    rendered = json.dumps(blocks, ensure_ascii=False) + text
    assert leaks(rendered) == []
    assert "m•••@northwind.io" in rendered and "+44••••••••58" in rendered


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("maria@northwind.io", "m•••@northwind.io"),
        ("see maria.lopez@northwind.io, bob@x.co", "see m•••@northwind.io, b•••@x.co"),
        ("invalid email 'a@@b.io'", "invalid email 'a•••@b.io'"),
        ("call +44 20 7946 0958 now", "call +44••••••••58 now"),
        ("at 2026-11-01T10:00:00+00:00 id 12345678", "at 2026-11-01T10:00:00+00:00 id 12345678"),
        ("<@U123> m•••@northwind.io", "<@U123> m•••@northwind.io"),
        ("?filter=maria.lopez%40northwind.io&x=1", "?filter=m•••@northwind.io&x=1"),
    ],
)
def test_mask_personal(raw: str, masked: str) -> None:
    assert mask_personal(raw) == masked


def test_mask_email_and_phone() -> None:
    assert mask_email("maria lopez at northwind") == "m•••"
    assert mask_phone("+442079460958") == "+44••••••••58"
