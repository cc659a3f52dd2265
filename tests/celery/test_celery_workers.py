"""Issue 12, item 4: the distributed engine. Two real Celery workers (dagster-celery on the
machine's RabbitMQ) execute the steps of a company sync and of lead runs launched while the sync
writes to Attio, every process on one PostgreSQL-backed Dagster instance (`deploy/dagster.yaml`
and `deploy/set_pools.sh`; the workers start with `deploy/celery.yaml`).

Checked: both workers executed steps (each step's engine event names its Celery worker); the
Attio sandbox, at its real budget of 25 writes/s, never saw more writes in a second than the
budget; and Attio ends exact: every synced company and every lead's person and company once,
nothing missing.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from revops_pipelines.domain.attio_values import all_values
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_sandbox.form_traffic import typeform_delivery
from tests.assets.sync_harness import attio_companies_by_sf_id, expected_companies
from tests.celery import workers
from tests.conftest import ATTIO_TEST_KEY
from tests.deploy import harness

SYNC_JOB, LEAD_JOB = "salesforce_incremental_sync_job", "inbound_leads_job"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FIRST_DAY, LAST_DAY = "2026-11-16", "2026-11-20"
START, END = datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
ACCOUNTS = 1500  # about 55 s of Attio writes at 25/s: the leads, launched once it writes, meet it
LEAD_RUNS, LEADS_PER_RUN = 2, 2
WRITE_BUDGET = 25  # Attio: 25 writes per second per workspace (attio-api.md 5.1)
# A loaded 2-core machine: each worker and each run process imports the code location.
RUNS_TIMEOUT = 360.0  # launched -> every run process has exited
WORKERS = ("w1", "w2")
# The machine's Redis holds the shared rate budget; a key prefix of this test's own.
REDIS_URL = os.environ.get("REVOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _lead_body(index: int) -> tuple[str, bytes]:
    """A Typeform submission of a lead of its own company: (email, raw body)."""
    body = json.loads(typeform_delivery("unused", random.Random(index)).body)
    email = f"buyer{index}@celery-lead-{index}.example"
    for answer in body["form_response"]["answers"]:
        if answer["type"] == "email":
            answer["email"] = email
    body["event_id"] = f"celery-lead-{index}"
    return email, json.dumps(body).encode()


@dataclass
class Deployment:
    home: Path
    workdir: Path
    instance: dg.DagsterInstance
    env: dict[str, str]
    workers: list[workers.Worker]
    stack: ExitStack


@pytest.fixture
def deployment(
    salesforce_sandbox: Any, attio_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Deployment, Any, Any, dict[str, int]]]:
    sf = salesforce_sandbox(accounts=ACCOUNTS, days=4, now=NOW, seed=12)
    home, workdir = tmp_path / "dagster_home", tmp_path / "work"
    workdir.mkdir()
    with ExitStack() as stack:
        dagster_db = stack.enter_context(harness.fresh_database("revops_celery_dagster"))
        store_db = stack.enter_context(harness.fresh_database("revops_celery_store"))
        broker = stack.enter_context(workers.rabbitmq_vhost())
        store_url = store_db.render_as_string(hide_password=False)
        stack.callback(store_engine.dispose_all)
        engine = store_engine.get_engine(store_url)  # migrated, as the receiver would
        leads: dict[str, int] = {}
        for index in range(LEAD_RUNS * LEADS_PER_RUN):
            email, body = _lead_body(index)
            stored = inbox.store_event(
                engine, source="typeform", event_id=f"celery-lead-{index}", headers={}, body=body
            )
            assert stored.id is not None
            leads[email] = stored.id

        harness.write_home(home)
        env = harness.deployment_env(
            home,
            {
                "DAGSTER_POSTGRES_URL": harness.dagster_postgres_url(dagster_db),
                "DAGSTER_CELERY_BROKER_URL": broker,
                "REVOPS_DATABASE_URL": store_url,
                "ATTIO_API_KEY": ATTIO_TEST_KEY,
                "ATTIO_BASE_URL": attio_sandbox.api_url,
                "SALESFORCE_INSTANCE_URL": sf.url,
                "SALESFORCE_ACCESS_TOKEN": sf.access_token,
                "REDIS_URL": REDIS_URL,
                "REVOPS_RATE_BUDGET_PREFIX": f"test-celery:{uuid.uuid4().hex}",
                # the lead steps go to the workers too, not the run worker's own process
                "REVOPS_INBOX_EXECUTOR": "location_default",
            },
        )
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", env["DAGSTER_POSTGRES_URL"])
        # Opening it first creates Dagster's tables, before the workers and set_pools race to.
        instance = dg.DagsterInstance.from_config(str(home))
        stack.callback(instance.dispose)
        harness.set_pools(env)
        started = stack.enter_context(
            workers.celery_workers(WORKERS, workers.WORKER_CONFIG, env, workdir)
        )
        yield Deployment(home, workdir, instance, env, started, stack), sf, attio_sandbox, leads


def _launch(d: Deployment, job: str, run_config: dict[str, Any], tags: dict[str, str]) -> Any:
    launch = workers.execute_job(job, run_config, tags, d.env, d.workdir)
    d.stack.callback(workers.stop_group, launch.process)  # even if the test fails first
    return launch


def _runs(d: Deployment, job: str) -> list[dg.DagsterRun]:
    return list(d.instance.get_runs(dg.RunsFilter(job_name=job)))


def _diagnosis(d: Deployment, launches: list[Any]) -> str:
    parts = [f"--- run process {launch.job} (tail)\n{launch.tail()}" for launch in launches]
    parts += [f"--- Celery worker {w.name} (tail)\n{w.tail()}" for w in d.workers]
    for job in (SYNC_JOB, LEAD_JOB):
        for run in _runs(d, job):
            parts.append(f"--- run {run.run_id} {job} {run.status.value}")
            parts.append(harness.run_report(d.instance, run.run_id, d.home))
    return "\n".join(parts)


def _celery_workers_by_step(d: Deployment, run_id: str) -> dict[str, str]:
    """step key -> the Celery worker hostname its engine event names."""
    found: dict[str, str] = {}
    for record in d.instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        data = event.engine_event_data if event else None
        value = (data.metadata or {}).get("Celery worker") if data else None
        if value is not None and record.step_key:
            found[record.step_key] = str(getattr(value, "value", value))
    return found


def _step_spans(d: Deployment, run_id: str) -> dict[str, tuple[float, float]]:
    """step key -> (start, end) wall-clock seconds."""
    starts: dict[str, float] = {}
    spans: dict[str, tuple[float, float]] = {}
    for record in d.instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not record.step_key:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[record.step_key] = record.timestamp
        elif event.event_type in (
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
        ):
            spans[record.step_key] = (
                starts.get(record.step_key, record.timestamp),
                record.timestamp,
            )
    return spans


def _timeline(d: Deployment, runs: list[dg.DagsterRun], origin: float) -> str:
    """Each step's span in seconds from `origin`, and the worker that ran it."""
    lines = []
    for run in runs:
        placed = _celery_workers_by_step(d, run.run_id)
        for step, (start, end) in sorted(_step_spans(d, run.run_id).items(), key=lambda i: i[1]):
            worker = placed.get(step, "?").split("@")[0]
            lines.append(
                f"  {start - origin:7.1f} .. {end - origin:7.1f} s  {worker:3} "
                f"{run.job_name} {run.run_id[:8]} {step}"
            )
    return "\n".join(sorted(lines, key=lambda line: float(line.split()[0])))


