"""The production deployment, exercised for real: `deploy/dagster.yaml` on PostgreSQL, the pool
limits of `deploy/set_pools.sh`, and `dagster-daemon run` as a subprocess.

A won deal's Attio `record.updated` event waits in the project's store (PostgreSQL too). The
daemon's tick of `attio_inbox_sensor` requests an `attio_events_job` run, the queued run
coordinator dequeues it, and the run fetches the deal from the Attio sandbox, announces it in
the Slack sandbox, writes the note on the deal, and marks the inbox row done. The sandboxes are
served on loopback by this test process; the run reaches them over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
from dagster._core.run_coordinator import QueuedRunCoordinator

from revops_pipelines.infra.warm_run_launcher import PID_TAG
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_sandbox.server import serve_in_thread
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN, SlackSandbox
from tests.conftest import ATTIO_TEST_KEY
from tests.deploy import harness
from tests.resources.attio_helpers import connect

SENSOR, JOB = "attio_inbox_sensor", "attio_events_job"
# Bounds for a loaded 2-core machine. Every process here imports the code location (about 9 s
# of CPU: pandas, pyarrow, the validated YAML): the daemon's code server and the run worker (the
# inbox jobs run their steps in the run's process, issue 12).
LAUNCH_TIMEOUT = 180.0  # daemon start -> the sensor's run exists (code server load included)
RUN_TIMEOUT = 240.0  # run created -> finished
T = TypeVar("T")


@dataclass
class Deployment:
    home: Path
    instance: dg.DagsterInstance
    daemon: harness.Daemon
    engine: sa.Engine
    attio: Any
    slack: SlackSandbox
    deal_id: str
    inbox_id: int
    pools_output: str
    started_at: float  # wall clock (run records carry wall-clock timestamps)


def _reset_attio(url: str) -> None:
    """What the `attio_sandbox` fixture does per test, once for this module's daemon."""
    with httpx.Client(base_url=url) as admin:
        admin.post("/_sandbox/reset").raise_for_status()
        admin.delete("/_sandbox/faults").raise_for_status()
        admin.post(
            "/_sandbox/config", json={"write_rate": 25.0, "read_rate": 100.0}
        ).raise_for_status()


async def _won_deal_event(attio: Any, member_id: str) -> tuple[str, dict[str, Any]]:
    """A won deal in the Attio sandbox, and the `record.updated` event of its stage."""
    client = connect(attio)
    try:
        objects = {o["api_slug"]: o["id"] for o in await client.workspace.objects()}
        stage = next(
            a["id"]["attribute_id"]
            for a in await client.workspace.attributes("objects", "deals")
            if a["api_slug"] == "stage"
        )
        company = await client.records.create(
            "companies", {"name": "Daemon Rockets", "domains": ["daemon-rockets.example"]}
        )
        deal = await client.records.create(
            "deals",
            {
                "name": "Daemon deal",
                "stage": "Won 🎉",
                "value": 125000,
                "associated_company": {
                    "target_object": "companies",
                    "target_record_id": company["id"]["record_id"],
                },
                "owner": {
                    "referenced_actor_type": "workspace-member",
                    "referenced_actor_id": member_id,
                },
            },
        )
    finally:
        await client.aclose()
    deal_id = deal["id"]["record_id"]
    deals = objects["deals"]
    event = {
        "event_type": "record.updated",
        "id": {
            "workspace_id": deals["workspace_id"],
            "object_id": deals["object_id"],
            "record_id": deal_id,
            "attribute_id": stage,
        },
        "actor": {"type": "workspace-member", "id": member_id},
    }
    return deal_id, event


