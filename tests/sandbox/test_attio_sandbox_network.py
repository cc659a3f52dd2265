"""What the Attio sandbox does to a client on the wire: auth, rate limits, latency, faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from revops_sandbox.attio import AttioSandbox
from revops_sandbox.server import RunningServer, serve_in_thread
from tests.sandbox import attio_helpers as h
from tests.sandbox.attio_helpers import API_KEY

RATE_LIMITED = {
    "status_code": 429,
    "type": "rate_limit_error",
    "code": "rate_limit_exceeded",
    "message": "Rate limit exceeded, please try again later",
}

sandbox, server, client = h.sandbox, h.server, h.client


def company(client: httpx.Client, domain: str) -> httpx.Response:
    return client.post(
        "/v2/objects/companies/records", json={"data": {"values": {"domains": [domain]}}}
    )


def domains(sandbox: AttioSandbox) -> list[str]:
    return [r["values"]["domains"][0]["domain"] for r in sandbox.records("companies")]


# --- auth -----------------------------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Basic c2FuZGJveDo="])
def test_missing_or_unknown_credentials_are_401(
    server: RunningServer, sandbox: AttioSandbox, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    payload = {"data": {"values": {"domains": ["a.com"]}}}
    response = httpx.post(
        f"{server.url}/v2/objects/companies/records", headers=headers, json=payload
    )
    assert response.status_code == 401
    body = response.json()
    assert (body["status_code"], body["type"], body["code"]) == (401, "auth_error", "unauthorized")
    assert body["message"]
    assert sandbox.records("companies") == []


# --- rate limits ----------------------------------------------------------------------------
@pytest.fixture
def limited() -> Iterator[tuple[AttioSandbox, httpx.Client]]:
    sb = AttioSandbox(api_keys=(API_KEY, "second-key"), write_rate=3, read_rate=5)
    with serve_in_thread(sb.app) as server:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with httpx.Client(base_url=server.url, headers=headers) as c:
            yield sb, c


def test_write_budget_gives_429_with_an_http_date_and_applies_nothing(
    limited: tuple[AttioSandbox, httpx.Client],
) -> None:
    sb, client = limited
    answers = [company(client, f"c{i}.com") for i in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    refused = answers[3]
    assert refused.json() == RATE_LIMITED
    retry_at = parsedate_to_datetime(refused.headers["Retry-After"])
    now = datetime.now(UTC)
    assert retry_at.tzinfo is not None and 0 <= (retry_at - now).total_seconds() <= 2
    assert refused.headers["Retry-After"].endswith(" GMT")
    assert domains(sb) == ["c0.com", "c1.com", "c2.com"]
    # Reads have their own budget, query POSTs count as reads, and other keys are not affected.
    assert client.get("/v2/objects").status_code == 200
    assert client.post("/v2/objects/companies/records/query", json={}).status_code == 200
    other = client.post(
        "/v2/objects/companies/records",
        headers={"Authorization": "Bearer second-key"},
        json={"data": {"values": {"domains": ["other.com"]}}},
    )
    assert other.status_code == 200
    time.sleep(max(0.0, (retry_at - datetime.now(UTC)).total_seconds()) + 0.05)
    assert company(client, "c3.com").status_code == 200
    stats = sb.stats()
    assert stats["rate_limited"] == 1
    assert stats["writes_applied"] == 5


def test_a_refused_request_does_not_use_up_budget(
    limited: tuple[AttioSandbox, httpx.Client],
) -> None:
    sb, client = limited
    assert [client.get("/v2/objects").status_code for _ in range(5)] == [200] * 5
    time.sleep(0.6)
    assert [client.get("/v2/objects").status_code for _ in range(3)] == [429] * 3
    time.sleep(0.5)  # the five admitted reads have left the window; refused ones never entered
    assert [client.get("/v2/objects").status_code for _ in range(5)] == [200] * 5
    assert sb.stats()["rate_limited"] == 3


def test_rates_change_at_runtime_over_http(limited: tuple[AttioSandbox, httpx.Client]) -> None:
    _, client = limited
    assert client.post("/_sandbox/config", json={"write_rate": 1}).json()["write_rate"] == 1
    assert [company(client, f"r{i}.com").status_code for i in range(2)] == [200, 429]
    assert client.post("/_sandbox/config", json={"write_rate": None}).status_code == 200
    assert [company(client, f"s{i}.com").status_code for i in range(10)] == [200] * 10
    assert client.post("/_sandbox/config", json={"write_rate": -1}).status_code == 400
    assert client.post("/_sandbox/config", json={"bogus": 1}).status_code == 400


def test_latency_is_added_to_every_request(sandbox: AttioSandbox, client: httpx.Client) -> None:
    sandbox.configure(latency_ms=150)
    started = time.monotonic()
    client.get("/v2/objects")
    assert time.monotonic() - started >= 0.15
    sandbox.configure(latency_ms=0)
    started = time.monotonic()
    client.get("/v2/objects")
    assert time.monotonic() - started < 0.15


# --- faults ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_errors_are_answered_before_applying(
    sandbox: AttioSandbox, client: httpx.Client, kind: str
) -> None:
    sandbox.faults.configure({"next": [kind]})
    response = company(client, "acme.com")
    assert response.status_code == int(kind)
    body = response.json()
    assert body["status_code"] == int(kind) and body["code"] and body["message"]
    assert domains(sandbox) == []
    assert company(client, "acme.com").status_code == 200  # the queue held one fault
    assert sandbox.stats()["faults_injected"] == {kind: 1}


@pytest.mark.parametrize(
    ("kind", "applied"), [("drop_before_apply", False), ("drop_after_apply", True)]
)
def test_dropped_connections(
    sandbox: AttioSandbox, client: httpx.Client, kind: str, applied: bool
) -> None:
    sandbox.faults.configure({"next": [kind]})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        company(client, "acme.com")
    assert domains(sandbox) == (["acme.com"] if applied else [])
    retry = company(client, "acme.com")
    if applied:  # the retry of an ambiguous create meets its own first attempt
        assert retry.json()["code"] == "uniqueness_conflict"
    else:
        assert retry.status_code == 200
    assert sandbox.stats()["writes_applied"] == 1


def test_timeout_after_apply(sandbox: AttioSandbox, client: httpx.Client) -> None:
    sandbox.faults.configure({"next": ["timeout_after_apply"], "timeout_seconds": 1.5})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/v2/objects/companies/records",
            json={"data": {"values": {"domains": ["slow.com"]}}},
            timeout=0.4,
        )
    assert time.monotonic() - started < 1.5
    assert domains(sandbox) == ["slow.com"]
    sandbox.faults.configure({"next": ["timeout_after_apply"], "timeout_seconds": 0.6})
    started = time.monotonic()
    patient = company(client, "patient.com")  # a client that waits gets the late answer
    assert patient.status_code == 200 and time.monotonic() - started >= 0.6
    assert domains(sandbox) == ["slow.com", "patient.com"]


def test_faults_only_hit_matching_requests(sandbox: AttioSandbox, client: httpx.Client) -> None:
    sandbox.faults.configure(
        {"next": ["503", "500"], "methods": ["POST"], "path": r"/objects/people/"}
    )
    assert client.get("/v2/objects").status_code == 200
    assert company(client, "a.com").status_code == 200
    person = {"data": {"values": {"email_addresses": ["p@a.com"]}}}
    codes = [client.post("/v2/objects/people/records", json=person).status_code for _ in range(3)]
    assert codes == [503, 500, 200]
    assert sandbox.faults.describe()["next"] == []


def test_seeded_random_faults_repeat(sandbox: AttioSandbox, client: httpx.Client) -> None:
    spec: dict[str, Any] = {"rate": 0.5, "kinds": ["503"], "methods": ["POST"], "seed": 7}

    def run() -> list[int]:
        sandbox.faults.configure(spec)
        return [
            client.post("/v2/objects/people/records/query", json={}).status_code for _ in range(16)
        ]

    first, second = run(), run()
    assert first == second
    assert set(first) == {200, 503}
    assert client.get("/v2/objects").status_code == 200  # GET is not in the methods


def test_admin_routes_over_http(
    sandbox: AttioSandbox, client: httpx.Client, server: RunningServer
) -> None:
    admin = httpx.Client(base_url=server.url)  # no credentials: the admin routes need none
    assert admin.post("/_sandbox/faults", json={"next": ["drop_after_apply"]}).json()["next"] == [
        "drop_after_apply"
    ]
    assert admin.post("/_sandbox/faults", json={"next": ["boom"]}).status_code == 400
    assert admin.delete("/_sandbox/faults").json()["next"] == []
    assert company(client, "kept.com").status_code == 200
    stats = admin.get("/_sandbox/stats").json()
    assert stats["requests"]["POST /v2/objects/{object}/records"] == 1
    assert stats["records"]["companies"] == 1 and stats["writes_applied"] == 1
    assert (
        admin.post("/_sandbox/config", json={"auto_create_company_from_email": False}).json()[
            "auto_create_company_from_email"
        ]
        is False
    )
    assert admin.post("/_sandbox/reset").status_code == 200
    assert sandbox.records("companies") == []
    assert admin.get("/_sandbox/stats").json()["writes_applied"] == 0
    admin.close()


def test_a_client_gone_before_its_body_is_not_a_sandbox_failure(
    server: RunningServer,
    sandbox: AttioSandbox,
    client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(server.url)
    head = (
        "POST /v2/objects/companies/records HTTP/1.1\r\n"
        f"Host: {where.netloc}\r\nAuthorization: Bearer {API_KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    )
    with socket.create_connection((where.hostname, where.port)) as raw:  # a killed run's write
        raw.sendall(head.encode() + b'{"data": {"values": {"domains": ["half')
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not sandbox.stats()["requests"]:
        time.sleep(0.05)
    time.sleep(0.3)
    assert sandbox.stats()["requests"], "the request never reached the sandbox"
    assert sandbox.records("companies") == []
    assert not [r for r in caplog.records if "Attio sandbox failed" in r.getMessage()]
    assert company(client, "whole.com").status_code == 200  # still serving