def _lead_report(d: Deployment, runs: list[dg.DagsterRun], leads: dict[str, int]) -> str:
    """The leads' inbox rows and what each lead run's steps reported."""
    engine = store_engine.get_engine(d.env["REVOPS_DATABASE_URL"])
    lines = [
        f"inbox {row.id}: {row.status} attempts={row.attempts} by={str(row.claimed_by)[:8]} "
        f"error={row.last_error}"
        for row in inbox.get_rows(engine, list(leads.values()))
    ]
    for run in runs:
        for record in d.instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ):
            m = record.asset_materialization
            if m is not None:
                meta = {k: v.value for k, v in m.metadata.items()}
                lines.append(f"run {run.run_id[:8]} {m.asset_key.to_user_string()}: {meta}")
    return "\n".join(lines)


def _metadata(d: Deployment, run_id: str, asset: str) -> list[dict[str, Any]]:
    """The values of each of `asset`'s materializations in the run (one per partition)."""
    found = []
    for record in d.instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        m = record.asset_materialization
        if m is not None and m.asset_key == dg.AssetKey(asset):
            found.append({k: v.value for k, v in m.metadata.items()})
    assert found, f"no materialization of {asset} in run {run_id}"
    return found


def _wait_for_exit(launches: list[Any], timeout: float, d: Deployment) -> None:
    deadline = time.monotonic() + timeout
    while any(launch.process.poll() is None for launch in launches):
        if time.monotonic() > deadline:
            pytest.fail(f"runs still going after {timeout:.0f} s:\n{_diagnosis(d, launches)}")
        for w in d.workers:
            if not w.alive():
                pytest.fail(f"Celery worker {w.name} died:\n{_diagnosis(d, launches)}")
        time.sleep(1.0)


