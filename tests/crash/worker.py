"""Run workers the crash tests can SIGKILL: each run executes in an OS process of its own.

A worker is forked from multiprocessing's fork server, which imported the code location once
(`revops_pipelines.definitions`: about 10 s of CPU on this machine), so neither the killed run
nor the run after it pays that import. The worker takes the environment a deployed run worker
would have (the store's URL, the APIs' URLs and credentials, DAGSTER_HOME), opens the test's
Dagster instance from DAGSTER_HOME, and executes the run in its own process with the resources
wired from that environment (`resource_defs()`), as the inbox jobs' `in_process_executor` does
in a run worker. Nothing of the product is replaced: the test only picks the moment to kill.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["revops_pipelines.definitions"])
T = TypeVar("T")


@dataclass(frozen=True)
class RunSpec:
    job_name: str
    run_id: str
    env: Mapping[str, str]  # the run worker's environment (DAGSTER_HOME included)
    run_config: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


def _execute(spec: RunSpec) -> None:
    """In the worker: the run, executed the way a run worker executes an inbox job."""
    os.environ.update(spec.env)
    import dagster as dg

    from revops_pipelines.definitions import defs, resource_defs

    with dg.DagsterInstance.from_config(spec.env["DAGSTER_HOME"]) as instance:
        defs.resolve_job_def(spec.job_name).execute_in_process(
            run_config=dict(spec.run_config),
            instance=instance,
            tags=dict(spec.tags),
            run_id=spec.run_id,
            resources=resource_defs(),  # read from this process's environment, as deployed
            raise_on_error=False,
        )


def _ready() -> None:
    """A worker that does nothing: forking it waits until the fork server has imported."""


def warm_up() -> None:
    """Start the fork server and wait for its import of the code location (once a session)."""
    process = CONTEXT.Process(target=_ready, name="fork server warm-up")
    process.start()
    process.join(timeout=300)
    assert process.exitcode == 0, f"the fork server could not start a worker ({process.exitcode})"


def start(spec: RunSpec) -> BaseProcess:
    """Start the run in a worker process of its own; the caller kills or joins it."""
    process = CONTEXT.Process(target=_execute, args=(spec,), name=f"run {spec.run_id}")
    process.start()
    return process


def kill(process: BaseProcess) -> None:
    """SIGKILL: no handler runs, nothing is flushed, no Dagster event says the run ended."""
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=30)
    assert process.exitcode == -signal.SIGKILL, process.exitcode


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    *,
    timeout: float,
    worker: BaseProcess | None = None,
    every: float = 0.1,
) -> T:
    """Poll `probe` until it gives a value; fail naming `what` (and a worker that ended early)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value is not None and value is not False:
            return value
        if worker is not None and not worker.is_alive():
            raise AssertionError(f"the run worker ended ({worker.exitcode}) before {what}")
        time.sleep(every)
    raise AssertionError(f"no {what} within {timeout:.0f} s")
