"""The Slack sandbox over a real socket, through slack_sdk's WebClient and plain httpx."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from revops_sandbox.server import serve_in_thread
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN, SlackSandbox, channel_id

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*Ada* at *Analytical*"}}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SlackSandbox, str]]:
    sandbox = SlackSandbox()
    with serve_in_thread(sandbox.app) as server:
        yield sandbox, server.url


@pytest.fixture
def sandbox(served: tuple[SlackSandbox, str]) -> SlackSandbox:
    sandbox, url = served
    httpx.post(f"{url}/_sandbox/reset").raise_for_status()
    # Generous limits, so only the rate-limit tests meet them.
    httpx.post(
        f"{url}/_sandbox/config", json={"channel_rate": 100, "burst": 100}
    ).raise_for_status()
    sandbox.url = url  # type: ignore[attr-defined]
    return sandbox


@pytest.fixture
def web(sandbox: SlackSandbox) -> WebClient:
    # No retry handlers: these tests look at what the sandbox answers, not at client policy.
    return WebClient(
        token=SLACK_SANDBOX_TOKEN, base_url=f"{sandbox.url}/api/", retry_handlers=[], timeout=5
    )


def slack_error(call) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value.response.status_code, info.value.response.data


def test_auth_errors_are_http_200_with_ok_false(sandbox: SlackSandbox) -> None:
    anonymous = httpx.post(f"{sandbox.url}/api/auth.test")
    assert (anonymous.status_code, anonymous.json()) == (200, {"ok": False, "error": "not_authed"})
    wrong = WebClient(token="wrong-bot-token", base_url=f"{sandbox.url}/api/", retry_handlers=[])
    assert slack_error(wrong.auth_test) == (200, {"ok": False, "error": "invalid_auth"})


def test_auth_test_names_the_bot(web: WebClient) -> None:
    answer = web.auth_test()
    assert answer["user_id"] == "U0REVOPSBOT"
    assert answer["team_id"] == "T0REVOPS01"


def test_post_by_name_returns_the_channel_id_and_stores_the_message(
    sandbox: SlackSandbox, web: WebClient
) -> None:
    metadata = {"event_type": "revops_effect", "event_payload": {"marker": "lead-1:notify"}}
    answer = web.chat_postMessage(
        channel="#sales-leads", text="New lead", blocks=[SECTION], metadata=metadata
    )
    assert answer["ok"] is True
    assert answer["channel"] == channel_id("sales-leads")
    stored = sandbox.messages("sales-leads")
    assert [m["ts"] for m in stored] == [answer["ts"]]
    assert stored[0]["text"] == "New lead"
    assert stored[0]["blocks"] == [SECTION]
    assert stored[0]["metadata"] == metadata
    assert stored[0]["bot_id"] == "B0REVOPSBOT"


def test_form_encoded_posts_carry_blocks_as_json_text(sandbox: SlackSandbox) -> None:
    answer = httpx.post(
        f"{sandbox.url}/api/chat.postMessage",
        data={"token": SLACK_SANDBOX_TOKEN, "channel": "sales-wins", "text": "Won",
              "blocks": json.dumps([SECTION])},
    ).json()  # fmt: skip
    assert answer["ok"] is True
    assert sandbox.messages("sales-wins")[0]["blocks"] == [SECTION]
    broken = httpx.post(
        f"{sandbox.url}/api/chat.postMessage",
        data={"token": SLACK_SANDBOX_TOKEN, "channel": "sales-wins", "blocks": "[{"},
    ).json()
    assert broken == {"ok": False, "error": "invalid_blocks_format"}


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"channel": "no-such-channel", "text": "x"}, "channel_not_found"),
        ({"channel": "C0000000000", "text": "x"}, "channel_not_found"),
        ({"channel": "finance-private", "text": "x"}, "not_in_channel"),
        ({"channel": "old-leads", "text": "x"}, "is_archived"),
        ({"channel": "sales-leads"}, "no_text"),
        ({"channel": "sales-leads", "text": "x" * 40_001}, "msg_too_long"),
        (
            {"channel": "sales-leads", "text": "x", "metadata": {"event_type": 1}},
            "invalid_metadata_schema",
        ),
    ],
)
def test_logical_errors(sandbox: SlackSandbox, web: WebClient, arguments: dict, error: str) -> None:
    status, body = slack_error(lambda: web.api_call("chat.postMessage", json=arguments))
    assert (status, body) == (200, {"ok": False, "error": error})
    assert sandbox.stats()["messages"] == {}


def test_invalid_blocks_say_what_and_where(web: WebClient) -> None:
    blocks = [SECTION, {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    status, body = slack_error(
        lambda: web.chat_postMessage(channel="sales-leads", text="x", blocks=blocks)
    )
    assert status == 200
    assert body["error"] == "invalid_blocks"
    assert body["response_metadata"]["messages"] == [
        "[ERROR] must be less than 151 characters [json-pointer:/blocks/1/text/text]"
    ]


def test_posting_is_limited_per_channel_with_retry_after_seconds(
    sandbox: SlackSandbox, web: WebClient
) -> None:
    sandbox.configure(channel_rate=1.0, burst=1)
    web.chat_postMessage(channel="sales-leads", text="one")
    status, body = slack_error(lambda: web.chat_postMessage(channel="sales-leads", text="two"))
    assert (status, body) == (429, {"ok": False, "error": "ratelimited"})
    raw = httpx.post(
        f"{sandbox.url}/api/chat.postMessage",
        headers={"Authorization": f"Bearer {SLACK_SANDBOX_TOKEN}"},
        json={"channel": "sales-leads", "text": "three"},
    )
    assert raw.status_code == 429
    assert raw.headers["Retry-After"] == "1"
    # Another channel has its own budget.
    assert web.chat_postMessage(channel="sales-wins", text="elsewhere")["ok"] is True
    time.sleep(1.05)
    assert web.chat_postMessage(channel="sales-leads", text="later")["ok"] is True
    assert [m["text"] for m in sandbox.messages("sales-leads")] == ["one", "later"]
    assert sandbox.stats()["rate_limited"] == 2


def test_history_pages_newest_first_and_metadata_only_on_request(
    sandbox: SlackSandbox, web: WebClient
) -> None:
    metadata = {"event_type": "revops_effect", "event_payload": {"marker": "m"}}
    posted = [
        web.chat_postMessage(channel="sales-leads", text=f"m{i}", metadata=metadata)["ts"]
        for i in range(5)
    ]
    cid = channel_id("sales-leads")
    first = web.conversations_history(channel=cid, limit=2, include_all_metadata=True)
    assert [m["ts"] for m in first["messages"]] == posted[::-1][:2]
    assert first["has_more"] is True
    assert first["messages"][0]["metadata"] == metadata
    rest = web.conversations_history(
        channel=cid, limit=10, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["ts"] for m in rest["messages"]] == posted[::-1][2:]
    assert rest["has_more"] is False
    assert "metadata" not in rest["messages"][0]
    newer = web.conversations_history(channel=cid, oldest=posted[2])
    assert [m["ts"] for m in newer["messages"]] == [posted[4], posted[3]]


def test_conversations_list_names_each_channel(web: WebClient) -> None:
    channels = web.conversations_list(exclude_archived=True)["channels"]
    names = {c["name"]: c["id"] for c in channels}
    assert names["leads-alice"] == channel_id("leads-alice")
    assert "old-leads" not in names
    assert {"sales-leads", "sales-wins", "finance-private"} <= set(names)


def test_unknown_method(sandbox: SlackSandbox) -> None:
    answer = httpx.post(f"{sandbox.url}/api/chat.nope", data={"token": SLACK_SANDBOX_TOKEN})
    assert (answer.status_code, answer.json()) == (404, {"ok": False, "error": "unknown_method"})


def test_drop_after_apply_keeps_the_message_and_loses_the_answer(
    sandbox: SlackSandbox, web: WebClient
) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/faults", json={"next": ["drop_after_apply"]})
    with pytest.raises((ConnectionError, OSError)):
        web.chat_postMessage(channel="sales-leads", text="lost answer")
    assert [m["text"] for m in sandbox.messages("sales-leads")] == ["lost answer"]
    assert sandbox.stats()["faults_injected"] == {"drop_after_apply": 1}


def test_503_before_applying_posts_nothing(sandbox: SlackSandbox, web: WebClient) -> None:
    sandbox.faults.push("503", path="chat.postMessage")
    status, body = slack_error(lambda: web.chat_postMessage(channel="sales-leads", text="x"))
    assert (status, body) == (503, {"ok": False, "error": "service_unavailable"})
    assert sandbox.messages("sales-leads") == []


def test_timeout_after_apply_answers_too_late(sandbox: SlackSandbox) -> None:
    sandbox.faults.configure({"next": ["timeout_after_apply"], "timeout_seconds": 2})
    slow = WebClient(
        token=SLACK_SANDBOX_TOKEN, base_url=f"{sandbox.url}/api/", retry_handlers=[], timeout=1
    )
    with pytest.raises(TimeoutError):
        slow.chat_postMessage(channel="sales-leads", text="late")
    assert len(sandbox.messages("sales-leads")) == 1


def test_seeded_fault_rate_and_admin_routes(sandbox: SlackSandbox, web: WebClient) -> None:
    spec = {"rate": 1.0, "kinds": ["500"], "path": "auth.test", "seed": 3}
    described = httpx.post(f"{sandbox.url}/_sandbox/faults", json=spec).json()
    assert described["random"] == spec
    assert slack_error(web.auth_test) == (500, {"ok": False, "error": "internal_error"})
    web.chat_postMessage(channel="sales-leads", text="unaffected")
    stats = httpx.get(f"{sandbox.url}/_sandbox/stats").json()
    assert stats["faults_injected"] == {"500": 1}
    assert stats["messages"] == {"sales-leads": 1}
    assert stats["requests"] == {"POST /api/auth.test": 1, "POST /api/chat.postMessage": 1}
    httpx.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    assert sandbox.messages("sales-leads") == []
    assert httpx.get(f"{sandbox.url}/_sandbox/faults").json()["random"] is None
    bad = httpx.post(f"{sandbox.url}/_sandbox/config", json={"burst": 0})
    assert bad.status_code == 400
