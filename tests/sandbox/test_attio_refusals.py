"""The Attio sandbox refuses chosen records for good (`"refuse"` in `POST /_sandbox/faults`):
every write naming the value gets Attio's 400 validation error in its documented shape, other
writes and every read go through, and clearing the faults lifts it."""

from __future__ import annotations

import httpx

from revops_sandbox.attio import AttioSandbox
from revops_sandbox.server import serve_in_thread
from revops_sandbox.slack import SlackSandbox
from tests.sandbox import attio_helpers as h

sandbox, server, client = h.sandbox, h.server, h.client
REFUSED = "Maria.Lopez@Northwind.io"


def person(client: httpx.Client, email: str) -> httpx.Response:
    return h.assert_record(client, "people", "email_addresses", {"email_addresses": [email]})


def test_a_refused_email_gets_attios_validation_error_every_time(
    sandbox: AttioSandbox, client: httpx.Client
) -> None:
    admin = client.post("/_sandbox/faults", json={"refuse": [REFUSED.lower()]})
    assert admin.status_code == 200 and admin.json()["refuse"][0]["value"] == REFUSED.lower()
    for _ in range(3):  # for good: not a queued, one-off fault
        body = h.error(person(client, REFUSED), 400, "validation_type")
        assert set(body) == {"status_code", "type", "code", "message", "validation_errors"}
        assert body["message"] == (
            'An invalid value was passed to attribute with slug "email_addresses".'
        )
        assert body["validation_errors"] == [
            {
                "code": "custom",
                "path": ["data", "values", "email_addresses", 0],
                "message": f'Invalid value "{REFUSED}".',
            }
        ]
    assert sandbox.records("people") == []
    assert sandbox.stats()["faults_injected"] == {"refuse": 3}
    # Other writes, and reads naming the value, go through.
    other = h.ok(person(client, "bob@northwind.io"))
    filtered = {"filter": {"email_addresses": REFUSED}}
    assert client.post("/v2/objects/people/records/query", json=filtered).status_code == 200
    # A chosen record id refuses the writes that name it, in the path or in the body.
    record_id = other["id"]["record_id"]
    sandbox.faults.refuse(record_id, code="immutable_value", message="This record is locked.")
    update = client.patch(
        f"/v2/objects/people/records/{record_id}",
        json={"data": {"values": {"job_title": "CTO"}}},
    )
    assert h.error(update, 400, "immutable_value")["message"] == "This record is locked."
    note = {
        "data": {
            "parent_object": "people",
            "parent_record_id": record_id,
            "title": "t",
            "format": "plaintext",
            "content": "c",
        }
    }
    h.error(client.post("/v2/notes", json=note), 400, "immutable_value")
    assert sandbox.notes() == []
    # Clearing the faults lifts every refusal.
    assert client.delete("/_sandbox/faults").json()["refuse"] == []
    assert person(client, REFUSED).status_code == 200
    assert client.post("/v2/notes", json=note).status_code == 200


def test_bad_refusals_are_refused_and_only_attio_takes_them(client: httpx.Client) -> None:
    for spec in ({"refuse": "x"}, {"refuse": [""]}, {"refuse": [{"value": "x", "code": "nope"}]}):
        assert client.post("/_sandbox/faults", json=spec).status_code == 400
    slack = SlackSandbox()
    with serve_in_thread(slack.app) as running:
        answer = httpx.post(f"{running.url}/_sandbox/faults", json={"refuse": ["x@y.io"]})
    assert answer.status_code == 400 and "Attio" in answer.json()["error"]
