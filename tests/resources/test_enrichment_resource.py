"""EnrichmentResource against the enrichment sandbox over loopback, with the lead flow's
cache-aside in the store in front of it (SQLite and PostgreSQL): found, pending, not found, and
failures that never raise."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from revops_pipelines.resources.enrichment import CompanyProfile, EnrichmentResource
from revops_pipelines.services.leads.enrichment import CachePolicy, CompanyEnrichment
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.tables import enrichment_cache
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
    sandbox.reset()
    sandbox.configure(rate=1000, pending_lookups=1)
    sandbox.url = url  # type: ignore[attr-defined]
    return sandbox


@pytest.fixture
def enrich(sandbox: EnrichmentSandbox, db_url: str) -> Iterator[CompanyEnrichment]:
    resource = EnrichmentResource(
        api_key=ENRICHMENT_SANDBOX_KEY,
        base_url=sandbox.url,  # type: ignore[attr-defined]
        timeout_seconds=1,
        max_total_wait_seconds=3,
    )
    yield CompanyEnrichment(resource, store_engine.get_engine(db_url))
    resource.close()


def with_client(enrich: CompanyEnrichment, **change: object) -> CompanyEnrichment:
    return dataclasses.replace(enrich, client=enrich.client.model_copy(update=change))


def cache_row(db_url: str, domain: str) -> dict | None:
    with store_engine.get_engine(db_url).connect() as connection:
        row = connection.execute(
            sa.select(enrichment_cache).where(enrichment_cache.c.domain == domain)
        ).mappings().first()  # fmt: skip
    return dict(row) if row else None


def test_found_then_served_from_the_cache_without_a_call(
    sandbox: EnrichmentSandbox, enrich: CompanyEnrichment, db_url: str
) -> None:
    first = enrich.company("www.Analytical.example")
    assert first.status == "found"
    assert first.company == CompanyProfile(
        domain="analytical.example", name="Analytical Engines", employees=540,
        employees_range="251-1K", industry="Internet Software & Services",
        country="United Kingdom", country_code="GB",
        description="Analytical Engines (Internet Software & Services).", city="London",
    )  # fmt: skip
    assert first.from_cache is False
    second = enrich.company("analytical.example")
    assert (second.status, second.company, second.from_cache) == ("found", first.company, True)
    assert sandbox.lookups() == {"analytical.example": 1}
    row = cache_row(db_url, "analytical.example")
    assert row is not None and row["status"] == "found"
    assert row["payload"]["metrics"]["employees"] == 540
    ttl = row["expires_at"] - row["fetched_at"]
    assert ttl == timedelta(days=7)


def test_as_fields_feeds_the_lead(enrich: CompanyEnrichment) -> None:
    fields = enrich.company("apollo.example").company.as_fields()  # type: ignore[union-attr]
    assert fields == {
        "domain": "apollo.example", "name": "Apollo Guidance", "employees": 2300,
        "employees_range": "1K-5K", "industry": "Aerospace & Defense",
        "country": "United States", "country_code": "US",
        "description": "Apollo Guidance (Aerospace & Defense).", "city": "Cambridge",
    }  # fmt: skip


def test_pending_is_cached_for_minutes_then_found(
    sandbox: EnrichmentSandbox, enrich: CompanyEnrichment, db_url: str
) -> None:
    pending = enrich.company("kernel.example")
    assert (pending.status, pending.company) == ("pending", None)
    assert enrich.company("kernel.example").from_cache is True
    assert sandbox.lookups() == {"kernel.example": 1}
    row = cache_row(db_url, "kernel.example")
    assert row is not None and row["expires_at"] - row["fetched_at"] == timedelta(minutes=5)
    expired = dataclasses.replace(enrich, policy=CachePolicy(pending=timedelta(0)))
    with store_engine.get_engine(db_url).begin() as connection:
        connection.execute(
            enrichment_cache.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    found = expired.company("kernel.example")
    assert (found.status, found.company.name) == ("found", "Kernel Labs")  # type: ignore[union-attr]
    assert cache_row(db_url, "kernel.example")["status"] == "found"  # type: ignore[index]


def test_not_found_is_cached_too(
    sandbox: EnrichmentSandbox, enrich: CompanyEnrichment, db_url: str
) -> None:
    assert enrich.company("unknown.example").status == "not_found"
    assert enrich.company("unknown.example").status == "not_found"
    assert sandbox.lookups() == {"unknown.example": 1}
    row = cache_row(db_url, "unknown.example")
    assert row is not None and row["expires_at"] - row["fetched_at"] == timedelta(minutes=60)


def test_a_transient_failure_is_retried(
    sandbox: EnrichmentSandbox, enrich: CompanyEnrichment
) -> None:
    sandbox.faults.configure({"next": ["503", "drop_after_apply"]})
    result = enrich.company("acme.example")
    assert (result.status, result.company.name) == ("found", "Acme Corp")  # type: ignore[union-attr]
    assert sandbox.stats()["faults_injected"] == {"503": 1, "drop_after_apply": 1}


def test_a_429_waits_its_retry_after(sandbox: EnrichmentSandbox, enrich: CompanyEnrichment) -> None:
    sandbox.configure(rate=1)
    enrich.company("acme.example")
    started = time.monotonic()
    result = enrich.company("apollo.example")
    assert result.status == "found"
    assert 0.5 <= time.monotonic() - started < 2.5
    assert sandbox.stats()["rate_limited"] == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"api_key": "sk_wrong"}, "HTTP 401 auth_required (check ENRICHMENT_API_KEY)"),
        (
            {"api_key": ""},
            "enrichment is not configured: set ENRICHMENT_API_KEY (and ENRICHMENT_BASE_URL)",
        ),
    ],
)
def test_failures_never_raise_and_never_show_the_key(
    enrich: CompanyEnrichment, change: dict, expected: str, db_url: str
) -> None:
    result = with_client(enrich, **change).company("acme.example")
    assert (result.status, result.error, result.company) == ("error", expected, None)
    assert cache_row(db_url, "acme.example") is None  # errors are not cached


def test_a_persistent_outage_is_an_error_result(
    sandbox: EnrichmentSandbox, enrich: CompanyEnrichment, db_url: str
) -> None:
    sandbox.faults.configure({"rate": 1.0, "kinds": ["503"]})
    result = enrich.company("acme.example")
    assert (result.status, result.error) == ("error", "HTTP 503 service_unavailable")
    assert sandbox.stats()["faults_injected"] == {"503": 3}  # max_attempts
    assert cache_row(db_url, "acme.example") is None


def test_an_unreachable_api_is_an_error_result(db_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    client = EnrichmentResource(
        api_key="k", base_url=f"http://127.0.0.1:{port}", max_attempts=2, max_total_wait_seconds=1,
    )  # fmt: skip
    result = CompanyEnrichment(client, store_engine.get_engine(db_url)).company("acme.example")
    assert (result.status, result.error) == ("error", "ConnectError reaching the enrichment API")


def test_invalid_or_missing_domains_are_error_results(enrich: CompanyEnrichment) -> None:
    assert enrich.company("  ").error == "no domain to look up"
    invalid = enrich.company("not a domain")
    assert (invalid.status, invalid.error) == ("error", "HTTP 422 invalid_domain")


def test_a_broken_store_does_not_stop_enrichment(sandbox: EnrichmentSandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    broken = f"sqlite:///{tmp_path / 'missing-dir' / 'nested' / 'revops.db'}"
    client = EnrichmentResource(
        api_key=ENRICHMENT_SANDBOX_KEY,
        base_url=sandbox.url,  # type: ignore[attr-defined]
    )
    # A plain engine: it only fails when the cache is used, as a store that broke mid-run.
    resource = CompanyEnrichment(client, sa.create_engine(broken))
    assert resource.company("acme.example").status == "found"
    assert resource.company("acme.example").from_cache is False
    assert sandbox.lookups() == {"acme.example": 2}


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENRICHMENT_API_KEY", raising=False)
    monkeypatch.delenv("ENRICHMENT_BASE_URL", raising=False)
    assert not EnrichmentResource.from_env().is_configured()
    monkeypatch.setenv("ENRICHMENT_API_KEY", "sk_env")
    monkeypatch.setenv("ENRICHMENT_BASE_URL", "http://127.0.0.1:8713")
    with dg.build_resources({"enrichment": EnrichmentResource.from_env()}) as built:
        resource = built.enrichment  # the EnvVar resolved, as in a run
        assert (resource.api_key, resource.base_url) == ("sk_env", "http://127.0.0.1:8713")
        assert resource.is_configured()
        assert "sk_env" not in repr(resource)
