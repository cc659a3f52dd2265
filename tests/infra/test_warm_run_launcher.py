"""The warm run launcher on a real Dagster instance: a run forked from the warm process finishes,
a run it is told to stop ends canceled, jobs it is not told about go through the code server,
and a change to the code or the configuration sends runs back to the code server.

The end-to-end use (the daemon, the inbox sensor, deploy/dagster.yaml) is
tests/deploy/test_daemon_tick.py; the latency it buys is benchmarks/bench_speed_to_lead.py's.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from revops_pipelines.infra.warm_run_launcher import PID_TAG, WarmRunLauncher, newest_change
from tests.infra import warm_jobs

RUN_TIMEOUT = 120.0


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    """A persistent instance (the forked run reads it from disk) using the warm launcher."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "routing.yaml").write_text("pools: []\n")
    monkeypatch.setenv("REVOPS_CONFIG_DIR", str(config_dir))
    launcher = {
        "module": "revops_pipelines.infra.warm_run_launcher",
        "class": "WarmRunLauncher",
        "config": {"jobs": ["quick_job", "slow_job"], "preload_modules": [warm_jobs.__name__]},
    }
    with dg.instance_for_test(overrides={"run_launcher": launcher}) as inst:
        yield inst


def launch(instance: dg.DagsterInstance, job: dg.JobDefinition) -> dg.DagsterRun:
    origin = dg.reconstructable(job).get_python_origin()
    run = create_run_for_test(
        instance, job_name=job.name, job_code_origin=origin, remote_job_origin=None
    )
    instance.launch_run(run.run_id, workspace=None)  # type: ignore[arg-type]
    return run


def finished(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish within {RUN_TIMEOUT} s")


def messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [r.dagster_event.message or "" for r in instance.all_logs(run_id) if r.dagster_event]


def test_a_run_forked_from_the_warm_process_succeeds(instance: dg.DagsterInstance) -> None:
    assert isinstance(instance.run_launcher, WarmRunLauncher)
    runs = [launch(instance, warm_jobs.quick_job) for _ in range(2)]
    for run in runs:
        done = finished(instance, run.run_id)
        assert done.status == dg.DagsterRunStatus.SUCCESS, messages(instance, run.run_id)
        [start] = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
        # The process that ran it is the one the launcher forked, and it is not this one.
        assert start.dagster_event is not None
        assert done.tags[PID_TAG] == str(start.dagster_event.pid) != str(os.getpid())
        assert (
            f"[WarmRunLauncher] Started a run worker forked from the warm process "
            f"(pid {done.tags[PID_TAG]})." in messages(instance, run.run_id)
        )
    # Two runs, two processes: one run per fork.
    pids = {instance.get_run_by_id(r.run_id).tags[PID_TAG] for r in runs}  # type: ignore[union-attr]
    assert len(pids) == 2, pids


def test_a_warm_run_told_to_stop_ends_canceled(instance: dg.DagsterInstance) -> None:
    run = launch(instance, warm_jobs.slow_job)
    deadline = time.monotonic() + RUN_TIMEOUT
    while not instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START):
        assert time.monotonic() < deadline, messages(instance, run.run_id)
        time.sleep(0.2)
    assert instance.run_launcher.terminate(run.run_id) is True
    done = finished(instance, run.run_id)
    assert done.status == dg.DagsterRunStatus.CANCELED, messages(instance, run.run_id)
    # A finished run cannot be stopped again.
    assert instance.run_launcher.terminate(run.run_id) is False


