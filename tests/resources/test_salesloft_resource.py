"""SalesloftResource against the Salesloft sandbox over real HTTP: a person is found or created
and put on the cadence once, also after a lost answer and under faults; "already on the cadence"
counts as done; a refusal (do-not-contact) surfaces Salesloft's message; the 429 and the budget."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from revops_pipelines.resources.salesloft import SalesloftError, SalesloftResource
from revops_sandbox.salesloft import SALESLOFT_SANDBOX_TOKEN, SalesloftSandbox
from revops_sandbox.server import serve_in_thread


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SalesloftSandbox, str]]:
    sandbox = SalesloftSandbox()
    with serve_in_thread(sandbox.app) as server:
        yield sandbox, f"{server.url}/v2"


@pytest.fixture
def sandbox(served: tuple[SalesloftSandbox, str]) -> SalesloftSandbox:
    served[0].reset()
    return served[0]


@pytest.fixture
def salesloft(served: tuple[SalesloftSandbox, str]) -> SalesloftResource:
    return SalesloftResource(
        api_key=SALESLOFT_SANDBOX_TOKEN, base_url=served[1], max_total_wait_seconds=2.0
    )


def test_a_person_is_put_on_the_cadence_once(
    sandbox: SalesloftSandbox, salesloft: SalesloftResource
) -> None:
    first = salesloft.add_to_cadence_once("Ada@Example.com", "Ada", "L", "Analytical", 2)
    again = salesloft.add_to_cadence_once("ada@example.com", "Ada", "L", "Analytical", 2)
    assert first == again
    assert sandbox.on_cadence() == [("ada@example.com", 2)]
    [person] = sandbox.people.values()
    assert person["person_company_name"] == "Analytical"


def test_an_existing_person_is_found_by_email_not_created(
    sandbox: SalesloftSandbox, salesloft: SalesloftResource
) -> None:
    existing = sandbox.add_person("grace@example.com", first_name="Grace")
    salesloft.add_to_cadence_once("grace@example.com", "G", "H", None, 1)
    assert list(sandbox.people) == [existing]
    assert sandbox.on_cadence() == [("grace@example.com", 1)]


@pytest.mark.parametrize("fault", ["drop_after_apply", "500", "drop_before_apply"])
def test_after_a_lost_or_failed_add_it_looks_before_adding_again(
    sandbox: SalesloftSandbox, salesloft: SalesloftResource, fault: str
) -> None:
    sandbox.faults.push(fault, methods=["POST"], path="cadence_memberships")
    salesloft.add_to_cadence_once("linus@example.com", "Linus", None, None, 3)
    assert sandbox.on_cadence() == [("linus@example.com", 3)]


def test_already_on_the_cadence_counts_as_done(
    sandbox: SalesloftSandbox, salesloft: SalesloftResource
) -> None:
    person = sandbox.add_person("ken@example.com")
    url = f"{salesloft.base_url}/cadence_memberships"
    auth = {"Authorization": f"Bearer {SALESLOFT_SANDBOX_TOKEN}"}
    assert httpx.post(url, params={"person_id": person, "cadence_id": 1}, headers=auth).is_success
    second = httpx.post(url, params={"person_id": person, "cadence_id": 1}, headers=auth)
    assert second.status_code == 422  # what the sandbox answers, and the client must absorb
    # A 422 on the add (the membership appeared between the look and the add) is answered by
    # looking: the write step alone, as add_to_cadence_once runs it after its first look.
    params = {"person_id": person, "cadence_id": 1}
    membership = salesloft._write_once(
        "cadence membership",
        lambda: salesloft.request("POST", "cadence_memberships", params=params),
        lambda: salesloft.find_membership(person, 1),
    )
    assert membership == salesloft.find_membership(person, 1)
    assert salesloft.add_to_cadence_once("ken@example.com", None, None, None, 1) == membership
    assert sandbox.on_cadence() == [("ken@example.com", 1)]


def test_a_refusal_carries_salesloft_s_message(
    sandbox: SalesloftSandbox, salesloft: SalesloftResource
) -> None:
    sandbox.add_person("dnc@example.com", do_not_contact=True)
    with pytest.raises(SalesloftError) as caught:
        salesloft.add_to_cadence_once("dnc@example.com", None, None, None, 1)
    assert caught.value.status_code == 422
    assert "could not be added to the requested cadence" in str(caught.value)
    assert sandbox.on_cadence() == []


def test_the_budget_and_the_429(sandbox: SalesloftSandbox, salesloft: SalesloftResource) -> None:
    assert salesloft.rate_budget().rate("request") == 10.0  # 600 cost a minute, cost 1 each
    response = httpx.get(
        f"{salesloft.base_url}/cadences",
        headers={"Authorization": f"Bearer {SALESLOFT_SANDBOX_TOKEN}"},
    )
    assert response.headers["x-ratelimit-endpoint-cost"] == "1"
    assert int(response.headers["x-ratelimit-remaining-minute"]) < 600
    sandbox.configure(cost_per_minute=1)
    one_try = salesloft.model_copy(update={"max_attempts": 1})
    with pytest.raises(SalesloftError) as caught:
        one_try.find_person("x@example.com")
    assert caught.value.status_code == 429 and caught.value.retryable
    sandbox.configure(cost_per_minute=600)


def test_a_wrong_key_names_the_variable(salesloft: SalesloftResource) -> None:
    wrong = salesloft.model_copy(update={"api_key": "nope"})
    with pytest.raises(SalesloftError, match=r"401.*SALESLOFT_API_KEY"):
        wrong.find_person("a@example.com")
