"""Circuit breakers around the outside APIs, against the real sandboxes over loopback.

Each test injects faults through a sandbox's admin routes, drives the real client until its
breaker opens, and reads the sandbox's own request counters to prove that an open breaker sends
nothing. Breakers are per process and keyed by URL and credential, so each test starts from an
empty registry and makes its breaker first, with test thresholds (a 0.3 s reset).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import requests
from simple_salesforce import exceptions as sf_exc

from revops_pipelines.infra.breaker import (
    BreakerSettings,
    CircuitOpenError,
    breaker_for,
    breaker_settings,
    counts_toward_opening,
    reset_breakers,
)
from revops_pipelines.resources.attio import AttioClient, AttioError, RetrySettings
from revops_pipelines.resources.enrichment import EnrichmentResource
from revops_pipelines.resources.outreach import OutreachError, OutreachResource
from revops_pipelines.resources.salesforce import SalesforceApiError, SalesforceResource
from revops_pipelines.resources.slack import SlackError, SlackResource
from revops_pipelines.services.leads.enrichment import CompanyEnrichment
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_sandbox.attio import AttioSandbox
from revops_sandbox.enrichment import ENRICHMENT_SANDBOX_KEY
from revops_sandbox.form_traffic import typeform_delivery
from revops_sandbox.outreach import OUTREACH_SANDBOX_TOKEN
from revops_sandbox.server import serve_in_thread
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN
from tests.assets.test_lead_flow import (  # the lead-flow world, and its fixtures
    SECRET,
    deliver,
    run_backlog,
    run_sensor_batches,
    world,  # noqa: F401
)

KEY_A, KEY_B = "breaker-key-a", "breaker-key-b"
FAST = RetrySettings(max_attempts=2, max_total_wait_seconds=2, initial_backoff_seconds=0.01)
TEST_SETTINGS = BreakerSettings(fail_max=3, reset_timeout=0.3)


@pytest.fixture(autouse=True)
def fresh_breakers() -> Iterator[None]:
    reset_breakers()
    yield
    reset_breakers()


@pytest.fixture(scope="module")
def attio() -> Iterator[Any]:
    """An Attio sandbox of our own that accepts two credentials."""
    sandbox = AttioSandbox(api_keys=(KEY_A, KEY_B))
    with serve_in_thread(sandbox.app) as server:
        sandbox.url, sandbox.api_url = server.url, f"{server.url}/v2"  # type: ignore[attr-defined]
        yield sandbox


def attio_admin(sandbox: Any, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{sandbox.url}/_sandbox/{path}", **kwargs)
    response.raise_for_status()
    return response.json()


def attio_requests(sandbox: Any) -> int:
    return sum(attio_admin(sandbox, "GET", "stats")["requests"].values())


def connect(sandbox: Any, key: str = KEY_A) -> AttioClient:
    return AttioClient.connect(api_key=key, base_url=sandbox.api_url, retry=FAST)


@pytest.fixture
def attio_clean(attio: Any) -> Any:
    attio_admin(attio, "POST", "reset")
    attio_admin(attio, "DELETE", "faults")
    return attio


# --- which failures count: pure mapping ------------------------------------------------------


def _attio_error(status: int | None, *, type_: str = "invalid_request_error") -> AttioError:
    return AttioError(
        method="POST", path="objects/companies/records", status_code=status, type=type_,
        code="x", message="m", retryable=status is None, ambiguous=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("error", "counts"),
    [
        (_attio_error(503), True),
        (_attio_error(500), True),
        (_attio_error(408), True),
        (_attio_error(None, type_="transport_error"), True),
        (_attio_error(429), False),
        (_attio_error(400), False),
        (_attio_error(404), False),
        (_attio_error(401), False),
        (SlackError("chat.postMessage", "service_unavailable", status_code=503), True),
        (SlackError("chat.postMessage", "internal_error", status_code=200, ambiguous=True), True),
        (SlackError("conversations.list", "connection_error: refused", retryable=True), True),
        (SlackError("chat.postMessage", "ratelimited", status_code=429, retryable=True), False),
        (SlackError("chat.postMessage", "channel_not_found", status_code=200), False),
        (SlackError("(setup)", "not_configured", messages=["set SLACK_BOT_TOKEN"]), False),
        (OutreachError("GET", "prospects", 502, []), True),
        (OutreachError("POST", "x", None, [{"id": "transportError"}], ambiguous=True), True),
        (OutreachError("GET", "prospects", 429, [], retryable=True), False),
        (OutreachError("POST", "prospects", 422, [{"id": "validationError"}]), False),
        (OutreachError("-", "-", None, [{"id": "notConfigured"}]), False),
        (requests.ConnectionError("reset"), True),
        (requests.Timeout("slow"), True),
        (requests.exceptions.SSLError("untrusted"), False),
        (httpx.ConnectError("refused"), True),
        (sf_exc.SalesforceGeneralError("u", 503, "r", [{"errorCode": "SERVER_UNAVAILABLE"}]), True),
        (
            sf_exc.SalesforceMalformedRequest("u", 400, "r", [{"errorCode": "MALFORMED_QUERY"}]),
            False,
        ),
        (sf_exc.SalesforceRefusedRequest("u", 403, "r", [{"errorCode": "REQUEST_LIMIT"}]), False),
        (sf_exc.SalesforceGeneralError("u", 429, "r", []), False),
        (CircuitOpenError("Attio", 5, [], 1.0, probing=False), False),
        (ValueError("a bug"), False),
    ],
)
def test_which_failures_count_toward_opening(error: BaseException, counts: bool) -> None:
    assert counts_toward_opening(error) is counts


def test_thresholds_come_from_the_profile_and_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("REVOPS_ENV", "REVOPS_BREAKER_FAIL_MAX", "REVOPS_BREAKER_RESET_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    assert breaker_settings() == BreakerSettings(fail_max=5, reset_timeout=10.0)
    monkeypatch.setenv("REVOPS_ENV", "production")
    assert breaker_settings() == BreakerSettings(fail_max=5, reset_timeout=60.0)
    monkeypatch.setenv("REVOPS_BREAKER_FAIL_MAX", "7")
    monkeypatch.setenv("REVOPS_BREAKER_RESET_SECONDS", "2.5")
    assert breaker_settings() == BreakerSettings(fail_max=7, reset_timeout=2.5)
    monkeypatch.setenv("REVOPS_BREAKER_FAIL_MAX", "0")
    with pytest.raises(ValueError, match="REVOPS_BREAKER_FAIL_MAX='0'"):
        breaker_settings()
    monkeypatch.setenv("REVOPS_BREAKER_FAIL_MAX", "5")
    monkeypatch.setenv("REVOPS_BREAKER_RESET_SECONDS", "soon")
    with pytest.raises(ValueError, match="REVOPS_BREAKER_RESET_SECONDS='soon'"):
        breaker_settings()


def test_the_environment_reaches_a_new_breaker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_BREAKER_FAIL_MAX", "9")
    monkeypatch.setenv("REVOPS_BREAKER_RESET_SECONDS", "4")
    breaker = breaker_for("Slack", "http://127.0.0.1:1/api", "t")
    assert (breaker.fail_max, breaker.reset_timeout) == (9, 4.0)


# --- Attio ------------------------------------------------------------------------------------


def test_attio_opens_fails_fast_then_one_probe_closes_it(
    attio_clean: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = attio_clean
    breaker = breaker_for("Attio", sandbox.api_url, KEY_A, TEST_SETTINGS)
    attio_admin(sandbox, "POST", "faults", json={"rate": 1.0, "kinds": ["503"], "seed": 1})
    caplog.set_level(logging.INFO, logger="dagster.builtin.revops.breaker")

    async def scenario() -> tuple[list[AttioError], CircuitOpenError, int, int]:
        async with connect(sandbox) as client:
            failures = []
            for _ in range(3):
                with pytest.raises(AttioError) as caught:
                    await client.workspace.members()
                failures.append(caught.value)
            before = attio_requests(sandbox)
            with pytest.raises(CircuitOpenError) as refused:
                await client.records.assert_record(
                    "companies", matching_attribute="domains", values={"domains": ["a.example"]}
                )
            return failures, refused.value, before, attio_requests(sandbox)

    failures, refused, before, after = asyncio.run(scenario())
    # Each failure is a whole call: both attempts spent before it counted once.
    assert [(e.status_code, e.attempts) for e in failures] == [(503, 2)] * 3
    assert before == 6 and after == before  # the refused call sent nothing
    text = str(refused)
    assert text.startswith("Attio circuit open after 3 consecutive transient failures (last: ")
    assert "GET workspace_members -> 503 service_unavailable" in text
    assert re.search(r"; next probe in 0\.[0-3] s$", text)
    assert breaker.snapshot()["state"] == "open" and breaker.snapshot()["calls_refused"] == 1

    attio_admin(sandbox, "DELETE", "faults")
    time.sleep(0.35)

    async def probe() -> list[dict[str, Any]]:
        async with connect(sandbox) as client:
            return await client.workspace.members()

    assert asyncio.run(probe())
    state = breaker.snapshot()
    assert (state["state"], state["consecutive_failures"], state["times_opened"]) == (
        "closed", 0, 1,
    )  # fmt: skip
    changes = [r.getMessage() for r in caplog.records if r.name.endswith("revops.breaker")]
    assert [m.split(":")[0].split(" after")[0] for m in changes] == [
        "Attio circuit opened",
        "Attio circuit half-open",
        "Attio circuit closed",
    ]


def test_a_failed_probe_opens_it_again_and_only_one_probe_goes_at_a_time(
    attio_clean: Any,
) -> None:
    sandbox = attio_clean
    breaker = breaker_for("Attio", sandbox.api_url, KEY_A, BreakerSettings(1, 0.3))
    attio_admin(sandbox, "POST", "faults", json={"rate": 1.0, "kinds": ["503"], "seed": 1})

    async def fail_once() -> None:
        async with connect(sandbox) as client:
            with pytest.raises(AttioError):
                await client.workspace.members()

    asyncio.run(fail_once())
    assert breaker.state == "open"
    time.sleep(0.35)
    asyncio.run(fail_once())  # the probe fails: open again, for another reset period
    assert breaker.state == "open" and breaker.times_opened == 2

    attio_admin(sandbox, "DELETE", "faults")
    attio_admin(sandbox, "POST", "config", json={"latency_ms": 300})
    time.sleep(0.35)

    async def two_at_once() -> list[Any]:
        async with connect(sandbox) as client:
            return await asyncio.gather(
                client.workspace.members(), client.workspace.members(), return_exceptions=True
            )

    before = attio_requests(sandbox)
    probe, other = asyncio.run(two_at_once())
    assert isinstance(probe, list) and isinstance(other, CircuitOpenError)
    assert "a probe is in flight" in str(other)
    assert attio_requests(sandbox) == before + 1 and breaker.state == "closed"


def test_validation_errors_do_not_count_and_end_a_streak(attio_clean: Any) -> None:
    sandbox = attio_clean
    breaker = breaker_for("Attio", sandbox.api_url, KEY_A, BreakerSettings(2, 30))

    async def invalid(client: AttioClient) -> AttioError:
        with pytest.raises(AttioError) as caught:
            await client.records.assert_record(
                "companies", matching_attribute="domains", values={"no_such_attribute": 1}
            )
        return caught.value

    async def transient(client: AttioClient) -> None:
        attio_admin(sandbox, "POST", "faults", json={"next": ["503", "503"]})
        with pytest.raises(AttioError):
            await client.workspace.members()

    async def scenario() -> list[int | None]:
        async with connect(sandbox) as client:
            statuses = [(await invalid(client)).status_code for _ in range(4)]
            await transient(client)  # one transient failure in a row...
            statuses.append((await invalid(client)).status_code)  # ...ended by an answer
            await transient(client)
            return statuses

    assert asyncio.run(scenario()) == [400] * 5
    assert breaker.state == "closed" and breaker.snapshot()["consecutive_failures"] == 1


def test_two_attio_credentials_have_independent_breakers(attio_clean: Any) -> None:
    sandbox = attio_clean
    a = breaker_for("Attio", sandbox.api_url, KEY_A, BreakerSettings(1, 30))
    b = breaker_for("Attio", sandbox.api_url, KEY_B, BreakerSettings(1, 30))
    assert a is not b and breaker_for("Attio", sandbox.api_url + "/", KEY_A) is a
    attio_admin(sandbox, "POST", "faults", json={"next": ["503", "503"]})

    async def scenario() -> tuple[BaseException, list[dict[str, Any]], BaseException]:
        async with connect(sandbox, KEY_A) as first, connect(sandbox, KEY_B) as second:
            with pytest.raises(AttioError) as failed:
                await first.workspace.members()
            members = await second.workspace.members()  # B's breaker never saw A's failure
            with pytest.raises(CircuitOpenError) as refused:
                await first.workspace.members()
            return failed.value, members, refused.value

    failed, members, refused = asyncio.run(scenario())
    assert isinstance(failed, AttioError) and members
    assert (a.state, b.state) == ("open", "closed") and "Attio circuit open" in str(refused)


def test_the_resource_reports_its_breaker_for_run_metadata(attio_clean: Any) -> None:
    from revops_pipelines.resources.attio import AttioResource

    resource = AttioResource(api_key=KEY_A, base_url=attio_clean.api_url)
    assert resource.breaker_state()["state"] == "closed"
    assert resource.circuit_breaker() is breaker_for("Attio", attio_clean.api_url, KEY_A)
    assert AttioResource(api_key="").breaker_state() == {"api": "Attio", "state": "not configured"}


# --- Salesforce, Slack, Outreach, enrichment -------------------------------------------------


def test_salesforce_opens_and_recovers(salesforce_sandbox: Any) -> None:
    sb = salesforce_sandbox(accounts=20, now=datetime(2026, 11, 20, tzinfo=UTC))
    bundle = os.environ["REQUESTS_CA_BUNDLE"]
    admin = requests.Session()
    admin.verify = bundle
    breaker = breaker_for("Salesforce", sb.url, sb.access_token, BreakerSettings(2, 0.3))
    resource = SalesforceResource(
        instance_url=sb.url, access_token=sb.access_token, max_attempts=2,
        retry_initial_seconds=0.01, retry_max_seconds=0.02,
    )  # fmt: skip
    fault = {"status": 503, "count": 100, "path": "/query"}
    admin.post(f"{sb.url}/_sandbox/faults", json=fault).raise_for_status()
    end = datetime(2026, 11, 20, tzinfo=UTC)
    start = end - timedelta(days=30)
    try:
        for _ in range(2):
            with pytest.raises(SalesforceApiError, match="SERVER_UNAVAILABLE"):
                resource.count_accounts(start, end)
        sent = admin.get(f"{sb.url}/_sandbox/stats").json()["counts"]["requests"]
        with pytest.raises(CircuitOpenError) as refused:
            resource.count_accounts(start, end)
        assert admin.get(f"{sb.url}/_sandbox/stats").json()["counts"]["requests"] == sent
        assert str(refused.value).startswith("Salesforce circuit open after 2 consecutive")
        assert "SERVER_UNAVAILABLE" in str(refused.value)
        assert resource.breaker_state()["state"] == "open"

        admin.delete(f"{sb.url}/_sandbox/faults").raise_for_status()
        time.sleep(0.35)
        assert resource.count_accounts(start, end) >= 0
        assert breaker.state == "closed"
    finally:
        resource.close()


def front_requests(url: str) -> int:
    return sum(httpx.get(f"{url}/_sandbox/stats").json()["requests"].values())


def test_slack_opens_fails_fast_and_recovers(side_systems: Any) -> None:
    sandbox, url = side_systems["slack"]
    sandbox.reset()
    slack = SlackResource(token=SLACK_SANDBOX_TOKEN, base_url=f"{url}/api/", max_attempts=2)
    breaker = breaker_for("Slack", f"{url}/api", SLACK_SANDBOX_TOKEN, BreakerSettings(2, 0.3))
    httpx.post(f"{url}/_sandbox/faults", json={"rate": 1.0, "kinds": ["503"], "seed": 1})
    for _ in range(2):
        with pytest.raises(SlackError, match="503 service_unavailable"):
            slack.call("conversations.list", limit=10)
    sent = front_requests(url)
    with pytest.raises(CircuitOpenError, match="Slack circuit open after 2 consecutive"):
        slack.post_message("#sales-leads", "hello")
    assert front_requests(url) == sent
    assert slack.breaker_state()["state"] == "open"
    httpx.delete(f"{url}/_sandbox/faults")
    time.sleep(0.35)
    assert slack.call("auth.test")["ok"] is True and breaker.state == "closed"


def test_outreach_opens_and_fails_fast(side_systems: Any) -> None:
    sandbox, url = side_systems["outreach"]
    sandbox.reset()
    outreach = OutreachResource(
        access_token=OUTREACH_SANDBOX_TOKEN, base_url=f"{url}/api/v2", mailbox_id="1",
        max_attempts=2, max_total_wait_seconds=1,
    )  # fmt: skip
    breaker_for("Outreach", f"{url}/api/v2", OUTREACH_SANDBOX_TOKEN, BreakerSettings(2, 30))
    httpx.post(f"{url}/_sandbox/faults", json={"rate": 1.0, "kinds": ["503"], "seed": 1})
    try:
        for _ in range(2):
            with pytest.raises(OutreachError):
                outreach.find_prospect("ada@analytical.example")
        sent = front_requests(url)
        with pytest.raises(CircuitOpenError, match="Outreach circuit open after 2 consecutive"):
            outreach.enroll_once("ada@analytical.example", "Ada", None, None, 1)
        assert front_requests(url) == sent
    finally:
        httpx.delete(f"{url}/_sandbox/faults")
        outreach.close()


def test_an_open_enrichment_breaker_is_an_error_result_without_a_call(
    side_systems: Any, db_url: str
) -> None:
    sandbox, url = side_systems["enrichment"]
    sandbox.reset()
    client = EnrichmentResource(
        api_key=ENRICHMENT_SANDBOX_KEY, base_url=url, max_attempts=2, max_total_wait_seconds=1,
    )  # fmt: skip
    enrich = CompanyEnrichment(client, store_engine.get_engine(db_url))
    breaker_for("Enrichment", url, ENRICHMENT_SANDBOX_KEY, BreakerSettings(2, 30))
    httpx.post(f"{url}/_sandbox/faults", json={"rate": 1.0, "kinds": ["503"], "seed": 1})
    try:
        first = [enrich.company(d).status for d in ("a.example", "b.example")]
        sent = front_requests(url)
        refused = enrich.company("c.example")
        assert first == ["error", "error"] and refused.status == "error"
        assert (refused.error or "").startswith("Enrichment circuit open after 2 consecutive")
        assert front_requests(url) == sent
    finally:
        httpx.delete(f"{url}/_sandbox/faults")
        client.close()


# --- the lead flow: an open Slack or Outreach breaker loses no lead ----------------------------


def test_open_slack_and_outreach_breakers_hand_the_lead_back_to_the_inbox(world: Any) -> None:  # noqa: F811

    slack, outreach = world["resources"]["slack"], world["resources"]["outreach"]
    slack_url = slack.base_url.rstrip("/").removesuffix("/api")
    outreach_url = outreach.base_url.rstrip("/").removesuffix("/api/v2")
    for resource in (slack, outreach):
        breaker_for(*resource.breaker_identity(), BreakerSettings(1, 600))
    for url in (slack_url, outreach_url):
        httpx.post(f"{url}/_sandbox/faults", json={"rate": 1.0, "kinds": ["503"], "seed": 1})
    with pytest.raises(SlackError):
        slack.call("auth.test")
    with pytest.raises(OutreachError):
        outreach.request("GET", "sequences")
    for url in (slack_url, outreach_url):
        httpx.delete(f"{url}/_sandbox/faults")
    sent = (front_requests(slack_url), front_requests(outreach_url))

    delivery = typeform_delivery(SECRET, random.Random(7))
    assert deliver(world, delivery.body, delivery.headers) in (200, 202)
    [run] = run_sensor_batches(world)
    assert run.success  # the Attio records are in; only the notification and sequence wait
    assert inbox.count_by_status(world["engine"], ["typeform"])["pending"] == 1
    assert (front_requests(slack_url), front_requests(outreach_url)) == sent  # nothing sent
    [done] = run.asset_materializations_for_node("lead_follow_ups")
    steps = done.metadata["steps"].value
    assert steps.get("slack:failed") == 1 and steps.get("outreach:failed") == 1
    assert "Slack circuit open after 1 consecutive" in done.metadata["not_done"].value
    breakers = done.metadata["circuit_breakers"].value
    assert (breakers["slack"]["state"], breakers["outreach"]["state"]) == ("open", "open")
    assert breakers["attio"]["state"] == "closed"

    reset_breakers()  # the outage is over (a fresh process, or the reset period passed)
    resumed = run_backlog(world)
    assert resumed.success
    assert inbox.count_by_status(world["engine"], ["typeform"])["done"] == 1
    assert len(world["outreach"].sequence_states()) == 1
    channels = ("sales-leads", "leads-alice", "leads-bob", "leads-carol", "leads-dan")
    assert sum(len(world["slack"].messages(c)) for c in channels) == 1
