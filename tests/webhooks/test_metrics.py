"""`GET /metrics` after real HTTP traffic: request and signature-failure counters by source and
status, the latency histogram, and the inbox gauges read from the store at scrape time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from revops_pipelines.store import inbox
from revops_pipelines.store.tables import INBOX_STATUSES, webhook_inbox
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_sandbox.server import serve_in_thread
from tests.webhooks.conftest import Receiver
from tests.webhooks.helpers import SECRETS, example, signed

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def typeform_body(event_id: str) -> bytes:
    payload = json.loads(example("typeform"))
    payload["event_id"] = event_id
    return json.dumps(payload).encode()


def post(receiver: Receiver, source: str, body: bytes, headers: dict[str, str]) -> int:
    return receiver.client.post(f"/webhooks/{source}", content=body, headers=headers).status_code


def test_counters_by_source_and_status_after_real_traffic(receiver: Receiver) -> None:
    statuses = [
        post(receiver, "typeform", typeform_body("m-1"), signed("typeform", typeform_body("m-1"))),
        post(receiver, "typeform", typeform_body("m-2"), signed("typeform", typeform_body("m-2"))),
        post(receiver, "typeform", typeform_body("m-1"), signed("typeform", typeform_body("m-1"))),
        post(receiver, "tally", example("tally"), signed("tally", example("tally"), secret="x")),
        post(receiver, "attio", example("attio"), {"content-type": "application/json"}),
        post(receiver, "nope", b"{}", {}),
        post(receiver, "z" * 60, b"{}", {}),
    ]
    assert statuses == [202, 202, 200, 401, 401, 404, 404]

    samples = scrape(receiver.client)
    requests = "revops_webhook_requests_total"
    assert value(samples, requests, source="typeform", status="202") == 2
    assert value(samples, requests, source="typeform", status="200") == 1
    assert value(samples, requests, source="tally", status="401") == 1
    assert value(samples, requests, source="attio", status="401") == 1
    # Unknown path segments share one label: random paths cannot create new series.
    assert value(samples, requests, source="unknown", status="404") == 2
    assert not any(dict(labels).get("source") in ("nope", "z" * 60) for _, labels in samples)
    assert sum(v for (name, _), v in samples.items() if name == requests) == 7

    failures = "revops_webhook_signature_failures_total"
    assert value(samples, failures, source="tally", reason="invalid") == 1
    assert value(samples, failures, source="attio", reason="missing") == 1
    assert value(samples, failures, source="typeform", reason="invalid") == 0
    assert value(samples, failures, source="segment", reason="missing") == 0

    latency = "revops_webhook_request_duration_seconds"
    assert value(samples, f"{latency}_count", source="typeform") == 3
    assert value(samples, f"{latency}_bucket", source="typeform", le="+Inf") == 3
    assert 0 < (value(samples, f"{latency}_sum", source="typeform") or 0) < 30

    openmetrics = receiver.client.get(
        "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")

    # The scrape itself is not a webhook request.
    again = scrape(receiver.client)
    assert value(again, requests, source="typeform", status="202") == 2


def test_inbox_depth_and_oldest_pending_age_are_read_at_scrape_time(receiver: Receiver) -> None:
    ids = []
    for n in range(3):
        body = typeform_body(f"age-{n}")
        response = receiver.client.post(
            "/webhooks/typeform", content=body, headers=signed("typeform", body)
        )
        ids.append(response.json()["id"])

    samples = scrape(receiver.client)
    assert value(samples, "revops_webhook_inbox_scrape_ok") == 1
    rows = {
        status: value(samples, "revops_webhook_inbox_rows", status=status)
        for status in INBOX_STATUSES
    }
    # `done` is not counted at scrape time (issue 15: the scrape's cost follows the backlog).
    assert rows == {"pending": 3, "processing": 0, "done": None, "failed": 0, "quarantined": 0}
    assert 0 <= (value(samples, "revops_webhook_inbox_oldest_pending_age_seconds") or -1) < 60

    # Age the rows: the oldest pending one decides the gauge, whatever the others are.
    now = datetime.now(UTC)
    with receiver.engine.begin() as conn:
        for row_id, hours in zip(ids, (3, 2, 1), strict=True):
            conn.execute(
                sa.update(webhook_inbox)
                .where(webhook_inbox.c.id == row_id)
                .values(received_at=now - timedelta(hours=hours))
            )
    age = value(scrape(receiver.client), "revops_webhook_inbox_oldest_pending_age_seconds")
    assert age is not None and 3 * 3600 <= age < 3 * 3600 + 60

    # A run claims and settles the oldest row; a second one is claimed and still processing.
    inbox.claim_batch(receiver.engine, "typeform", limit=1, claimed_by="run-a", ids=[ids[0]])
    assert inbox.mark_done(receiver.engine, [ids[0]], claimed_by="run-a") == 1
    inbox.claim_batch(receiver.engine, "typeform", limit=1, claimed_by="run-b", ids=[ids[1]])
    samples = scrape(receiver.client)
    rows = {
        status: value(samples, "revops_webhook_inbox_rows", status=status)
        for status in INBOX_STATUSES
    }
    assert rows == {"pending": 1, "processing": 1, "done": None, "failed": 0, "quarantined": 0}
    age = value(samples, "revops_webhook_inbox_oldest_pending_age_seconds")
    assert age is not None and 3600 <= age < 3600 + 60

    inbox.claim_batch(receiver.engine, "typeform", limit=1, claimed_by="run-c", ids=[ids[2]])
    assert value(scrape(receiver.client), "revops_webhook_inbox_oldest_pending_age_seconds") == 0


def test_each_app_counts_apart_but_reads_the_same_inbox(receiver: Receiver, db_url: str) -> None:
    body = typeform_body("apart-1")
    assert post(receiver, "typeform", body, signed("typeform", body)) == 202
    settings = ReceiverSettings(db_url, secrets=SECRETS)
    with (
        serve_in_thread(create_app(settings)) as other,
        httpx.Client(base_url=other.url, timeout=10) as client,
    ):
        samples = scrape(client)
    assert value(samples, "revops_webhook_requests_total", source="typeform", status="202") is None
    assert value(samples, "revops_webhook_inbox_rows", status="pending") == 1
    first = scrape(receiver.client)
    assert value(first, "revops_webhook_requests_total", source="typeform", status="202") == 1


def test_an_unreadable_inbox_keeps_the_counters_and_reports_scrape_ok_0(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    body = typeform_body("outage-1")
    assert post(receiver, "typeform", body, signed("typeform", body)) == 202
    with receiver.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE webhook_inbox RENAME TO webhook_inbox_away"))
    try:
        samples = scrape(receiver.client)
    finally:
        with receiver.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE webhook_inbox_away RENAME TO webhook_inbox"))
    assert value(samples, "revops_webhook_inbox_scrape_ok") == 0
    assert "metrics: inbox unreadable" in [r.getMessage() for r in caplog.records]
    assert not any(name == "revops_webhook_inbox_rows" for name, _ in samples)
    assert value(samples, "revops_webhook_requests_total", source="typeform", status="202") == 1
    assert value(scrape(receiver.client), "revops_webhook_inbox_scrape_ok") == 1
