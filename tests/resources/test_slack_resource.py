"""SlackResource against the Slack sandbox over loopback, through the real slack_sdk client."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient

from revops_pipelines.domain.leads import Lead
from revops_pipelines.domain.messages import Rep, new_lead_blocks
from revops_pipelines.resources.slack import MARKER_EVENT_TYPE, SlackError, SlackResource
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN, SlackSandbox, channel_id


@pytest.fixture
def sandbox(slack_sandbox: SlackSandbox) -> SlackSandbox:
    return slack_sandbox


@pytest.fixture
def slack(sandbox: SlackSandbox) -> SlackResource:
    # No trailing slash on purpose: the resource adds the one slack_sdk needs.
    return SlackResource(
        token=SLACK_SANDBOX_TOKEN, base_url=f"{sandbox.url}/api", timeout_seconds=1
    )


def posts(sandbox: SlackSandbox) -> int:
    return sandbox.stats()["requests"].get("POST /api/chat.postMessage", 0)


def test_post_message_once_returns_the_ts_and_tags_the_marker(
    sandbox: SlackSandbox, slack: SlackResource
) -> None:
    ts = slack.post_message_once("#leads-alice", "New lead", marker="typeform:ev1:notify")
    [message] = sandbox.messages("leads-alice")
    assert message["ts"] == ts
    assert message["text"] == "New lead"
    assert message["metadata"] == {
        "event_type": MARKER_EVENT_TYPE,
        "event_payload": {"marker": "typeform:ev1:notify"},
    }
    assert slack.find_message("leads-alice", "typeform:ev1:notify", oldest=0) == ts
    assert slack.find_message("leads-alice", "typeform:other:notify", oldest=0) is None


def test_a_lead_message_from_the_formatter_is_accepted(
    sandbox: SlackSandbox, slack: SlackResource
) -> None:
    lead = Lead(
        key="typeform:abc123", source="typeform", source_form="demo01",
        submitted_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC), email="ada@analytical.example",
        first_name="Ada", last_name="Lovelace", company_name="Analytical Engines",
        company_domain="analytical.example", is_disposable=False, phone=None,
        job_title="CTO", country="GB", region="EMEA", message="Please call me", raw_ref="webhook_inbox:1",
    )  # fmt: skip
    text, blocks = new_lead_blocks(
        lead, Rep("Alice", "U0ALICE"), "territory=EMEA", "https://app.attio.com/x"
    )
    ts = slack.post_message_once("leads-alice", text, blocks, marker=f"{lead.key}:notify")
    [message] = sandbox.messages("leads-alice")
    assert (message["ts"], message["blocks"]) == (ts, blocks)


def test_ok_false_errors_surface_with_slacks_code_and_are_not_retried(
    sandbox: SlackSandbox, slack: SlackResource
) -> None:
    with pytest.raises(SlackError) as info:
        slack.post_message_once("C0000000000", "x", marker="m1")
    assert (info.value.error, info.value.status_code) == ("channel_not_found", 200)
    assert not info.value.retryable and not info.value.ambiguous
    with pytest.raises(SlackError) as info:
        slack.post_message_once("sales-leads", "x", [{"type": "section"}], marker="m2")
    assert info.value.error == "invalid_blocks"
    assert info.value.messages == [
        "[ERROR] must provide either text or fields [json-pointer:/blocks/0]"
    ]
    assert posts(sandbox) == 2
    with pytest.raises(SlackError) as info:
        slack.post_message_once("no-such-channel", "x", marker="m3")
    assert info.value.error == "channel_not_found"
    assert SLACK_SANDBOX_TOKEN not in str(info.value)


def test_a_429_waits_its_retry_after(sandbox: SlackSandbox, slack: SlackResource) -> None:
    sandbox.configure(channel_rate=0.5, burst=1)  # Retry-After: 2
    slack.post_message_once("sales-leads", "first", marker="a")
    started = time.monotonic()
    ts = slack.post_message_once("sales-leads", "second", marker="b")
    waited = time.monotonic() - started
    assert 2.0 <= waited < 4.5
    assert [m["text"] for m in sandbox.messages("sales-leads")] == ["first", "second"]
    assert sandbox.messages("sales-leads")[1]["ts"] == ts
    assert sandbox.stats()["rate_limited"] == 1


@pytest.mark.parametrize("fault", ["drop_after_apply", "timeout_after_apply"])
def test_an_applied_post_with_a_lost_answer_is_found_not_repeated(
    sandbox: SlackSandbox, slack: SlackResource, fault: str
) -> None:
    sandbox.faults.configure(
        {"next": [{"kind": fault, "path": "chat.postMessage"}], "timeout_seconds": 2.5}
    )
    ts = slack.post_message_once("sales-leads", "once", marker="typeform:ev2:notify")
    [message] = sandbox.messages("sales-leads")
    assert message["ts"] == ts
    assert posts(sandbox) == 1
    assert sandbox.stats()["faults_injected"] == {fault: 1}
    assert sandbox.stats()["requests"]["POST /api/conversations.history"] == 1


@pytest.mark.parametrize("fault", ["drop_before_apply", "503", "500"])
def test_a_post_that_did_not_arrive_is_sent_again_once(
    sandbox: SlackSandbox, slack: SlackResource, fault: str
) -> None:
    sandbox.faults.push(fault, path="chat.postMessage")
    ts = slack.post_message_once("sales-leads", "again", marker="typeform:ev3:notify")
    assert [m["ts"] for m in sandbox.messages("sales-leads")] == [ts]
    assert posts(sandbox) == 2


def test_the_stock_client_would_post_twice_under_the_same_fault(sandbox: SlackSandbox) -> None:
    # Why the resource swaps slack_sdk's connection handler: the default resends blindly.
    stock = WebClient(token=SLACK_SANDBOX_TOKEN, base_url=f"{sandbox.url}/api/")
    sandbox.faults.push("drop_after_apply", path="chat.postMessage")
    stock.chat_postMessage(channel="sales-leads", text="dup")
    assert [m["text"] for m in sandbox.messages("sales-leads")] == ["dup", "dup"]


def test_a_repeated_step_that_looks_first_does_not_post_again(
    sandbox: SlackSandbox, slack: SlackResource
) -> None:
    first = slack.post_message_once("sales-wins", "won", marker="deal-9:won")
    again = slack.post_message_once("sales-wins", "won", marker="deal-9:won", look_first=True)
    assert again == first
    assert len(sandbox.messages("sales-wins")) == 1
    other = slack.post_message_once("sales-wins", "won", marker="deal-10:won", look_first=True)
    assert other != first
    assert len(sandbox.messages("sales-wins")) == 2


def test_channel_names_resolve_once(sandbox: SlackSandbox, slack: SlackResource) -> None:
    assert slack.channel_id("#leads-bob") == channel_id("leads-bob")
    assert slack.channel_id("leads-carol") == channel_id("leads-carol")
    assert slack.channel_id("C0123ABCDE") == "C0123ABCDE"
    assert sandbox.stats()["requests"] == {"POST /api/conversations.list": 1}


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_API_BASE_URL", raising=False)
    absent = SlackResource.from_env()
    assert absent.configuration_problem() == (
        "Slack is not configured: set SLACK_BOT_TOKEN (and SLACK_API_BASE_URL)"
    )
    with pytest.raises(SlackError) as info:
        absent.post_message_once("sales-leads", "x", marker="m")
    assert info.value.error == "not_configured"
    monkeypatch.setenv("SLACK_BOT_TOKEN", "bot-token-from-env")
    monkeypatch.setenv("SLACK_API_BASE_URL", "http://127.0.0.1:8712/api/")
    present = SlackResource.from_env().process_config_and_initialize()  # resolves EnvVars
    assert present.base_url == "http://127.0.0.1:8712/api/"
    assert present.token == "bot-token-from-env"
    assert present.is_configured()
    assert "bot-token-from-env" not in repr(present)
