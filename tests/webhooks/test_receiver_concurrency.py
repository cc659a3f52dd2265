"""Many deliveries at once: group commit stores each exactly once, redeliveries racing each other
included, and every 202 is a committed row."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx

from revops_pipelines.store import inbox
from tests.webhooks.conftest import Receiver
from tests.webhooks.helpers import example, inbox_count, signed


def _post(url: str, body: bytes) -> int:
    return httpx.post(
        f"{url}/webhooks/typeform", content=body, headers=signed("typeform", body)
    ).status_code


def test_concurrent_distinct_posts_are_all_stored(receiver: Receiver) -> None:
    template = json.loads(example("typeform"))
    bodies = [json.dumps({**template, "event_id": f"evt-{i}"}).encode() for i in range(60)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda b: _post(receiver.url, b), bodies))
    assert statuses == [202] * 60
    assert inbox_count(receiver.engine) == 60
    assert {r.event_id for r in inbox.rows_with_status(receiver.engine, "pending", limit=100)} == {
        f"evt-{i}" for i in range(60)
    }


def test_racing_redeliveries_of_one_event_store_it_once(receiver: Receiver) -> None:
    body = example("typeform")
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(lambda _: _post(receiver.url, body), range(10)))
    assert statuses == [200] * 9 + [202]
    assert inbox_count(receiver.engine) == 1
