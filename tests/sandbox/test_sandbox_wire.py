"""The API facts the stand-ins implement on their own (shared/reference), checked against the
documented values: Salesforce's response datetimes, the form vendors' signatures, Slack's Block
Kit limits over HTTP, and where the stack keeps its files."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from revops_pipelines.cli.sandbox import project_environment
from revops_sandbox.form_traffic import sample_deliveries
from revops_sandbox.salesforce.datetimes import parse_salesforce_datetime, salesforce_datetime
from revops_sandbox.server import serve_in_thread
from revops_sandbox.signatures import tally_signature, typeform_signature
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN, SlackSandbox
from revops_sandbox.stack import STATE_DIR_ENV, default_state_dir, serve_sandboxes


# --- Salesforce datetimes (reference §2.2: "2013-05-07T22:07:19.000+0000") ---------------------
def test_salesforce_datetimes_render_as_documented() -> None:
    documented = datetime(2013, 5, 7, 22, 7, 19, tzinfo=UTC)
    assert salesforce_datetime(documented) == "2013-05-07T22:07:19.000+0000"
    berlin = timezone(timedelta(hours=2))
    assert salesforce_datetime(datetime(2026, 6, 1, 10, 0, 0, 987654, berlin)) == (
        "2026-06-01T08:00:00.987+0000"
    )
    with pytest.raises(ValueError, match="no time zone"):
        salesforce_datetime(datetime(2026, 6, 1))


def test_salesforce_datetimes_parse_every_form_salesforce_sends() -> None:
    when = datetime(2013, 5, 7, 22, 7, 19, tzinfo=UTC)
    assert parse_salesforce_datetime("2013-05-07T22:07:19.000+0000") == when
    assert parse_salesforce_datetime("2013-05-07T22:07:19.000Z") == when  # Bulk API CSV
    assert parse_salesforce_datetime("2013-05-08T00:07:19+02:00") == when
    with pytest.raises(ValueError):
        parse_salesforce_datetime("2013-05-07T22:07:19")


# --- form signatures (reference §3.2, §4.2); expected values computed with
# `printf '%s' BODY | openssl dgst -sha256 -hmac SECRET -binary | base64` ---------------------
def test_typeform_signature_matches_an_openssl_vector() -> None:
    body = b'{"event_id":"LtWXD3crgy","event_type":"form_response"}'
    assert typeform_signature("typeform-secret", body) == (
        "sha256=hckPUzTwds7gwzKBgtaPJAYpEDA8H5c7ryUdr+HH+yU="
    )


def test_tally_signature_matches_an_openssl_vector() -> None:
    body = b'{"eventId":"02ee4066","eventType":"FORM_RESPONSE"}'
    assert tally_signature("tally-secret", body) == "wztq36fBtYeb2jfP+f1FfMNCFDoBSZDTFTz66ZWKpa0="


def test_sample_deliveries_sign_the_exact_bytes_they_send() -> None:
    secrets = {"typeform": "t-secret", "tally": "l-secret"}
    typeform, tally = sample_deliveries(secrets, 2, seed=7)
    assert typeform.headers["Typeform-Signature"] == typeform_signature("t-secret", typeform.body)
    assert tally.headers["Tally-Signature"] == tally_signature("l-secret", tally.body)
    assert json.loads(typeform.body)["event_type"] == "form_response"
    assert json.loads(tally.body)["eventType"] == "FORM_RESPONSE"


# --- Slack Block Kit limits (reference §5.4), over HTTP -----------------------------------------
@pytest.fixture(scope="module")
def slack_url() -> Iterator[str]:
    sandbox = SlackSandbox(channel_rate=1000, burst=1000)
    with serve_in_thread(sandbox.app) as server:
        yield f"{server.url}/api"


def post_blocks(url: str, blocks: list[dict]) -> dict:
    response = httpx.post(
        f"{url}/chat.postMessage",
        json={"channel": "sales-leads", "text": "fallback", "blocks": blocks},
        headers={"Authorization": f"Bearer {SLACK_SANDBOX_TOKEN}"},
    )
    assert response.status_code == 200  # Slack's logical errors are HTTP 200
    return response.json()


def section(text: str = "x", fields: int = 0, field_text: str = "f") -> dict:
    block: dict = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if fields:
        block["fields"] = [{"type": "mrkdwn", "text": field_text} for _ in range(fields)]
    return block


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([section("a" * 3001)], "/blocks/0/text/text"),
        ([section(fields=11)], "/blocks/0/fields"),
        ([section(fields=1, field_text="b" * 2001)], "/blocks/0/fields/0"),
        ([section()] * 51, "/blocks"),
    ],
)
def test_past_a_documented_limit_the_blocks_are_refused(
    slack_url: str, blocks: list[dict], pointer: str
) -> None:
    body = post_blocks(slack_url, blocks)
    assert (body["ok"], body["error"]) == (False, "invalid_blocks")
    assert any(f"[json-pointer:{pointer}]" in m for m in body["response_metadata"]["messages"])


def test_at_the_documented_limits_the_blocks_are_accepted(slack_url: str) -> None:
    at_limits = [section("a" * 3000, fields=10, field_text="b" * 2000)] + [section()] * 49
    body = post_blocks(slack_url, at_limits)
    assert body["ok"] is True, body


# --- the stack's own state directory ------------------------------------------------------------
def test_the_state_dir_is_the_sandboxs_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_state_dir() == tmp_path / ".revops" / "sandbox"
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "elsewhere"))
    assert default_state_dir() == tmp_path / "elsewhere"


def test_the_stack_keeps_its_tls_material_in_its_state_dir(tmp_path: Path) -> None:
    ports = dict.fromkeys(("attio", "salesforce", "slack", "enrichment", "outreach"), 0)
    with serve_sandboxes(ports=ports, state_dir=tmp_path, salesforce_accounts=5) as stack:
        salesforce = stack.endpoints["salesforce"]
        bundle = Path(salesforce.extra["ca_bundle"])
        assert bundle.parent == tmp_path / "tls" and bundle.is_file()
        assert stack.trust_env["REQUESTS_CA_BUNDLE"] == str(bundle)
        limits = httpx.get(
            f"{salesforce.base_url}/services/data/v59.0/limits/",
            headers={"Authorization": f"Bearer {salesforce.credential}"},
            verify=ssl.create_default_context(cafile=str(bundle)),
        )
        assert limits.status_code == 200
        # The CLI maps the neutral endpoints onto the project's settings variables.
        env = project_environment(stack)
        objects = httpx.get(
            f"{env['ATTIO_BASE_URL']}/objects",
            headers={"Authorization": f"Bearer {env['ATTIO_API_KEY']}"},
        )
        assert objects.status_code == 200
        assert env["SALESFORCE_INSTANCE_URL"] == salesforce.base_url
        assert env["SSL_CERT_FILE"] == str(bundle)
        assert env["SLACK_API_BASE_URL"].endswith("/api/")
        assert env["OUTREACH_BASE_URL"].endswith("/api/v2") and env["OUTREACH_MAILBOX_ID"] == "1"
