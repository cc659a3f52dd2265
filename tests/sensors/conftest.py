"""Inbox flows run against the `db_url` store (SQLite and PostgreSQL) and a test instance."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest
import sqlalchemy as sa

from revops_pipelines.store import engine as store_engine


@pytest.fixture
def engine(db_url: str, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    """The store, also made the default of `RevopsDatabase()` for in-process runs."""
    monkeypatch.setenv(store_engine.DATABASE_URL_ENV, db_url)
    return store_engine.get_engine(db_url)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture(autouse=True)
def attio_for_lead_runs(attio_sandbox, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The lead flow in `inbound_leads_job` writes to Attio: point it at the sandbox."""
    monkeypatch.setenv("ATTIO_API_KEY", "sandbox-attio-key")
    monkeypatch.setenv("ATTIO_BASE_URL", attio_sandbox.api_url)
