"""The Clearbit-format enrichment sandbox over a real socket, through httpx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from revops_sandbox.enrichment import ENRICHMENT_SANDBOX_KEY, EnrichmentSandbox
from revops_sandbox.server import serve_in_thread


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[EnrichmentSandbox, str]]:
    sandbox = EnrichmentSandbox()
    with serve_in_thread(sandbox.app) as server:
        yield sandbox, server.url


@pytest.fixture
def sandbox(served: tuple[EnrichmentSandbox, str]) -> EnrichmentSandbox:
    sandbox, url = served
    httpx.post(f"{url}/_sandbox/reset").raise_for_status()
    httpx.post(f"{url}/_sandbox/config", json={"rate": 1000, "pending_lookups": 1})
    sandbox.url = url  # type: ignore[attr-defined]
    return sandbox


@pytest.fixture
def client(sandbox: EnrichmentSandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ENRICHMENT_SANDBOX_KEY}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=5) as c:  # type: ignore[attr-defined]
        yield c


def find(client: httpx.Client, domain: str) -> httpx.Response:
    return client.get("/v2/companies/find", params={"domain": domain})


def test_a_known_domain_answers_the_clearbit_company_shape(client: httpx.Client) -> None:
    answer = find(client, "apollo.example")
    assert answer.status_code == 200
    company = answer.json()
    assert company["name"] == "Apollo Guidance"
    assert company["domain"] == "apollo.example"
    assert company["metrics"]["employees"] == 2300
    assert company["metrics"]["employeesRange"] == "1K-5K"
    assert company["category"]["industry"] == "Aerospace & Defense"
    assert company["geo"]["country"] == "United States"
    assert company["geo"]["countryCode"] == "US"
    assert {"legalName", "domainAliases", "tags", "tech", "parent", "indexedAt"} <= set(company)


def test_www_and_case_do_not_matter(client: httpx.Client) -> None:
    assert find(client, "WWW.Acme.Example").json()["name"] == "Acme Corp"


def test_a_pending_domain_is_queued_first_then_found(
    sandbox: EnrichmentSandbox, client: httpx.Client
) -> None:
    first = find(client, "kernel.example")
    assert first.status_code == 202
    assert first.json()["error"]["type"] == "queued"
    second = find(client, "kernel.example")
    assert second.status_code == 200
    assert second.json()["name"] == "Kernel Labs"
    assert sandbox.lookups() == {"kernel.example": 2}


def test_pending_lookups_is_configurable(sandbox: EnrichmentSandbox, client: httpx.Client) -> None:
    sandbox.configure(pending_lookups=2)
    assert [find(client, "globex.example").status_code for _ in range(3)] == [202, 202, 200]


def test_unknown_and_invalid_domains(client: httpx.Client) -> None:
    unknown = find(client, "no-such-company.example")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "unknown_record"
    for bad in ("not a domain", "localhost", "", "-x-.example"):
        answer = find(client, bad)
        assert answer.status_code == 422, bad
        assert answer.json()["error"]["type"] == "invalid_domain"
    missing = client.get("/v2/companies/find")
    assert missing.status_code == 422


def test_keys_by_bearer_or_basic_and_401_otherwise(sandbox: EnrichmentSandbox) -> None:
    url = f"{sandbox.url}/v2/companies/find?domain=acme.example"  # type: ignore[attr-defined]
    assert httpx.get(url, auth=(ENRICHMENT_SANDBOX_KEY, "")).status_code == 200
    for headers in ({}, {"Authorization": "Bearer sk_wrong"}):
        answer = httpx.get(url, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["type"] == "auth_required"
    assert sandbox.lookups() == {"acme.example": 1}


def test_past_the_rate_a_429_says_when(sandbox: EnrichmentSandbox, client: httpx.Client) -> None:
    sandbox.configure(rate=1)
    assert find(client, "acme.example").status_code == 200
    limited = find(client, "acme.example")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["error"]["type"] == "rate_limit"
    assert sandbox.stats()["rate_limited"] == 1


def test_faults_and_stats(sandbox: EnrichmentSandbox, client: httpx.Client) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/faults", json={"next": ["503", "drop_after_apply"]})  # type: ignore[attr-defined]
    unavailable = find(client, "acme.example")
    assert unavailable.status_code == 503
    assert unavailable.json()["error"]["type"] == "service_unavailable"
    with pytest.raises(httpx.RemoteProtocolError):
        find(client, "acme.example")
    assert find(client, "acme.example").status_code == 200
    stats = httpx.get(f"{sandbox.url}/_sandbox/stats").json()  # type: ignore[attr-defined]
    assert stats["faults_injected"] == {"503": 1, "drop_after_apply": 1}
    assert stats["lookups"] == {"acme.example": 2}  # the 503 came before the lookup
    assert stats["requests"] == {"GET /v2/companies/find": 3}


def test_added_companies(sandbox: EnrichmentSandbox, client: httpx.Client) -> None:
    sandbox.add_company("newco.example", "NewCo", pending=True, metrics={"employees": 3})
    assert find(client, "newco.example").status_code == 202
    company = find(client, "newco.example").json()
    assert (company["name"], company["metrics"]) == ("NewCo", {"employees": 3})
