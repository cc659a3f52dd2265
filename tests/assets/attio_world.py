"""Flow C over real HTTP, shared by the Attio-events asset tests: the Attio and Slack sandboxes,
the receiver on the test store, and Attio's deliveries signed and posted to it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_sandbox.server import serve_in_thread
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN
from tests.resources.attio_helpers import connect
from tests.webhooks.helpers import sign

SECRET = "test-attio-secret"


@contextmanager
def attio_world(
    slack: Any, attio_sandbox: Any, db_url: str, instance: Any, monkeypatch: Any
) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("ATTIO_API_KEY", "sandbox-attio-key")
    monkeypatch.setenv("ATTIO_BASE_URL", attio_sandbox.api_url)
    monkeypatch.setenv(store_engine.DATABASE_URL_ENV, db_url)
    resources = {
        "database": RevopsDatabase(url=db_url),
        "attio": AttioResource(
            api_key="sandbox-attio-key",
            base_url=attio_sandbox.api_url,
            max_attempts=2,
            max_total_wait_seconds=1.0,
        ),
        "slack": SlackResource(token=SLACK_SANDBOX_TOKEN, base_url=f"{slack.url}/api/"),
    }
    settings = ReceiverSettings(database_url=db_url, secrets={"attio": SECRET})
    with serve_in_thread(create_app(settings)) as receiver:
        yield {
            "attio": attio_sandbox,
            "slack": slack,
            "resources": resources,
            "receiver": receiver.url,
            "instance": instance,
            "engine": store_engine.get_engine(db_url),
        }


def attio(world: dict[str, Any], action: Any) -> Any:
    """Run `action(client)` against the Attio sandbox over HTTP."""

    async def go() -> Any:
        client = connect(world["attio"])
        try:
            return await action(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


def deliver(world: dict[str, Any], key: str, *events: dict[str, Any]) -> int:
    """POST one signed Attio delivery of `events` under Idempotency-Key `key`."""
    body = json.dumps({"webhook_id": "wh-1", "events": list(events)}).encode()
    headers = {"Attio-Signature": sign("attio", SECRET, body), "Idempotency-Key": key}
    return httpx.post(
        f"{world['receiver']}/webhooks/attio", content=body, headers=headers
    ).status_code
