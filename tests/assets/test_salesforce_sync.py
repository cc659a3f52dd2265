"""Flow A end to end: Salesforce sandbox (HTTPS) -> assets -> Attio sandbox, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from revops_pipelines.store.engine import get_engine
from revops_pipelines.store.tables import sync_log
from tests.assets.sync_harness import (
    attio_companies_by_sf_id,
    expected_companies,
    materialize_days,
)
from tests.resources.attio_helpers import admin

DAY = timedelta(days=1)
START = datetime(2026, 11, 16, tzinfo=UTC)


@pytest.fixture
def world(sync_world):  # type: ignore[no-untyped-def]
    return sync_world(accounts=120, seed=7)


def writes(attio: Any) -> int:
    return int(attio.stats()["writes_applied"])


def assert_attio_matches(attio: Any, expected: dict[str, dict[str, Any]]) -> None:
    actual = attio_companies_by_sf_id(attio)
    duplicates = {k: v for k, v in actual.items() if len(v) > 1}
    assert duplicates == {}
    missing = sorted(set(expected) - set(actual))
    assert missing == []
    for sf_id, want in expected.items():
        got = actual[sf_id][0]
        assert got["name"] == want["name"], sf_id
        assert got["domains"] == ([want["domain"]] if want["domain"] else []), sf_id


def test_backfill_then_rerun_then_three_changes(world) -> None:  # type: ignore[no-untyped-def]
    sf, attio, res, instance, _ = world
    first = materialize_days("2026-11-16", "2026-11-20", res, instance)
    assert first.success
    expected = expected_companies(sf.rows(), START, START + 5 * DAY)
    assert_attio_matches(attio, expected)
    report = first.asset_materializations_for_node("attio_companies")[0].metadata
    assert report["created"].value == len(expected)
    after_first = writes(attio)

    again = materialize_days("2026-11-16", "2026-11-20", res, instance)
    assert again.success
    assert writes(attio) == after_first, "an unchanged re-run must not write to Attio"
    assert again.asset_materializations_for_node("attio_companies")[0].metadata[
        "unchanged"
    ].value == len(expected)

    synced = sorted(expected)[:3]
    for n, sf_id in enumerate(synced):
        sf.update_account(sf_id, {"Name": f"Renamed {n}"})
    changed = materialize_days("2026-11-20", "2026-11-20", res, instance)
    assert changed.success
    assert writes(attio) - after_first == 3
    names = {k: v[0]["name"] for k, v in attio_companies_by_sf_id(attio).items()}
    assert [names[s] for s in synced] == ["Renamed 0", "Renamed 1", "Renamed 2"]


def test_day_boundary_accounts_are_synced_exactly_once(world) -> None:  # type: ignore[no-untyped-def]
    sf, attio, res, instance, db_url = world
    boundary = [r["Id"] for r in sf.rows() if r["SystemModstamp"].time() == datetime.min.time()]
    assert len(boundary) >= 2, "the synthetic org must put accounts exactly on midnight"
    for day in ("2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"):
        assert materialize_days(day, day, res, instance).success
    with get_engine(db_url).connect() as connection:
        logged = connection.execute(
            sa.select(sync_log.c.source_id, sa.func.count()).group_by(sync_log.c.source_id)
        ).all()
    counts = dict(logged)
    assert all(counts.get(i, 0) == 1 for i in boundary), {i: counts.get(i) for i in boundary}
    days = [(START + n * DAY, START + (n + 1) * DAY) for n in range(5)]
    assert_attio_matches(attio, expected_companies(sf.rows(), START, START + 5 * DAY, runs=days))


def test_dry_run_writes_nothing_and_reports_the_plan(world) -> None:  # type: ignore[no-untyped-def]
    sf, attio, res, instance, _ = world
    config = {"ops": {"attio_companies": {"config": {"dry_run": True}}}}
    result = materialize_days("2026-11-16", "2026-11-17", res, instance, run_config=config)
    assert result.success
    assert writes(attio) == 0
    metadata = result.asset_materializations_for_node("attio_companies")[0].metadata
    expected = expected_companies(sf.rows(), START, START + 2 * DAY)
    assert metadata["dry_run"].value is True
    assert metadata["created"].value == len(expected)
    assert "planned_writes" in metadata


def test_injected_faults_leave_exactly_the_expected_state(world) -> None:  # type: ignore[no-untyped-def]
    sf, attio, res, instance, _ = world
    admin(
        attio,
        "POST",
        "faults",
        json={
            "rate": 0.1,
            "kinds": ["500", "503", "drop_before_apply", "drop_after_apply"],
            "methods": ["POST", "PUT", "PATCH", "DELETE"],
            "seed": 3,
        },
    )
    for _ in range(3):  # a run with rows left in error is re-run, as the retry policy would
        if materialize_days("2026-11-16", "2026-11-20", res, instance).success:
            break
    assert attio.stats()["faults_injected"], "faults must actually have been injected"
    admin(attio, "DELETE", "faults")
    assert materialize_days("2026-11-16", "2026-11-20", res, instance).success
    assert_attio_matches(attio, expected_companies(sf.rows(), START, START + 5 * DAY))