@pytest.mark.timeout(RUNS_TIMEOUT + 300)  # + start-up and shutdown
def test_two_celery_workers_run_a_sync_and_leads_inside_one_attio_budget(deployment) -> None:  # type: ignore[no-untyped-def]
    d, sf, attio, leads = deployment
    with httpx.Client(base_url=attio.url) as admin:
        admin.post(
            "/_sandbox/config", json={"write_rate": 25.0, "read_rate": 100.0}
        ).raise_for_status()
    baseline = attio.stats()["records"]

    tags = {
        "dagster/asset_partition_range_start": FIRST_DAY,
        "dagster/asset_partition_range_end": LAST_DAY,
    }
    since = time.time()
    # The leads are launched once the sync writes its companies, so their Attio steps meet the
    # sync's (launched together, the leads could finish while the sync still reads and maps).
    launches = [_launch(d, SYNC_JOB, {}, tags)]
    deadline = time.monotonic() + RUNS_TIMEOUT
    while attio.stats()["records"].get("companies", 0) <= baseline.get("companies", 0):
        assert time.monotonic() < deadline, _diagnosis(d, launches)
        time.sleep(0.2)
    ids = list(leads.values())
    for batch in range(LEAD_RUNS):
        batch_ids = ids[batch * LEADS_PER_RUN : (batch + 1) * LEADS_PER_RUN]
        config = {
            "ops": {
                "form_submissions": {"config": {"inbox_ids": batch_ids, "limit": LEADS_PER_RUN}}
            }
        }
        launches.append(_launch(d, LEAD_JOB, config, {}))
    _wait_for_exit(launches, RUNS_TIMEOUT, d)

    [sync_run] = _runs(d, SYNC_JOB)
    lead_runs = _runs(d, LEAD_JOB)
    assert len(lead_runs) == LEAD_RUNS, _diagnosis(d, launches)
    for run in [sync_run, *lead_runs]:
        assert run.status == dg.DagsterRunStatus.SUCCESS, _diagnosis(d, launches)

    # Every step ran on a Celery worker, and both workers took steps.
    by_worker: dict[str, list[str]] = defaultdict(list)
    for run in [sync_run, *lead_runs]:
        placed = _celery_workers_by_step(d, run.run_id)
        assert set(placed) == set(_step_spans(d, run.run_id)), (run.run_id, placed)
        for step, worker in placed.items():
            by_worker[worker.split("@")[0]].append(f"{run.job_name}:{step}")
    print(f"\nsteps per Celery worker: {dict(by_worker)}")
    assert set(by_worker) == set(WORKERS), dict(by_worker)

    # The lead runs' Attio steps ran while the sync's Attio step was writing.
    sync_start, sync_end = _step_spans(d, sync_run.run_id)["attio_companies"]
    lead_attio = [
        span
        for run in lead_runs
        for step, span in _step_spans(d, run.run_id).items()
        if step in ("attio_people", "routed_leads", "lead_follow_ups")
    ]
    overlapping = [s for s in lead_attio if s[0] < sync_end and s[1] > sync_start]
    timeline = _timeline(d, [sync_run, *lead_runs], origin=sync_start)
    print(
        f"sync attio_companies {sync_end - sync_start:.1f} s; lead Attio steps overlapping it: "
        f"{len(overlapping)} of {len(lead_attio)}\n{timeline}"
    )
    assert overlapping, f"no lead step wrote to Attio while the sync did:\n{timeline}"

    # Counted where it matters: what reached Attio in any rolling second, refused or not.
    with httpx.Client(base_url=attio.url) as admin:
        log = admin.get("/_sandbox/rate_log", params={"kind": "write", "since": since}).json()
    busiest = max(log["per_second"].values(), default=0)
    print(
        f"Attio writes: {log['requests']} arrived, {log['rate_limited']} refused (429); "
        f"most in a rolling second {log['max_in_window']}, in a clock second {busiest}"
    )
    assert log["max_in_window"] <= WRITE_BUDGET, log
    assert log["rate_limited"] == 0, log
    for run, asset in [(sync_run, "attio_companies")] + [(r, "lead_follow_ups") for r in lead_runs]:
        for meta in _metadata(d, run.run_id, asset):
            budgets = meta["rate_budgets"]
            assert budgets["attio"]["mode"] == "redis", (run.run_id, asset, budgets)

    # Attio ends exact: every synced company once, every lead's person and company once.
    expected = expected_companies(sf.rows(), START, END)
    actual = attio_companies_by_sf_id(attio)
    assert {k: len(v) for k, v in actual.items()} == dict.fromkeys(expected, 1)
    for sf_id, want in expected.items():
        [got] = actual[sf_id]
        assert got["name"] == want["name"], sf_id
        assert got["domains"] == ([want["domain"]] if want["domain"] else []), sf_id
    stats = attio.stats()
    print(
        f"Attio writes applied {stats['writes_applied']}, 429s {stats['rate_limited']}, "
        f"requests {sum(stats['requests'].values())}"
    )
    report = _lead_report(d, lead_runs, leads)
    rows = inbox.get_rows(
        store_engine.get_engine(d.env["REVOPS_DATABASE_URL"]), list(leads.values())
    )
    assert {row.status for row in rows} == {"done"}, report
    people = attio.records("people")
    emails = [e for p in people for e in all_values(p, "email_addresses", "email_address")]
    assert sorted(e for e in emails if e in leads) == sorted(leads), report
    domains = [
        dom for c in attio.records("companies") for dom in all_values(c, "domains", "domain")
    ]
    for email in leads:
        assert domains.count(email.split("@")[1]) == 1, email
    records = attio.stats()["records"]
    assert records["people"] - baseline["people"] == len(leads)
    assert records["companies"] - baseline["companies"] == len(expected) + len(leads)
