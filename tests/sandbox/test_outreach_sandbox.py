"""The Outreach sandbox over a real socket, through httpx: JSON:API, budgets and faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from revops_sandbox.outreach import JSON_API, OUTREACH_SANDBOX_TOKEN, OutreachSandbox
from revops_sandbox.server import serve_in_thread


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[OutreachSandbox, str]]:
    sandbox = OutreachSandbox()
    with serve_in_thread(sandbox.app) as server:
        yield sandbox, server.url


@pytest.fixture
def sandbox(served: tuple[OutreachSandbox, str]) -> OutreachSandbox:
    sandbox, url = served
    httpx.post(f"{url}/_sandbox/reset").raise_for_status()
    httpx.post(f"{url}/_sandbox/config", json={"hourly_limit": 10_000, "window_seconds": 3600})
    sandbox.url = url  # type: ignore[attr-defined]
    return sandbox


@pytest.fixture
def api(sandbox: OutreachSandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {OUTREACH_SANDBOX_TOKEN}", "Content-Type": JSON_API}
    with httpx.Client(base_url=f"{sandbox.url}/api/v2/", headers=headers, timeout=5) as c:  # type: ignore[attr-defined]
        yield c


def post(api: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return api.post(path, content=json.dumps(body))


def prospect(emails: list[str], **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "prospect", "attributes": {"emails": emails, **attributes}}}


def state(prospect_id: Any, sequence_id: Any, mailbox_id: Any | None = 1) -> dict[str, Any]:
    refs = {"prospect": prospect_id, "sequence": sequence_id, "mailbox": mailbox_id}
    rels = {k: {"data": {"type": k, "id": v}} for k, v in refs.items() if v is not None}
    return {"data": {"type": "sequenceState", "relationships": rels}}


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON_API
    [error] = response.json()["errors"]
    return error


def test_auth_is_a_bearer_token(sandbox: OutreachSandbox) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = httpx.get(f"{sandbox.url}/api/v2/prospects", headers=headers)  # type: ignore[attr-defined]
        assert error_of(answer, 401)["id"] == "unauthorizedOauthToken"


def test_a_prospect_is_created_with_jsonapi_shape_and_rate_headers(
    sandbox: OutreachSandbox, api: httpx.Client
) -> None:
    created = post(api, "prospects", prospect(["Ada@Analytical.example"], firstName="Ada"))
    assert created.status_code == 201
    assert created.headers["content-type"] == JSON_API
    assert created.headers["X-RateLimit-Limit"] == "10000"
    assert created.headers["X-RateLimit-Remaining"] == "9999"
    data = created.json()["data"]
    assert (data["type"], data["id"]) == ("prospect", 1)
    assert data["attributes"]["emails"] == ["Ada@Analytical.example"]
    assert data["attributes"]["firstName"] == "Ada"
    assert api.get("prospects/1").json()["data"]["attributes"] == data["attributes"]
    assert [p["id"] for p in sandbox.prospects()] == [1]


def test_emails_are_unique_whatever_their_case(sandbox: OutreachSandbox, api: httpx.Client) -> None:
    post(api, "prospects", prospect(["ada@analytical.example"]))
    duplicate = post(api, "prospects", prospect(["ADA@analytical.example"]))
    assert error_of(duplicate, 422) == {
        "id": "validationError",
        "title": "Validation Error",
        "detail": "Emails has already been taken.",
        "source": {"pointer": "/data/attributes/emails"},
    }
    assert len(sandbox.prospects()) == 1


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (prospect(["not-an-email"]), 422, "Emails is invalid."),
        (prospect(["a@b.example"], nickname="x"), 422, "Unknown attribute 'nickname'."),
        ({"data": {"type": "account", "attributes": {}}}, 409, "The type must be 'prospect'."),
        ({"nothing": True}, 400, "Send a JSON:API document with data."),
    ],
)
def test_invalid_prospects(api: httpx.Client, body: dict, status: int, detail: str) -> None:
    assert error_of(post(api, "prospects", body), status)["detail"] == detail


def test_prospects_filter_by_email(api: httpx.Client) -> None:
    post(api, "prospects", prospect(["ada@analytical.example"]))
    post(api, "prospects", prospect(["grace@navy.example"]))
    found = api.get("prospects", params={"filter[emails]": "grace@navy.example"}).json()
    assert [p["id"] for p in found["data"]] == [2]
    assert found["meta"] == {"count": 1}
    assert api.get("prospects", params={"filter[emails]": "x@y.example"}).json()["data"] == []
    assert (
        error_of(api.get("prospects/99"), 404)["detail"]
        == "Could not find 'prospect' with ID '99'."
    )
    assert error_of(api.get("prospects", params={"bogus": "1"}), 400)["id"] == "badRequest"


def test_sequences_and_mailboxes_are_seeded_and_paged(api: httpx.Client) -> None:
    first = api.get("sequences", params={"page[size]": 3}).json()
    assert [s["attributes"]["name"] for s in first["data"]] == [
        "Inbound - Enterprise", "Inbound - Mid-Market", "Inbound - SMB"]  # fmt: skip
    second = httpx.get(first["links"]["next"], headers=api.headers).json()
    assert [(s["id"], s["attributes"]["enabled"]) for s in second["data"]] == [
        (4, True),
        (5, False),
    ]
    assert "next" not in second["links"]
    mailboxes = api.get("mailboxes").json()["data"]
    assert [m["attributes"]["email"] for m in mailboxes] == [
        "sdr-team@revops.example",
        "alice@revops.example",
        "bob@revops.example",
    ]
    assert api.post("sequences", content="{}").status_code == 405


def test_a_sequence_state_links_prospect_sequence_and_mailbox_once(
    sandbox: OutreachSandbox, api: httpx.Client
) -> None:
    post(api, "prospects", prospect(["ada@analytical.example"]))
    created = post(api, "sequenceStates", state(1, "2"))
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["attributes"]["state"] == "active"
    assert data["relationships"]["sequence"] == {"data": {"type": "sequence", "id": 2}}
    again = post(api, "sequenceStates", state(1, 2, mailbox_id=2))
    assert error_of(again, 422)["detail"] == "Prospect is already in this sequence."
    listed = api.get(
        "sequenceStates", params={"filter[prospect][id]": 1, "filter[sequence][id]": 2}
    )
    assert [s["id"] for s in listed.json()["data"]] == [data["id"]]
    other = api.get("sequenceStates", params={"filter[prospect][id]": 1, "filter[sequence][id]": 3})
    assert other.json()["data"] == []
    assert len(sandbox.sequence_states()) == 1


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (state(1, 2, mailbox_id=None), 422, "Mailbox can't be blank."),
        (state(1, 99), 404, "Could not find 'sequence' with ID '99'."),
        (state(42, 2), 404, "Could not find 'prospect' with ID '42'."),
        (state(1, 5), 422, "Sequence is disabled."),
    ],
)
def test_invalid_sequence_states(api: httpx.Client, body: dict, status: int, detail: str) -> None:
    post(api, "prospects", prospect(["ada@analytical.example"]))
    assert error_of(post(api, "sequenceStates", body), status)["detail"] == detail


def test_the_budget_resets_on_the_dot(sandbox: OutreachSandbox, api: httpx.Client) -> None:
    sandbox.configure(hourly_limit=2, window_seconds=2)
    # Start right after a window boundary so the two allowed requests share one window.
    time.sleep(2 - time.time() % 2 + 0.05)
    assert [api.get("mailboxes").status_code for _ in range(2)] == [200, 200]
    limited = api.get("mailboxes")
    assert error_of(limited, 429)["id"] == "rateLimitExceeded"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["Retry-After"] in ("1", "2")
    reset_at = int(limited.headers["X-RateLimit-Reset"])
    assert reset_at % 2 == 0 and 0 < reset_at - time.time() <= 2
    time.sleep(reset_at - time.time() + 0.05)
    assert api.get("mailboxes").status_code == 200
    assert sandbox.stats()["rate_limited"] == 1


def test_faults_apply_or_not(sandbox: OutreachSandbox, api: httpx.Client) -> None:
    spec = {"next": ["503", "drop_after_apply"], "methods": ["POST"]}
    assert httpx.post(f"{sandbox.url}/_sandbox/faults", json=spec).status_code == 200  # type: ignore[attr-defined]
    assert error_of(post(api, "prospects", prospect(["a@b.example"])), 503)["id"] == "serverError"
    assert sandbox.prospects() == []
    with pytest.raises(httpx.RemoteProtocolError):
        post(api, "prospects", prospect(["a@b.example"]))
    assert [p["attributes"]["emails"] for p in sandbox.prospects()] == [["a@b.example"]]
    stats = httpx.get(f"{sandbox.url}/_sandbox/stats").json()  # type: ignore[attr-defined]
    assert stats["faults_injected"] == {"503": 1, "drop_after_apply": 1}
    assert stats["writes_applied"] == 1
    assert stats["resources"] == {
        "prospects": 1,
        "sequences": 5,
        "mailboxes": 3,
        "sequenceStates": 0,
    }
