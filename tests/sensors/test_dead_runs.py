"""Dead runs found within minutes: a started run whose heartbeat went silent is marked failed
(and the failure sensor hands its rows back); rows held by a run that ended without handing them
back, or that the instance does not know, go back on an inbox sensor tick after the grace; a
live run keeps its rows. The store on both engines, a real Dagster instance."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from revops_pipelines.definitions import defs
from revops_pipelines.sensors import dead_runs
from revops_pipelines.sensors.inbox import FORMS, form_inbox_sensor, inbox_run_failure_sensor
from revops_pipelines.services.run_heartbeat import beating
from revops_pipelines.store import inbox, run_heartbeats
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.store.tables import run_heartbeats as heartbeat_table
from tests.sensors.helpers import store_forms, tick


def _beats(engine: sa.Engine) -> dict[str, datetime]:
    with engine.connect() as connection:
        return {r.run_id: r.beat_at for r in connection.execute(sa.select(heartbeat_table))}


def _run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(dg.DagsterRun(job_name="inbound_leads_job", run_id=run_id, status=status))
    return run_id


def _claim(engine: sa.Engine, run_id: str, ids: list[int]) -> None:
    claimed = inbox.claim_batch(engine, FORMS.sources, limit=len(ids), claimed_by=run_id, ids=ids)
    assert [r.id for r in claimed] == ids


def test_a_beating_block_keeps_its_row_fresh_and_drops_it_on_the_way_out(
    engine: sa.Engine,
) -> None:
    with beating(engine, "run-b", every=0.05) as heartbeat:
        first = _beats(engine)["run-b"]
        deadline = time.monotonic() + 10
        while _beats(engine)["run-b"] == first and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _beats(engine)["run-b"] > first
    assert heartbeat.beats >= 2 and _beats(engine) == {}
    with pytest.raises(RuntimeError), beating(engine, "run-c", every=0.05):
        raise RuntimeError("the step failed")
    assert _beats(engine) == {}  # a failed run leaves no row either


def test_a_started_run_gone_silent_is_marked_failed_and_its_rows_go_back(
    engine: sa.Engine, instance: dg.DagsterInstance, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVOPS_RUN_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("REVOPS_RUN_HEARTBEAT_LEASE_SECONDS", "5")
    now = datetime.now(UTC)
    dead, alive = (
        _run(instance, dg.DagsterRunStatus.STARTED),
        _run(instance, dg.DagsterRunStatus.STARTED),
    )
    ended = _run(instance, dg.DagsterRunStatus.SUCCESS)  # its row outlived it (a late beat)
    for run_id, beat in (
        (dead, now - timedelta(minutes=3)),
        (alive, now),
        (ended, now - timedelta(minutes=3)),
    ):
        run_heartbeats.beat(engine, run_id, beat)
    ids = store_forms(engine, 2)
    _claim(engine, dead, ids)

    context = dg.build_sensor_context(
        instance=instance, resources={"database": RevopsDatabase(url=db_url)}, definitions=defs
    )
    result = dead_runs.run_heartbeat_sensor(context)
    assert isinstance(result, dg.SkipReason) and dead in (result.skip_message or "")
    statuses = {r: instance.get_run_by_id(r).status for r in (dead, alive, ended)}
    assert statuses == {
        dead: dg.DagsterRunStatus.FAILURE,
        alive: dg.DagsterRunStatus.STARTED,
        ended: dg.DagsterRunStatus.SUCCESS,
    }
    assert set(_beats(engine)) == {alive}  # the dead and the ended run's rows are dropped

    [failure] = instance.all_logs(dead, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert "stopped beating" in (failure.message or "")
    sensor_context = dg.build_run_status_sensor_context(
        sensor_name="inbox_run_failure_sensor",
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(dead),
        dagster_event=failure.dagster_event,
        resources={"database": RevopsDatabase(url=db_url)},
    ).for_run_failure()
    inbox_run_failure_sensor(sensor_context)
    rows = inbox.get_rows(engine, ids)
    assert [(r.status, r.attempts, r.claimed_by) for r in rows] == [("pending", 1, None)] * 2
    assert all("stopped beating" in (r.last_error or "") for r in rows)


def test_rows_of_a_run_that_succeeded_without_settling_them_go_back_after_the_grace(
    engine: sa.Engine, instance: dg.DagsterInstance, db_url: str
) -> None:
    ids = store_forms(engine, 2)
    [request] = tick(form_inbox_sensor, instance, db_url, None).run_requests
    # Materializing the claiming asset alone (a partial run from the UI) claims and never settles.
    partial = defs.resolve_job_def("inbound_leads_job").execute_in_process(
        run_config=request.run_config,
        instance=instance,
        asset_selection=[dg.AssetKey("form_submissions")],
    )
    assert partial.success
    assert {r.status for r in inbox.get_rows(engine, ids)} == {"processing"}

    now = datetime.now(UTC)
    kept, _ = dead_runs.hand_back_orphaned_claims(instance, engine, FORMS.sources, now=now)
    assert kept.pending == 0  # within the grace: the run-failure sensor would go first
    later = now + dead_runs.ORPHAN_GRACE + timedelta(seconds=1)
    released, reasons = dead_runs.hand_back_orphaned_claims(
        instance, engine, FORMS.sources, now=later
    )
    assert (released.pending, released.failed) == (2, 0)
    assert reasons == [f"run {partial.run_id} ended (SUCCESS) holding 2 inbox rows"]
    rows = inbox.get_rows(engine, ids)
    assert [(r.status, r.attempts) for r in rows] == [("pending", 1)] * 2
    assert rows[0].last_error == reasons[0]


def test_an_inbox_tick_hands_back_an_unknown_run_s_rows_and_leaves_a_live_run_s(
    engine: sa.Engine, instance: dg.DagsterInstance, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dead_runs, "ORPHAN_GRACE", timedelta(0))
    live = _run(instance, dg.DagsterRunStatus.STARTED)
    gone, held = store_forms(engine, 2), store_forms(engine, 1, start=2)
    _claim(engine, "run-of-another-instance", gone)
    _claim(engine, live, held)

    tick(form_inbox_sensor, instance, db_url, None)
    assert [(r.status, r.attempts) for r in inbox.get_rows(engine, gone)] == [("pending", 1)] * 2
    assert "is unknown to the Dagster instance" in (
        inbox.get_rows(engine, gone)[0].last_error or ""
    )
    [row] = inbox.get_rows(engine, held)
    assert (row.status, row.claimed_by, row.attempts) == ("processing", live, 0)
