"""The Attio sandbox served over a real socket, an httpx client for it, and request helpers.

Fixtures are bound in each test module (`sandbox, server, client = h.sandbox, h.server, h.client`)
so that this directory's conftest stays free for the other stand-ins' tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from revops_sandbox.attio import AttioSandbox
from revops_sandbox.server import RunningServer, serve_in_thread

API_KEY = "sandbox-attio-key"


@pytest.fixture
def sandbox() -> AttioSandbox:
    # Generous budgets so that only the tests about rate limits ever meet them.
    return AttioSandbox(api_keys=(API_KEY,), write_rate=1000.0, read_rate=1000.0)


@pytest.fixture
def server(sandbox: AttioSandbox) -> Iterator[RunningServer]:
    with serve_in_thread(sandbox.app) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10.0) as c:
        yield c


def create(client: httpx.Client, obj: str, values: dict[str, Any]) -> httpx.Response:
    return client.post(f"/v2/objects/{obj}/records", json={"data": {"values": values}})


def assert_record(
    client: httpx.Client, obj: str, attr: str, values: dict[str, Any]
) -> httpx.Response:
    return client.put(
        f"/v2/objects/{obj}/records",
        params={"matching_attribute": attr},
        json={"data": {"values": values}},
    )


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status
    assert body["code"] == code
    assert body["type"] == "invalid_request_error"
    assert isinstance(body["message"], str) and body["message"]
    return body


def query(client: httpx.Client, obj: str, **body: Any) -> list[dict[str, Any]]:
    return ok(client.post(f"/v2/objects/{obj}/records/query", json=body))
