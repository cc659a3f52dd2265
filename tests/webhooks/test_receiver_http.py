"""The receiver over real HTTP: documented payloads stored once, bad deliveries refused, nothing
written unless the answer is 202."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import sqlalchemy as sa

from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_pipelines.webhooks import writer as writer_module
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_pipelines.webhooks.sources import SIGNATURE_HEADER
from revops_sandbox.server import serve_in_thread
from tests.webhooks.conftest import TEST_BODY_LIMIT, Receiver
from tests.webhooks.helpers import SECRETS, example, inbox_count, signed

EXPECTED_EVENT_IDS = {
    "typeform": "LtWXD3crgy",
    "tally": "02ee4066-93f1-446b-8115-259577c22366",
    "attio": "attio-delivery-7f3c",
    "segment": "ajs-next-69f8a1c4e0b14f3d9d1c2e7a5b6c8d90",
}


@pytest.mark.parametrize("source", ["typeform", "tally", "attio", "segment"])
def test_documented_example_is_stored_once_across_five_redeliveries(
    receiver: Receiver, source: str
) -> None:
    body = example(source)
    headers = signed(
        source, body, **({"idempotency-key": "attio-delivery-7f3c"} if source == "attio" else {})
    )
    first = receiver.client.post(f"/webhooks/{source}", content=body, headers=headers)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "stored"
    for _ in range(5):
        again = receiver.client.post(f"/webhooks/{source}", content=body, headers=headers)
        assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert inbox_count(receiver.engine) == 1
    [row] = inbox.get_rows(receiver.engine, [first.json()["id"]])
    assert row.source == source and row.event_id == EXPECTED_EVENT_IDS[source]
    assert row.body == body  # the raw bytes, byte for byte
    assert row.status == "pending"
    assert row.headers[SIGNATURE_HEADER[source]] == headers[SIGNATURE_HEADER[source]]
    assert SECRETS[source] not in json.dumps(row.headers)


def test_attio_without_idempotency_key_is_keyed_by_body_hash(receiver: Receiver) -> None:
    body = example("attio")
    for expected in (202, 200, 200):
        response = receiver.client.post(
            "/webhooks/attio", content=body, headers=signed("attio", body)
        )
        assert response.status_code == expected
    [row] = inbox.rows_with_status(receiver.engine, "pending")
    assert row.event_id == inbox.body_event_id(body)


@pytest.mark.parametrize("event_id", ["a\u0000b", "x" * 300, 42, "", None, ["list"]])
def test_odd_event_ids_are_stored_under_a_safe_key(receiver: Receiver, event_id: object) -> None:
    body = json.dumps({"eventId": event_id, "eventType": "FORM_RESPONSE"}).encode()
    response = receiver.client.post("/webhooks/tally", content=body, headers=signed("tally", body))
    assert response.status_code == 202, response.text
    [row] = inbox.get_rows(receiver.engine, [response.json()["id"]])
    if event_id == 42:
        assert row.event_id == "42"
    else:
        assert row.event_id.startswith("sha256:")
    again = receiver.client.post("/webhooks/tally", content=body, headers=signed("tally", body))
    assert again.status_code == 200


def test_attio_legacy_signature_header_and_uppercase_hex_are_accepted(receiver: Receiver) -> None:
    body = example("attio")
    signature = signed("attio", body)["attio-signature"].upper()
    response = receiver.client.post(
        "/webhooks/attio", content=body, headers={"x-attio-signature": signature}
    )
    assert response.status_code == 202


def _rejections() -> list[tuple[str, str, bytes, dict[str, str], int, str]]:
    tf = example("typeform")
    changed = tf.replace(b"laura@example.com", b"laura@example.con")
    assert len(changed) == len(tf) and changed != tf
    too_big = b'{"event_id": "big", "pad": "' + b"x" * TEST_BODY_LIMIT + b'"}'
    deep = b"[" * 20_000 + b"]" * 20_000
    return [
        (
            "wrong-secret",
            "typeform",
            tf,
            signed("typeform", tf, secret="not-the-secret"),
            401,
            "invalid_signature",
        ),
        ("one-byte-changed", "typeform", changed, signed("typeform", tf), 401, "invalid_signature"),
        (
            "missing-header",
            "typeform",
            tf,
            {"content-type": "application/json"},
            401,
            "missing_signature",
        ),
        (
            "tally-sig-on-typeform",
            "typeform",
            tf,
            {"tally-signature": signed("tally", tf)["tally-signature"]},
            401,
            "missing_signature",
        ),
        (
            "prefix-missing",
            "typeform",
            tf,
            {"typeform-signature": signed("typeform", tf)["typeform-signature"][7:]},
            401,
            "invalid_signature",
        ),
        (
            "malformed-json",
            "tally",
            b'{"eventId": "x",',
            signed("tally", b'{"eventId": "x",'),
            400,
            "malformed_json",
        ),
        ("json-not-object", "tally", b"[1, 2]", signed("tally", b"[1, 2]"), 400, "malformed_json"),
        (
            "not-utf8",
            "tally",
            b"\xff\xfe\xfa",
            signed("tally", b"\xff\xfe\xfa"),
            400,
            "malformed_json",
        ),
        ("deeply-nested-json", "tally", deep, signed("tally", deep), 400, "malformed_json"),
        ("empty-body-signed", "typeform", b"", signed("typeform", b""), 400, "malformed_json"),
        ("empty-body-unsigned", "typeform", b"", {}, 401, "missing_signature"),
        ("oversized", "typeform", too_big, signed("typeform", too_big), 413, "payload_too_large"),
        (
            "attio-wrong-sig",
            "attio",
            example("attio"),
            {"attio-signature": "00" * 32},
            401,
            "invalid_signature",
        ),
        (
            "segment-sha256-not-sha1",
            "segment",
            b"{}",
            {"x-signature": signed("attio", b"{}", secret=SECRETS["segment"])["attio-signature"]},
            401,
            "invalid_signature",
        ),
    ]


@pytest.mark.parametrize(
    ("source", "body", "headers", "status", "error"),
    [r[1:] for r in _rejections()],
    ids=[r[0] for r in _rejections()],
)
def test_bad_deliveries_get_the_right_status_and_write_nothing(
    receiver: Receiver, source: str, body: bytes, headers: dict[str, str], status: int, error: str
) -> None:
    response = receiver.client.post(f"/webhooks/{source}", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert inbox_count(receiver.engine) == 0


def test_oversized_streamed_body_without_length_is_cut_off_with_413(receiver: Receiver) -> None:
    def chunks():
        for _ in range(4):
            yield b"x" * (TEST_BODY_LIMIT // 2)

    response = receiver.client.post(
        "/webhooks/typeform", content=chunks(), headers={"typeform-signature": "sha256=AAAA"}
    )
    assert response.status_code == 413
    assert inbox_count(receiver.engine) == 0


def test_unknown_source_is_404_and_wrong_method_405(receiver: Receiver) -> None:
    body = example("typeform")
    response = receiver.client.post(
        "/webhooks/zapier", content=body, headers=signed("typeform", body)
    )
    assert (response.status_code, response.json()) == (404, {"error": "unknown_source"})
    assert receiver.client.get("/webhooks/typeform").status_code == 405
    assert inbox_count(receiver.engine) == 0


def test_healthz_reports_database_and_sources(receiver: Receiver) -> None:
    response = receiver.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "sources": {
            **dict.fromkeys(["typeform", "tally", "attio", "segment"], "mounted"),
            "hubspot": "refused",  # the fixture gives HubSpot no client secret
        },
    }


def test_source_without_secret_is_refused_loudly_and_stores_nothing(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = {k: v for k, v in SECRETS.items() if k != "tally"}
    with caplog.at_level(logging.INFO, logger="revops.webhooks"):
        app = create_app(ReceiverSettings(db_url, secrets=secrets))
    refused = [
        r for r in caplog.records if getattr(r, "fields", {}).get("event") == "source_refused"
    ]
    assert [(r.levelno, r.fields["source"]) for r in refused] == [(logging.ERROR, "tally")]
    assert "TALLY_WEBHOOK_SECRET" in refused[0].getMessage()
    body = example("tally")
    with serve_in_thread(app) as server:
        response = httpx.post(
            f"{server.url}/webhooks/tally", content=body, headers=signed("tally", body)
        )
        health = httpx.get(f"{server.url}/healthz").json()
    assert response.status_code == 503
    assert response.json()["error"] == "source_not_configured"
    assert health["sources"]["tally"] == "refused"
    assert inbox_count(store_engine.get_engine(db_url)) == 0


def test_storage_failure_is_503_not_500(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(writer_module.inbox, "store_events", broken)
    body = example("typeform")
    response = receiver.client.post(
        "/webhooks/typeform", content=body, headers=signed("typeform", body)
    )
    assert (response.status_code, response.json()) == (503, {"error": "storage_unavailable"})


def test_unexpected_error_is_503_not_500(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*_args: object, **_kwargs: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(writer_module.inbox, "store_events", bug)
    body = example("typeform")
    response = receiver.client.post(
        "/webhooks/typeform", content=body, headers=signed("typeform", body)
    )
    assert response.status_code == 503


def test_logs_are_structured_without_secrets_or_payloads(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    from revops_pipelines.webhooks.logs import JsonFormatter

    body = example("typeform")
    with caplog.at_level(logging.INFO, logger="revops.webhooks"):
        receiver.client.post("/webhooks/typeform", content=body, headers=signed("typeform", body))
        receiver.client.post(
            "/webhooks/typeform", content=body, headers=signed("typeform", body, secret="x")
        )
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == "revops.webhooks"]
    entries = [json.loads(line) for line in lines]
    assert [(e["http_status"], e["outcome"]) for e in entries] == [
        (202, "stored"),
        (401, "invalid_signature"),
    ]
    assert entries[0]["event_id"] == "LtWXD3crgy" and entries[0]["source"] == "typeform"
    text = "\n".join(lines)
    for secret in SECRETS.values():
        assert secret not in text
    assert "laura@example.com" not in text and "sha256=" not in text
