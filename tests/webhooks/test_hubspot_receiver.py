"""`POST /webhooks/hubspot` over real HTTP (SQLite and PostgreSQL): HubSpot's v3 signature with its
5-minute window, the v2/v1 fall-back, dedupe on the contact and conversion id; the signers of the
receiver and of the HubSpot stand-in checked against vectors computed with openssl
(fixtures/hubspot_signature_vectors.json) and against HubSpot's own documented v2 examples."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from revops_pipelines.domain.hubspot_forms import hubspot_event_id
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.tables import webhook_inbox
from revops_pipelines.webhooks import hubspot
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_sandbox import signatures
from revops_sandbox.hubspot import contact_payload, hubspot_delivery, random_contact, send
from revops_sandbox.hubspot import signed_headers as sandbox_headers
from revops_sandbox.server import serve_in_thread
from tests.webhooks.conftest import Receiver
from tests.webhooks.helpers import FIXTURES, inbox_count

SECRET = "hs-client-secret-DO-NOT-LOG"
FIXTURE = json.loads((FIXTURES / "hubspot_signature_vectors.json").read_text("utf-8"))
BODY = FIXTURE["body"].encode("utf-8")


@pytest.fixture
def hs_receiver(db_url: str) -> Iterator[Receiver]:
    settings = ReceiverSettings(db_url, secrets={}, hubspot_secret=SECRET)
    with (
        serve_in_thread(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield Receiver(server.url, client, store_engine.get_engine(db_url))


def _rows(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(webhook_inbox).order_by(webhook_inbox.c.id)))


def test_the_vector_body_is_the_pinned_bytes() -> None:
    import hashlib

    assert len(BODY) == FIXTURE["body_bytes"]
    assert hashlib.sha256(BODY).hexdigest() == FIXTURE["body_sha256"]


@pytest.mark.parametrize("vector", FIXTURE["vectors"], ids=lambda v: f"{v['version']}:{v['url']}")
def test_receiver_and_stand_in_sign_like_openssl(vector: dict[str, str]) -> None:
    secret, method, stamp = FIXTURE["secret"], FIXTURE["method"], FIXTURE["timestamp"]
    url, expected = vector["url"], vector["expected"]
    if vector["version"] == "v3":
        ours = hubspot.sign_v3(secret, method, hubspot.v3_uri(url), BODY, stamp)
        theirs = signatures.hubspot_signature_v3(secret, method, url, BODY, int(stamp))
        headers = {hubspot.V3_HEADER: expected, hubspot.TIMESTAMP_HEADER: stamp}
    elif vector["version"] == "v2":
        ours = hubspot.sign_v2(secret, method, url, BODY)
        theirs = signatures.hubspot_signature_v2(secret, method, url, BODY)
        headers = {hubspot.LEGACY_HEADER: expected, hubspot.VERSION_HEADER: "v2"}
    else:
        ours = hubspot.sign_v1(secret, BODY)
        theirs = signatures.hubspot_signature_v1(secret, BODY)
        headers = {hubspot.LEGACY_HEADER: expected, hubspot.VERSION_HEADER: "v1"}
    assert ours == theirs == expected
    now = int(stamp) + 60_000
    assert hubspot.verify(secret, method, url, BODY, headers, now) is None
    assert hubspot.verify(secret, method, url, BODY + b" ", headers, now) == "invalid_signature"
    assert hubspot.verify("other", method, url, BODY, headers, now) == "invalid_signature"


@pytest.mark.parametrize("doc", FIXTURE["documented"], ids=lambda d: d["method"])
def test_hubspots_documented_v2_examples(doc: dict[str, str]) -> None:
    body = doc["body"].encode()
    assert hubspot.sign_v2(doc["secret"], doc["method"], doc["url"], body) == doc["expected"]
    assert (
        signatures.hubspot_signature_v2(doc["secret"], doc["method"], doc["url"], body)
        == (doc["expected"])
    )


def test_the_window_is_five_minutes_both_ways() -> None:
    stamp = FIXTURE["timestamp"]
    headers = {
        hubspot.V3_HEADER: FIXTURE["vectors"][0]["expected"],
        hubspot.TIMESTAMP_HEADER: stamp,
    }
    url = FIXTURE["vectors"][0]["url"]
    for skew, outcome in ((299_000, None), (301_000, "timestamp_outside_window")):
        for now in (int(stamp) + skew, int(stamp) - skew):
            assert hubspot.verify(FIXTURE["secret"], "POST", url, BODY, headers, now) == outcome


def test_a_v3_delivery_is_stored_once_and_its_redelivery_is_a_duplicate(
    hs_receiver: Receiver,
) -> None:
    url = f"{hs_receiver.url}/webhooks/hubspot"
    delivery = hubspot_delivery(SECRET, url, random.Random(7))
    first = send(url, delivery)
    assert first.status_code == 202, first.text
    again = send(url, delivery)
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    [row] = _rows(hs_receiver.engine)
    payload = json.loads(delivery.body)
    newest = max(payload["form-submissions"], key=lambda s: s["timestamp"])
    assert (
        row.event_id == f"{payload['vid']}:{newest['conversion-id']}" == hubspot_event_id(payload)
    )
    assert row.body == delivery.body


def test_a_second_form_fill_by_the_same_contact_is_a_new_event(hs_receiver: Receiver) -> None:
    url = f"{hs_receiver.url}/webhooks/hubspot"
    contact = random_contact(random.Random(3))
    now = int(time.time() * 1000)
    for fills in ([("c-1", now - 5000)], [("c-1", now - 5000), ("c-2", now)]):
        body = json.dumps(contact_payload(contact, fills)).encode()
        response = httpx.post(url, content=body, headers=sandbox_headers(SECRET, url, body))
        assert response.status_code == 202
    ids = sorted(r.event_id for r in _rows(hs_receiver.engine))
    assert ids == [f"{contact.vid}:c-1", f"{contact.vid}:c-2"]


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_older_signature_versions_are_accepted_as_the_version_header_says(
    hs_receiver: Receiver, version: str
) -> None:
    url = f"{hs_receiver.url}/webhooks/hubspot"
    delivery = hubspot_delivery(SECRET, url, random.Random(11), version=version)
    assert send(url, delivery).status_code == 202
    wrong = {**delivery.headers, "X-HubSpot-Signature-Version": "v1" if version == "v2" else "v2"}
    other = hubspot_delivery(SECRET, url, random.Random(12), version=version)
    response = httpx.post(url, content=other.body, headers=wrong)
    assert (response.status_code, response.json()) == (401, {"error": "invalid_signature"})
    assert inbox_count(hs_receiver.engine) == 1


def test_refusals_are_clear_and_store_nothing(hs_receiver: Receiver) -> None:
    url = f"{hs_receiver.url}/webhooks/hubspot"
    body = hubspot_delivery(SECRET, url, random.Random(5)).body
    stale = sandbox_headers(SECRET, url, body, timestamp_ms=int(time.time() * 1000) - 301_000)
    cases = {
        "timestamp_outside_window": stale,
        "invalid_signature": sandbox_headers("not-the-secret", url, body),
        "missing_signature": {"Content-Type": "application/json"},
        "unsupported_signature_version": {
            "X-HubSpot-Signature": "00",
            "X-HubSpot-Signature-Version": "v9",
        },
    }
    for error, headers in cases.items():
        response = httpx.post(url, content=body, headers=headers)
        assert (response.status_code, response.json()) == (401, {"error": error})
    bad_json = b'{"vid": 1,'
    response = httpx.post(url, content=bad_json, headers=sandbox_headers(SECRET, url, bad_json))
    assert (response.status_code, response.json()["error"]) == (400, "malformed_json")
    assert inbox_count(hs_receiver.engine) == 0


def test_without_a_client_secret_hubspot_is_refused_with_503(db_url: str) -> None:
    settings = ReceiverSettings(db_url, secrets={})
    with serve_in_thread(create_app(settings)) as server:
        url = f"{server.url}/webhooks/hubspot"
        delivery = hubspot_delivery(SECRET, url, random.Random(1))
        response = httpx.post(url, content=delivery.body, headers=delivery.headers)
    assert response.status_code == 503
    # the sender is not told which variable is missing (issue 15); the log names it
    assert response.json() == {"error": "source_not_configured"}


def test_a_configured_public_url_is_what_the_signature_covers(db_url: str) -> None:
    public = "https://hooks.example.com/webhooks/hubspot"
    settings = ReceiverSettings(db_url, secrets={}, hubspot_secret=SECRET, hubspot_url=public)
    with serve_in_thread(create_app(settings)) as server:
        local = f"{server.url}/webhooks/hubspot"
        body = hubspot_delivery(SECRET, public, random.Random(2)).body
        signed_public = sandbox_headers(SECRET, public, body)
        assert httpx.post(local, content=body, headers=signed_public).status_code == 202
        body2 = hubspot_delivery(SECRET, public, random.Random(3)).body
        signed_local = sandbox_headers(SECRET, local, body2)
        assert httpx.post(local, content=body2, headers=signed_local).status_code == 401
