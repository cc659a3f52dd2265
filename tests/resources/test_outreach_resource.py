"""OutreachResource against the Outreach sandbox over loopback, through httpx: one prospect and
one enrollment per lead, whatever the network does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import dagster as dg
import httpx
import pytest

from revops_pipelines.resources.outreach import OutreachError, OutreachResource
from revops_sandbox.outreach import OUTREACH_SANDBOX_TOKEN, OutreachSandbox
from revops_sandbox.server import serve_in_thread

ADA = ("Ada@Analytical.example", "Ada", "Lovelace", "Analytical Engines")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[OutreachSandbox, str]]:
    sandbox = OutreachSandbox()
    with serve_in_thread(sandbox.app) as server:
        yield sandbox, server.url


@pytest.fixture
def sandbox(served: tuple[OutreachSandbox, str]) -> OutreachSandbox:
    sandbox, url = served
    sandbox.reset()
    sandbox.configure(hourly_limit=10_000, window_seconds=3600)
    sandbox.url = url  # type: ignore[attr-defined]
    return sandbox


@pytest.fixture
def outreach(sandbox: OutreachSandbox) -> Iterator[OutreachResource]:
    resource = OutreachResource(
        access_token=OUTREACH_SANDBOX_TOKEN,
        base_url=f"{sandbox.url}/api/v2",  # type: ignore[attr-defined]
        mailbox_id="1",
        timeout_seconds=1,
        max_total_wait_seconds=5,
    )
    yield resource
    resource.close()


def writes(sandbox: OutreachSandbox) -> dict[str, int]:
    requests = sandbox.stats()["requests"]
    return {path: n for path, n in requests.items() if path.startswith("POST")}


def only_state(sandbox: OutreachSandbox) -> dict:
    [state] = sandbox.sequence_states()
    return state


def test_enroll_once_creates_the_prospect_then_the_state(
    sandbox: OutreachSandbox, outreach: OutreachResource
) -> None:
    state_id = outreach.enroll_once(*ADA, sequence_id=2)
    [prospect] = sandbox.prospects()
    assert prospect["attributes"]["emails"] == ["ada@analytical.example"]
    assert prospect["attributes"]["firstName"] == "Ada"
    assert prospect["attributes"]["company"] == "Analytical Engines"
    state = only_state(sandbox)
    assert state["id"] == state_id
    assert {k: v["data"]["id"] for k, v in state["relationships"].items()} == {
        "prospect": prospect["id"], "sequence": 2, "mailbox": 1}  # fmt: skip


def test_a_repeated_call_changes_nothing(
    sandbox: OutreachSandbox, outreach: OutreachResource
) -> None:
    first = outreach.enroll_once(*ADA, sequence_id="2")
    second = outreach.enroll_once("ada@analytical.example", "Ada", None, None, sequence_id=2)
    assert first == second
    assert len(sandbox.prospects()) == 1
    assert writes(sandbox) == {"POST /api/v2/prospects": 1, "POST /api/v2/sequenceStates": 1}
    other = outreach.enroll_once(*ADA, sequence_id=3, mailbox_id=2)
    assert other != first
    assert len(sandbox.sequence_states()) == 2
    assert len(sandbox.prospects()) == 1


@pytest.mark.parametrize("fault", ["drop_after_apply", "timeout_after_apply"])
def test_lost_answers_to_both_creates_still_make_one_of_each(
    sandbox: OutreachSandbox, outreach: OutreachResource, fault: str
) -> None:
    rule = {"kind": fault, "methods": ["POST"]}
    sandbox.faults.configure({"next": [rule, rule], "timeout_seconds": 2.5})
    state_id = outreach.enroll_once(*ADA, sequence_id=1)
    assert len(sandbox.prospects()) == 1
    assert only_state(sandbox)["id"] == state_id
    assert sandbox.stats()["faults_injected"] == {fault: 2}
    assert writes(sandbox) == {"POST /api/v2/prospects": 1, "POST /api/v2/sequenceStates": 1}
    assert outreach.enroll_once(*ADA, sequence_id=1) == state_id


@pytest.mark.parametrize("fault", ["503", "drop_before_apply"])
def test_a_create_that_did_not_apply_is_sent_again(
    sandbox: OutreachSandbox, outreach: OutreachResource, fault: str
) -> None:
    sandbox.faults.push(fault, methods=["POST"], path="sequenceStates")
    state_id = outreach.enroll_once(*ADA, sequence_id=1)
    assert only_state(sandbox)["id"] == state_id
    assert writes(sandbox)["POST /api/v2/sequenceStates"] == 2


def test_reads_are_retried_on_5xx(sandbox: OutreachSandbox, outreach: OutreachResource) -> None:
    sandbox.faults.configure({"next": ["500", "503"], "methods": ["GET"]})
    assert outreach.find_prospect("nobody@x.example") is None
    assert sandbox.stats()["requests"]["GET /api/v2/prospects"] == 3


def test_a_422_duplicate_is_answered_by_looking(
    sandbox: OutreachSandbox, outreach: OutreachResource, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another worker enrolls the same lead between our look and our create.
    prospect_id = outreach.ensure_prospect(*ADA)
    original = OutreachResource.find_sequence_state
    looks: list[int] = []

    def racing(self: OutreachResource, prospect: int, sequence: int) -> int | None:
        looks.append(prospect)
        if len(looks) == 1:
            body = {"data": {"type": "sequenceState", "relationships": {
                name: {"data": {"type": name, "id": ref}}
                for name, ref in (("prospect", prospect), ("sequence", sequence), ("mailbox", 2))}}}  # fmt: skip
            httpx.post(
                f"{sandbox.url}/api/v2/sequenceStates",  # type: ignore[attr-defined]
                content=json.dumps(body),
                headers={"Authorization": f"Bearer {OUTREACH_SANDBOX_TOKEN}",
                         "Content-Type": "application/vnd.api+json"},
            ).raise_for_status()  # fmt: skip
            return None
        return original(self, prospect, sequence)

    monkeypatch.setattr(OutreachResource, "find_sequence_state", racing)
    state_id = outreach.enroll_once(*ADA, sequence_id=4)
    assert state_id == only_state(sandbox)["id"]
    assert looks == [prospect_id, prospect_id]
    assert only_state(sandbox)["relationships"]["mailbox"]["data"]["id"] == 2


def test_a_prospect_created_elsewhere_is_found_not_duplicated(
    sandbox: OutreachSandbox, outreach: OutreachResource
) -> None:
    existing = outreach.ensure_prospect("grace@navy.example", "Grace", "Hopper", None)
    assert outreach.ensure_prospect("GRACE@navy.example", None, None, None) == existing
    assert len(sandbox.prospects()) == 1


@pytest.mark.parametrize(
    ("sequence_id", "mailbox_id", "status", "detail"),
    [
        (5, None, 422, "Sequence is disabled."),
        (99, None, 404, "Could not find 'sequence' with ID '99'."),
        (1, 77, 404, "Could not find 'mailbox' with ID '77'."),
    ],
)
def test_jsonapi_errors_surface(
    sandbox: OutreachSandbox,
    outreach: OutreachResource,
    sequence_id: int,
    mailbox_id: int | None,
    status: int,
    detail: str,
) -> None:
    with pytest.raises(OutreachError) as info:
        outreach.enroll_once(*ADA, sequence_id=sequence_id, mailbox_id=mailbox_id)
    assert (info.value.status_code, info.value.detail) == (status, detail)
    assert info.value.errors[0]["id"] in ("validationError", "resourceNotFound")
    assert sandbox.sequence_states() == []


def test_a_429_waits_its_retry_after(sandbox: OutreachSandbox, outreach: OutreachResource) -> None:
    sandbox.configure(hourly_limit=2, window_seconds=2)
    time.sleep(2 - time.time() % 2 + 0.05)  # at the start of a window
    started = time.monotonic()
    assert [outreach.find_prospect("x@y.example") for _ in range(3)] == [None, None, None]
    assert 1.0 <= time.monotonic() - started < 3.5
    assert sandbox.stats()["rate_limited"] == 1


def test_a_bad_token_says_which_variable(outreach: OutreachResource) -> None:
    with pytest.raises(OutreachError) as info:
        outreach.model_copy(update={"access_token": "wrong"}).find_prospect("a@b.example")
    assert info.value.status_code == 401
    assert info.value.detail == "Invalid OAuth token. (check OUTREACH_ACCESS_TOKEN)"
    assert "wrong" not in str(info.value)


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OUTREACH_ACCESS_TOKEN", "OUTREACH_BASE_URL", "OUTREACH_MAILBOX_ID"):
        monkeypatch.delenv(var, raising=False)
    absent = OutreachResource.from_env()
    assert absent.configuration_problem() == (
        "Outreach is not configured: set OUTREACH_ACCESS_TOKEN and OUTREACH_MAILBOX_ID"
    )
    with pytest.raises(OutreachError, match="not configured"):
        absent.enroll_once(*ADA, sequence_id=1)
    monkeypatch.setenv("OUTREACH_ACCESS_TOKEN", "tok-env")
    monkeypatch.setenv("OUTREACH_MAILBOX_ID", "3")
    monkeypatch.setenv("OUTREACH_BASE_URL", "http://127.0.0.1:8714/api/v2")
    with dg.build_resources({"outreach": OutreachResource.from_env()}) as built:
        resource = built.outreach
        assert (resource.access_token, resource.mailbox_id) == ("tok-env", "3")
        assert resource.base_url == "http://127.0.0.1:8714/api/v2"
        assert resource.is_configured()
        assert "tok-env" not in repr(resource)
