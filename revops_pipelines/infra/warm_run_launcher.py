"""Run workers forked from a warm process, for the runs a lead waits on.

Dagster's DefaultRunLauncher asks the code server to start each run, and the code server spawns
a fresh interpreter that imports dagster and the code location before the first step: 3-4 s on
an idle 2-core machine, 13-30 s while a sync and the other processes share it (measured by
`benchmarks/bench_speed_to_lead.py`). For the inbox jobs that is most of a lead's wait.

This launcher starts the runs of the jobs it is told (`jobs`) with the standard library's
forkserver instead: one process, started with the daemon, imports `preload_modules` once, and
each run is a fork of it that runs `dagster api execute_run` (the entry point of Dagster's
container launchers) with the code already in memory. Every other job goes through the
DefaultRunLauncher as before, so long syncs still run in the code server's processes.

What it costs:
- The daemon's machine runs the warm runs, in the daemon's environment: the daemon needs the
  variables the code location needs (deploy/README.md), and the code on its disk.
- The warm process holds the code as it was when it started. Before each launch the launcher
  compares the code and configuration files' modification times with that moment; after a
  change, runs go through the code server again (which a reload keeps current) until the
  daemon restarts, and the daemon's log says so once.
- A daemon that stops waits for its warm runs to finish (they are short inbox runs).

A warm run's worker that dies (the OOM killer, a SIGKILL) is seen by the launcher, which looks
at its workers twice a second and marks the run of a dead one failed, as the code server does
for the processes it starts: `inbox_run_failure_sensor` then hands the run's rows back.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

# Internal to Dagster, as they are to its own launchers: the launch context, and the arguments
# of `dagster api execute_run` that every container launcher passes to its run workers.
from dagster._core.launcher import LaunchRunContext
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClassData
from dagster._utils import get_run_crash_explanation  # the code server's wording

log = logging.getLogger("revops.warm_run_launcher")

# The run's tag that names its worker's pid (for `terminate` and for an operator).
PID_TAG = "revops/run_worker_pid"
# How often the launcher looks for warm workers that died.
WATCH_SECONDS = 0.5
# The project's configuration directory, when not the packaged one: its YAML is code too.
CONFIG_DIR_ENV = "REVOPS_CONFIG_DIR"


def run_in_warm_worker(input_json: str) -> None:
    """The forked child: Dagster's `api execute_run` command, in this already-warm process."""
    from dagster._cli.api import execute_run_command

    execute_run_command.main(args=[input_json], prog_name="dagster api execute_run")


def newest_change(directories: Iterable[Path]) -> float:
    """The latest modification time of any source or configuration file under `directories` (0
    when none exist). Bytecode caches do not count: Python writes them whenever a process first
    imports a module (a sync step's lazy import), which changes no code."""
    newest = 0.0
    for directory in directories:
        for root, dirs, files in os.walk(directory):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if name.endswith((".pyc", ".pyo")):
                    continue
                try:
                    newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
                except OSError:
                    continue  # removed while we walked: the walk's next file says enough
    return newest


def package_directories(modules: Sequence[str]) -> list[Path]:
    """The top-level package directory of each module (without importing it)."""
    found: list[Path] = []
    for module in modules:
        spec = importlib.util.find_spec(module.split(".")[0])
        if spec is not None and spec.submodule_search_locations:
            found.extend(Path(p) for p in spec.submodule_search_locations)
    return found


class WarmRunLauncher(dg.DefaultRunLauncher):
    """`run_launcher: {module: revops_pipelines.infra.warm_run_launcher, class: WarmRunLauncher,
    config: {jobs: [...], preload_modules: [...]}}`."""

    def __init__(
        self,
        jobs: Sequence[str],
        preload_modules: Sequence[str],
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        super().__init__(inst_data=inst_data)
        self._warm_jobs = frozenset(jobs)
        self._preload = list(preload_modules)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(self._preload)
        self._warmed_at: float | None = None
        self._watched: list[Path] = []
        self._stale_logged = False
        self._workers: dict[str, multiprocessing.process.BaseProcess] = {}
        self._workers_lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._disposed = threading.Event()

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            "jobs": dg.Field([str], description="Jobs forked from the warm process."),
            "preload_modules": dg.Field(
                [dg.StringSource], description="Modules the warm process imports once."
            ),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> WarmRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def holds_current_code(self) -> bool:
        """Whether the warm process still holds the code on disk (starting it the first time)."""
        if self._warmed_at is None:
            config_dir = os.environ.get(CONFIG_DIR_ENV)
            self._watched = package_directories(self._preload) + (
                [Path(config_dir)] if config_dir else []
            )
            # The forkserver starts (and imports) with the first run: that run waits as long as
            # a cold one; the ones after it do not.
            self._warmed_at = time.time()
            return True
        if newest_change(self._watched) <= self._warmed_at:
            return True
        if not self._stale_logged:
            self._stale_logged = True
            log.warning(
                "The code or configuration changed after the warm run process started: runs "
                "go through the code server (a cold start each) until the daemon restarts."
            )
        return False

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        warm = run.job_name in self._warm_jobs and run.job_code_origin is not None
        if not (warm and self.holds_current_code()):
            super().launch_run(context)
            return
        args = ExecuteRunArgs(
            job_origin=run.job_code_origin,
            run_id=run.run_id,
            instance_ref=self._instance.get_ref(),
            set_exit_code_on_failure=True,
        )
        worker = self._context.Process(
            target=run_in_warm_worker, args=(dg.serialize_value(args),), name=f"run {run.run_id}"
        )
        worker.start()
        with self._workers_lock:
            self._workers[run.run_id] = worker
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch, name="warm run workers", daemon=True
                )
                self._watcher.start()
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(worker.pid)})
        self._instance.report_engine_event(
            f"Started a run worker forked from the warm process (pid {worker.pid}).",
            run,
            cls=self.__class__,
        )

    def _watch(self) -> None:
        while not self._disposed.wait(WATCH_SECONDS):
            with self._workers_lock:
                ended = {k: w for k, w in self._workers.items() if not w.is_alive()}
                for run_id in ended:
                    del self._workers[run_id]
            for run_id, worker in ended.items():
                try:
                    self._settle_ended(run_id, worker)
                except Exception:  # the next look must still happen; the daemon logs it
                    log.exception("Could not settle the run of ended worker %s", worker.pid)

    def _settle_ended(self, run_id: str, worker: multiprocessing.process.BaseProcess) -> None:
        """A worker that ended before its run did died: the run is failed, with why."""
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return
        message = get_run_crash_explanation(
            prefix=f"Run worker {worker.pid} of run {run_id}", exit_code=worker.exitcode or 0
        )
        self._instance.report_engine_event(message, run, cls=self.__class__)
        self._instance.report_run_failed(run)

    def dispose(self) -> None:
        # The watcher reads the instance's storage, which closes with it.
        self._disposed.set()
        if self._watcher is not None:
            self._watcher.join(timeout=WATCH_SECONDS * 4)
        super().dispose()

    def terminate(self, run_id: str) -> bool:
        with self._workers_lock:
            worker = self._workers.get(run_id)
        if worker is None:
            return super().terminate(run_id)
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished or not worker.is_alive() or worker.pid is None:
            return False
        self._instance.report_run_canceling(run)
        # `api execute_run` turns SIGTERM into an interrupt: the run ends as canceled.
        os.kill(worker.pid, signal.SIGTERM)
        return True
