"""Replay-safe Attio intake (issue 15, item 2): the signature covers the body, not the
`Idempotency-Key` header, so a delivery is a duplicate when its key or its body's digest was seen
within the replay window. Over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from revops_pipelines.store.tables import webhook_digests
from tests.webhooks.conftest import Receiver
from tests.webhooks.helpers import example, inbox_count, signed


def post(receiver: Receiver, body: bytes, key: str) -> int:
    headers = signed("attio", body, **{"idempotency-key": key})
    return receiver.client.post("/webhooks/attio", content=body, headers=headers).status_code


def variant(n: int) -> bytes:
    """A distinct, genuine-looking Attio body (another record)."""
    payload = json.loads(example("attio"))
    payload["events"][0]["id"]["record_id"] = f"00000000-0000-4000-8000-{n:012d}"
    return json.dumps(payload).encode()


def test_a_captured_body_under_a_new_key_is_a_duplicate(receiver: Receiver) -> None:
    body = example("attio")
    assert post(receiver, body, "key-1") == 202
    assert post(receiver, body, "key-1") == 200  # Attio's own retry: same key
    assert post(receiver, body, "forged-key-2") == 200  # a replay: new key, same body
    assert post(receiver, variant(1), "key-4") == 202  # another event is stored
    assert inbox_count(receiver.engine) == 2


def test_the_same_body_after_the_window_is_a_new_event(receiver: Receiver) -> None:
    body = example("attio")
    assert post(receiver, body, "key-1") == 202
    with receiver.engine.begin() as conn:  # the first delivery, six minutes ago
        conn.execute(
            sa.update(webhook_digests).values(seen_at=datetime.now(UTC) - timedelta(minutes=6))
        )
    assert post(receiver, body, "key-2") == 202
    assert post(receiver, body, "key-3") == 200  # and the window starts again
    assert inbox_count(receiver.engine) == 2


def test_a_burst_of_one_body_under_many_keys_stores_one_row(receiver: Receiver) -> None:
    body = example("attio")

    def send(n: int) -> int:
        headers = signed("attio", body, **{"idempotency-key": f"burst-{n}"})
        return httpx.post(
            f"{receiver.url}/webhooks/attio", content=body, headers=headers, timeout=30
        ).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, range(40)))
    assert sorted(statuses) == [200] * 39 + [202]
    assert inbox_count(receiver.engine) == 1

    with ThreadPoolExecutor(max_workers=16) as pool:  # distinct events all land
        statuses = list(
            pool.map(lambda n: post(receiver, variant(n), f"distinct-{n}"), range(2, 22))
        )
    assert statuses == [202] * 20
    assert inbox_count(receiver.engine) == 21


def test_other_sources_keep_their_signed_event_ids(receiver: Receiver) -> None:
    """Typeform's event id is inside the signed body: two ids are two events, even when the
    rest of the body is equal (the digest rule is only for Attio)."""
    payload = json.loads(example("typeform"))
    for n in range(2):
        payload["event_id"] = f"evt-{n}"
        body = json.dumps(payload).encode()
        response = receiver.client.post(
            "/webhooks/typeform", content=body, headers=signed("typeform", body)
        )
        assert response.status_code == 202
    assert inbox_count(receiver.engine) == 2
