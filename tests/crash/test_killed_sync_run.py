"""Real crash recovery of a company sync (issue 15, item 6).

A `salesforce_incremental_sync_job` run over five days of a synthetic org executes in a worker
process of its own and is SIGKILLed in the middle of its writes to Attio: part of the batch
written (and part of its outcomes not yet recorded in the store), and one create of a company
without a domain (no unique key to assert on) landed in Attio while its answer is held back.
Nothing tells Dagster; `run_heartbeat_sensor` marks the silent run failed (so it no longer holds
the one sync slot and run retries would re-launch it), and the next run of the same days, in a
new worker, leaves every account's company in Attio exactly once, none missing, and the id map
pointing at it.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from revops_pipelines.domain.attio_values import all_values, first_value, record_id
from revops_pipelines.store.sync_records import load_record_ids
from tests.assets.sync_harness import NOW, attio_companies_by_sf_id, expected_companies
from tests.crash import recovery, worker
from tests.crash.conftest import CrashWorld

JOB = "salesforce_incremental_sync_job"
START = datetime(2026, 11, 16, tzinfo=UTC)
DAYS = {
    "dagster/asset_partition_range_start": "2026-11-16",
    "dagster/asset_partition_range_end": "2026-11-20",
}
CREATE = "^/v2/objects/companies/records$"  # POST: a create; asserts are PUTs with a query


def _synced(attio: Any) -> list[dict[str, Any]]:
    return [c for c in attio.records("companies") if first_value(c, "salesforce_id")]


def _freeze_once_the_held_create_landed(attio: Any) -> bool:
    """True once a company without a domain (the held create) is in Attio; the sandbox then
    answers nothing for 5 s, so the run is killed with the rest of its writes still to do."""
    if not any(not all_values(c, "domains", "domain") for c in _synced(attio)):
        return False
    attio.configure(latency_ms=5_000)
    return True


def test_a_sync_killed_mid_writes_is_marked_failed_and_its_rerun_writes_each_company_once(
    crash_world: CrashWorld, salesforce_sandbox: Any
) -> None:
    w = crash_world
    sf = salesforce_sandbox(accounts=80, days=3, now=NOW, seed=12)
    expected = expected_companies(sf.rows(), START, START + timedelta(days=5))
    domainless = sorted(sid for sid, values in expected.items() if values["domain"] is None)
    assert domainless, "the org must hold accounts without a domain (created, not asserted)"
    env = {
        **w.env,
        "SALESFORCE_INSTANCE_URL": sf.url,
        "SALESFORCE_ACCESS_TOKEN": sf.access_token,
        "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"],  # the sandbox's throwaway CA
    }
    w.attio.faults.configure(
        {
            "next": [{"kind": "timeout_after_apply", "methods": ["POST"], "path": CREATE}],
            "timeout_seconds": 120,
        }
    )

    run_id = str(uuid.uuid4())
    doomed = worker.start(worker.RunSpec(JOB, run_id, env, tags=DAYS))
    try:
        worker.wait_for(
            "the held create",
            lambda: _freeze_once_the_held_create_landed(w.attio),
            timeout=120,
            worker=doomed,
        )
    finally:
        worker.kill(doomed)
    w.attio.faults.clear()
    w.attio.configure(latency_ms=0)
    written = len(_synced(w.attio))
    assert 0 < written < len(expected), "the kill must land mid-way for this test to mean anything"
    assert w.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
    assert recovery.beating_runs(w.engine) == {run_id}  # it beat until killed, then went silent

    message = recovery.marked_failed_once_silent(w.instance, w.db_url, run_id)
    assert "stopped beating" in message

    rerun_id = str(uuid.uuid4())
    rerun = worker.start(worker.RunSpec(JOB, rerun_id, env, tags=DAYS))
    rerun.join(timeout=180)
    record = w.instance.get_run_by_id(rerun_id)
    assert rerun.exitcode == 0 and record is not None
    assert record.status == dg.DagsterRunStatus.SUCCESS, record.status
    assert recovery.beating_runs(w.engine) == set()  # the dead run's row found, the next's ended

    actual = attio_companies_by_sf_id(w.attio)
    assert {sid: len(found) for sid, found in actual.items() if len(found) > 1} == {}
    assert sorted(actual) == sorted(expected)
    by_sf_id = {first_value(c, "salesforce_id"): record_id(c) for c in _synced(w.attio)}
    with w.engine.connect() as connection:
        tracked = load_record_ids(connection, "salesforce", "Account", domainless)
    assert tracked == {sid: by_sf_id[sid] for sid in domainless}
