"""Real Celery workers for tests: a RabbitMQ virtual host of the test's own, `dagster-celery worker
start` processes on it, and `dagster job execute` runs that hand their steps to them.

The machine's RabbitMQ (127.0.0.1:5672, guest/guest over loopback) is shared by everyone on it,
and dagster-celery routes every step to one queue named `dagster`: a fresh vhost keeps this
test's tasks away from any other worker, and is deleted afterwards with everything in it.
Each worker runs in the foreground in a process group of its own, so stopping it (SIGTERM, a
grace period for the warm shutdown, then SIGKILL to the group) also reaches its pool children.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.harness import ANSI, BIN, DEPLOY, REPO

RABBITMQ = ("127.0.0.1", 5672)
CODE_LOCATION = "revops_pipelines.definitions_celery"  # the celery-executor code location
# The workers' `-y` file: the executor's config block, the broker from the environment.
WORKER_CONFIG = DEPLOY / "celery.yaml"
READY_TIMEOUT = 180.0  # a loaded 2-core machine: the worker imports celery, dagster and kombu


def _rabbitmqctl(*args: str) -> None:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)} failed:\n{done.stderr}"


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A new vhost on the machine's RabbitMQ, guest allowed on it; yields its broker URL."""
    try:
        socket.create_connection(RABBITMQ, timeout=5).close()
    except OSError as exc:
        pytest.fail(
            f"RabbitMQ is not reachable at {RABBITMQ[0]}:{RABBITMQ[1]} ({exc}); the Celery test "
            "needs it (start it as `.ci/run` does: rabbitmq-server -detached)"
        )
    vhost = f"revops_test_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"pyamqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        text = ANSI.sub("", self.log.read_text(errors="replace")) if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or "(empty)"

    def ready(self) -> bool:
        return self.log.exists() and " ready." in self.log.read_text(errors="replace")


def stop_group(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM to the process group (Celery's warm shutdown), SIGKILL after `grace`, and a
    last SIGKILL to the group for any child still dying; never raises."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def celery_workers(
    names: Sequence[str], config: Path, env: Mapping[str, str], logs: Path
) -> Iterator[list[Worker]]:
    """Started `dagster-celery` workers (one pool process each), once all are ready; always
    stopped, whatever happens inside."""
    with ExitStack() as stack:
        workers: list[Worker] = []
        for name in names:
            log = logs / f"celery-{name}.log"
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [
                        str(BIN / "dagster-celery"),
                        *("worker", "start", "-A", "dagster_celery.app", "-y", str(config)),
                        *("-n", name, "-l", "INFO", "--"),
                        # One step at a time per worker; no chatter between them at start-up.
                        *("--concurrency=1", "--without-mingle", "--without-gossip"),
                    ],
                    cwd=REPO,
                    env=dict(env),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            stack.callback(stop_group, process)
            workers.append(Worker(name, process, log))
        deadline = time.monotonic() + READY_TIMEOUT
        while not all(w.ready() for w in workers):
            for w in workers:
                if not w.alive():
                    pytest.fail(f"Celery worker {w.name} exited at start:\n{w.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    "Celery workers not ready within "
                    f"{READY_TIMEOUT:.0f} s:\n"
                    + "\n".join(f"--- {w.name}\n{w.tail()}" for w in workers)
                )
            time.sleep(0.5)
        yield workers


@dataclass
class Launch:
    """A `dagster job execute` process: the run worker that hands its steps to Celery."""

    job: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        text = ANSI.sub("", self.log.read_text(errors="replace")) if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def execute_job(
    job: str,
    run_config: Mapping[str, Any],
    tags: Mapping[str, str],
    env: Mapping[str, str],
    workdir: Path,
) -> Launch:
    """Start one run of `job` of the Celery code location, in the background."""
    key = uuid.uuid4().hex[:8]
    config = workdir / f"run-{job}-{key}.yaml"
    config.write_text(json.dumps(dict(run_config)))  # JSON is YAML
    log = workdir / f"run-{job}-{key}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(BIN / "dagster"),
                *("job", "execute", "-m", CODE_LOCATION, "-a", "defs", "-j", job),
                *("-c", str(config), "--tags", json.dumps(dict(tags))),
            ],
            cwd=REPO,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Launch(job, process, log)
