"""`SlackResource.user_id_by_email` against the Slack sandbox's `users.lookupByEmail` over real
HTTP: found, not found, deactivated, cached (Tier 3), and the sandbox's documented limit."""

from __future__ import annotations

import httpx
import pytest

from revops_pipelines.infra.cache import reset_caches
from revops_pipelines.resources.slack import SlackError, SlackResource
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN, SlackSandbox


@pytest.fixture
def slack(slack_sandbox: SlackSandbox) -> SlackResource:
    reset_caches()
    return SlackResource(
        token=SLACK_SANDBOX_TOKEN,
        base_url=f"{slack_sandbox.url}/api/",  # type: ignore[attr-defined]
        max_attempts=1,
    )


def lookups(sandbox: SlackSandbox) -> int:
    requests = sandbox.stats()["requests"]
    return sum(n for k, n in requests.items() if k.endswith("/api/users.lookupByEmail"))


def test_found_missing_and_deactivated_users_each_asked_once(
    slack_sandbox: SlackSandbox, slack: SlackResource
) -> None:
    for _ in range(3):
        assert slack.user_id_by_email(" Morgan.Lee@northwindsales.io") == "U0MORGANLEE"
        assert slack.user_id_by_email("noah.patel@northwindsales.io") is None
        assert slack.user_id_by_email("jordan.blake@northwindsales.io") is None  # deleted
    assert lookups(slack_sandbox) == 3


def test_the_sandbox_answers_like_slack(slack_sandbox: SlackSandbox) -> None:
    url = f"{slack_sandbox.url}/api/users.lookupByEmail"  # type: ignore[attr-defined]
    auth = {"Authorization": f"Bearer {SLACK_SANDBOX_TOKEN}"}
    found = httpx.get(url, params={"email": "ava.thompson@northwindsales.io"}, headers=auth)
    assert found.json()["ok"] is True and found.json()["user"]["id"] == "U0AVATHOMP"
    assert found.json()["user"]["profile"]["email"] == "ava.thompson@northwindsales.io"
    missing = httpx.get(url, params={"email": "x@y.example"}, headers=auth)
    assert (missing.status_code, missing.json()) == (200, {"ok": False, "error": "users_not_found"})
    slack_sandbox.configure(lookups_per_minute=2)
    httpx.get(url, params={"email": "x@y.example"}, headers=auth)
    limited = httpx.get(url, params={"email": "x@y.example"}, headers=auth)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json() == {"ok": False, "error": "ratelimited"}


def test_other_errors_are_raised_not_taken_for_a_missing_user(
    slack_sandbox: SlackSandbox,
) -> None:
    reset_caches()
    wrong = SlackResource(
        token="not-a-token",
        base_url=f"{slack_sandbox.url}/api/",  # type: ignore[attr-defined]
        max_attempts=1,
    )
    with pytest.raises(SlackError, match="invalid_auth"):
        wrong.user_id_by_email("morgan.lee@northwindsales.io")
