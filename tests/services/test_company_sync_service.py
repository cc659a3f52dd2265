"""The company sync's services called directly (no Dagster) against the Salesforce sandbox
(HTTPS) and the Attio sandbox over real HTTP: accounts read, mapped and written once, each
outcome in the sync log; a second run over the same accounts writes nothing."""

from __future__ import annotations

import sqlalchemy as sa

from revops_pipelines.store.tables import sync_log
from tests.assets.sync_harness import attio_companies_by_sf_id, expected_companies
from tests.services.conftest import END, START, sync


def test_accounts_are_written_once_and_logged(company_world, attio_sandbox) -> None:  # type: ignore[no-untyped-def]
    world = company_world
    first = sync(world, "svc-sync-1")
    expected = expected_companies(world["sf"].rows(), START, END)
    actual = attio_companies_by_sf_id(attio_sandbox)
    assert expected and set(actual) == set(expected)
    assert all(len(records) == 1 for records in actual.values())
    assert {sf_id: r[0]["name"] for sf_id, r in actual.items()} == {
        sf_id: want["name"] for sf_id, want in expected.items()
    }
    with world["engine"].connect() as connection:
        logged = connection.execute(
            sa.select(sa.func.count())
            .select_from(sync_log)
            .where(sync_log.c.run_id == "svc-sync-1")
        ).scalar_one()
    assert first.errors == 0 and logged == len(first.outcomes) > 0

    writes = attio_sandbox.stats()["writes_applied"]
    again = sync(world, "svc-sync-2")
    assert again.unchanged == len(expected) and again.errors == 0
    assert attio_sandbox.stats()["writes_applied"] == writes