def test_a_change_to_the_code_or_configuration_sends_runs_to_the_code_server(
    instance: dg.DagsterInstance, caplog: pytest.LogCaptureFixture
) -> None:
    launcher = instance.run_launcher
    assert isinstance(launcher, WarmRunLauncher)
    assert launcher.holds_current_code() is True
    assert launcher.holds_current_code() is True
    routing = Path(os.environ["REVOPS_CONFIG_DIR"]) / "routing.yaml"
    later = time.time() + 5  # edited after the warm process imported it
    os.utime(routing, (later, later))
    assert newest_change([routing.parent]) == pytest.approx(later)
    with caplog.at_level(logging.WARNING, logger="revops.warm_run_launcher"):
        assert launcher.holds_current_code() is False
        assert launcher.holds_current_code() is False
    [warning] = [r.getMessage() for r in caplog.records]
    assert "changed after the warm run process started" in warning
    # The run then goes the DefaultRunLauncher's way, which needs a code server: with none
    # (this test has no workspace) the launch fails loudly instead of running stale code.
    with pytest.raises(
        dg.DagsterInvariantViolationError, match="DefaultRunLauncher requires a workspace"
    ):
        launch(instance, warm_jobs.quick_job)


def test_newest_change_is_zero_for_missing_directories(tmp_path: Path) -> None:
    assert newest_change([tmp_path / "nowhere"]) == 0.0
    (tmp_path / "a.yaml").write_text("x: 1\n")
    assert newest_change([tmp_path, tmp_path / "nowhere"]) == pytest.approx(
        (tmp_path / "a.yaml").stat().st_mtime
    )


def test_bytecode_written_later_is_not_a_change_of_code(tmp_path: Path) -> None:
    """A process that first imports a module (a sync step's lazy import) writes its bytecode:
    that must not send the inbox runs back to cold starts."""
    (tmp_path / "flow.py").write_text("X = 1\n")
    source = (tmp_path / "flow.py").stat().st_mtime
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    later = source + 60
    for name in ("flow.cpython-311.pyc", "notes.txt"):
        (cache / name).write_text("compiled")
        os.utime(cache / name, (later, later))
    (tmp_path / "stray.pyc").write_text("compiled")
    os.utime(tmp_path / "stray.pyc", (later, later))
    assert newest_change([tmp_path]) == pytest.approx(source)
    # An edit to the source is a change.
    os.utime(tmp_path / "flow.py", (later, later))
    assert newest_change([tmp_path]) == pytest.approx(later)


def test_a_warm_run_whose_worker_is_killed_is_marked_failed_at_once(
    instance: dg.DagsterInstance,
) -> None:
    run = launch(instance, warm_jobs.slow_job)
    deadline = time.monotonic() + RUN_TIMEOUT
    while not instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START):
        assert time.monotonic() < deadline, messages(instance, run.run_id)
        time.sleep(0.2)
    pid = int(instance.get_run_by_id(run.run_id).tags[PID_TAG])  # type: ignore[union-attr]
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)  # as the OOM killer would
    done = finished(instance, run.run_id)
    # Seen within a couple of the launcher's looks, not after a heartbeat lease or an hour.
    assert time.monotonic() - killed < 10
    assert done.status == dg.DagsterRunStatus.FAILURE, messages(instance, run.run_id)
    assert any(
        f"Run worker {pid} of run {run.run_id}" in m and "signal" in m.lower()
        for m in messages(instance, run.run_id)
    ), messages(instance, run.run_id)


def test_disposing_the_instance_stops_the_watcher(tmp_path: Path) -> None:
    launcher = {
        "module": "revops_pipelines.infra.warm_run_launcher",
        "class": "WarmRunLauncher",
        "config": {"jobs": ["quick_job"], "preload_modules": [warm_jobs.__name__]},
    }
    with dg.instance_for_test(overrides={"run_launcher": launcher}) as inst:
        run = launch(inst, warm_jobs.quick_job)
        assert finished(inst, run.run_id).status == dg.DagsterRunStatus.SUCCESS
        watcher = inst.run_launcher._watcher  # type: ignore[attr-defined]
        assert watcher is not None and watcher.is_alive()
    # Left running, it would read the closed instance's storage for the rest of the process.
    assert not watcher.is_alive()