@pytest.fixture(scope="module")
def deployment(
    attio_sandbox_server: tuple[Any, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    sandbox, attio_url = attio_sandbox_server
    _reset_attio(attio_url)
    attio = SimpleNamespace(api_url=f"{attio_url}/v2", sandbox=sandbox)
    slack = SlackSandbox()
    home = tmp_path_factory.mktemp("dagster_home")
    with (
        harness.fresh_database("revops_deploy_dagster") as dagster_db,
        harness.fresh_database("revops_deploy_store") as store_db,
        serve_in_thread(slack.app) as slack_server,
        pytest.MonkeyPatch.context() as patch,
    ):
        store_url = store_db.render_as_string(hide_password=False)
        engine = store_engine.get_engine(store_url)  # migrated, as the receiver would
        member = sandbox.members()[0]["id"]["workspace_member_id"]
        deal_id, event = asyncio.run(_won_deal_event(attio, member))
        body = json.dumps({"webhook_id": "wh-daemon", "events": [event]}).encode()
        stored = inbox.store_event(
            engine, source="attio", event_id="idem-daemon-1", headers={}, body=body
        )
        assert stored.id is not None

        workspace = harness.write_home(home)
        env = harness.deployment_env(
            home,
            {
                "DAGSTER_POSTGRES_URL": harness.dagster_postgres_url(dagster_db),
                "REVOPS_DATABASE_URL": store_url,
                "ATTIO_API_KEY": ATTIO_TEST_KEY,
                "ATTIO_BASE_URL": attio.api_url,
                "SLACK_BOT_TOKEN": SLACK_SANDBOX_TOKEN,
                "SLACK_API_BASE_URL": f"{slack_server.url}/api/",
            },
        )
        # This process reads the same instance: the yaml's {env: ...} resolves from here too.
        patch.setenv("DAGSTER_POSTGRES_URL", env["DAGSTER_POSTGRES_URL"])
        # Opening it first creates Dagster's tables, before the daemon and set_pools race to.
        instance = dg.DagsterInstance.from_config(str(home))
        try:
            pools_output = harness.set_pools(env)
            with harness.running_daemon(home, workspace, env) as daemon:
                yield Deployment(
                    home,
                    instance,
                    daemon,
                    engine,
                    attio,
                    slack,
                    deal_id,
                    stored.id,
                    pools_output,
                    time.time(),
                )
        finally:
            instance.dispose()
            store_engine.dispose_all()


def _wait(what: str, probe: Callable[[], T | None], timeout: float, d: Deployment) -> T:
    """Poll `probe` until it returns a value; fail with the daemon's stderr if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        if not d.daemon.alive():
            pytest.fail(
                f"dagster-daemon exited ({d.daemon.process.returncode}) while waiting for "
                f"{what}; its stderr:\n{d.daemon.tail()}"
            )
        time.sleep(1.0)
    pytest.fail(
        f"no {what} within {timeout:.0f} s; dagster-daemon stderr (tail):\n{d.daemon.tail()}"
    )


def _sensor_run(d: Deployment) -> dg.DagsterRun | None:
    runs = d.instance.get_runs(
        dg.RunsFilter(job_name=JOB, tags={"dagster/sensor_name": SENSOR}), limit=5
    )
    return runs[-1] if runs else None


@pytest.mark.timeout(LAUNCH_TIMEOUT + RUN_TIMEOUT + 180)  # + databases, set_pools, shutdown
def test_a_sensor_tick_launches_a_queued_run_that_succeeds(deployment: Deployment) -> None:
    d = deployment
    # The deploy yaml is what the instance runs on, with the limits set_pools.sh set.
    assert isinstance(d.instance.run_coordinator, QueuedRunCoordinator)
    # Six slots (issue 12): the shared rate budget keeps Attio's limits, pools only concurrency.
    assert d.instance.event_log_storage.get_concurrency_info("attio_api").slot_count == 6, (
        d.pools_output
    )

    run = _wait("run launched by attio_inbox_sensor", lambda: _sensor_run(d), LAUNCH_TIMEOUT, d)
    assert run.tags["dagster/run_key"] == f"attio-{d.inbox_id}-{d.inbox_id}"

    def finished() -> dg.DagsterRun | None:
        current = d.instance.get_run_by_id(run.run_id)
        return current if current is not None and current.is_finished else None

    final = _wait(f"end of run {run.run_id}", finished, RUN_TIMEOUT, d)
    record = d.instance.get_run_record_by_id(run.run_id)
    assert record is not None and record.end_time is not None
    print(
        f"\nafter daemon start: run created {record.create_timestamp.timestamp() - d.started_at:.1f} s,"
        f" started {(record.start_time or 0) - d.started_at:.1f} s,"
        f" ended {record.end_time - d.started_at:.1f} s ({final.status.value})"
    )
    assert final.status == dg.DagsterRunStatus.SUCCESS, (
        f"run {run.run_id} ended {final.status}:\n{harness.run_report(d.instance, run.run_id, d.home)}"
        f"\n--- dagster-daemon stderr (tail) ---\n{d.daemon.tail()}"
    )

    # It went through the queue: the sensor's submission enqueued it (only the queued coordinator
    # does), and the daemon's queue loop launched it (STARTING) for the run worker to start.
    kinds = [r.dagster_event.event_type for r in d.instance.all_logs(run.run_id) if r.dagster_event]
    E = dg.DagsterEventType
    assert E.RUN_ENQUEUED in kinds and E.RUN_STARTING in kinds and E.RUN_START in kinds, kinds
    assert kinds.index(E.RUN_ENQUEUED) < kinds.index(E.RUN_STARTING) < kinds.index(E.RUN_START)

    # Every step ran inside the run worker's process (in_process_executor), none in a
    # subprocess of its own: one import of the code location per run, not one per step.
    def pids(kind: dg.DagsterEventType) -> set[int | None]:
        logs = d.instance.all_logs(run.run_id, of_type=kind)
        return {r.dagster_event.pid for r in logs if r.dagster_event}

    step_pids = pids(dg.DagsterEventType.STEP_START)
    [run_pid] = pids(dg.DagsterEventType.RUN_START)
    assert run_pid is not None and step_pids == {run_pid}, (step_pids, run_pid)
    # The run worker was forked from the daemon's warm process (the deploy yaml's launcher),
    # not spawned by the code server: its pid is the one the launcher tagged and reported.
    assert final.tags[PID_TAG] == str(run_pid), final.tags
    engine_events = d.instance.all_logs(run.run_id, of_type=E.ENGINE_EVENT)
    launched = [r.dagster_event.message for r in engine_events if r.dagster_event]
    assert (
        f"[WarmRunLauncher] Started a run worker forked from the warm process (pid {run_pid})."
        in launched
    )
    # The tick that requested it is in the sensor's history.
    [state] = [s for s in d.instance.all_instigator_state() if s.name == SENSOR]
    ticks = d.instance.get_ticks(state.instigator_origin_id, state.selector_id)
    assert any(run.run_id in t.run_ids for t in ticks), [t.status for t in ticks]

    # The run did the work: one fetch, one Slack post, one note on the deal, the row done.
    [materialization] = [
        r.asset_materialization
        for r in d.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        if r.asset_materialization
        and r.asset_materialization.asset_key == dg.AssetKey("attio_events")
    ]
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert (meta["records_fetched"], meta["notifications_sent"]) == (1, 1), meta
    [message] = d.slack.messages("sales-wins")
    assert "Daemon deal" in message["text"]
    notes = [n for n in d.attio.sandbox.notes() if n["parent_record_id"] == d.deal_id]
    assert [n["title"].startswith("Notification sent: deal won") for n in notes] == [True]
    [row] = inbox.get_rows(d.engine, [d.inbox_id])
    assert (row.status, row.claimed_by) == ("done", run.run_id)
    # The pool slot the Attio step held is free again.
    assert d.instance.event_log_storage.get_concurrency_info("attio_api").active_slot_count == 0
