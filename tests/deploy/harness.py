"""A production-shaped Dagster deployment for tests: the repo's `deploy/dagster.yaml` in a fresh
DAGSTER_HOME on a fresh PostgreSQL database, and `dagster-daemon run` as a real subprocess.

Nothing here is a stand-in for Dagster: the daemon ticks the project's sensors, the queued run
coordinator dequeues, and the default run launcher starts real run workers.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import sqlalchemy as sa

from tests import postgres

ANSI = re.compile(r"\x1b\[[0-9;]*m")
REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
# Variables that would point the daemon, its code server or its runs anywhere but this test's
# databases and sandboxes (a developer's shell, or CI's DAGSTER_HOME).
PROJECT_ENV_PREFIXES = (
    "DAGSTER_",
    "REVOPS_",
    "ATTIO_",
    "SALESFORCE_",
    "SLACK_",
    "OUTREACH_",
    "ENRICHMENT_",
    "TYPEFORM_",
    "TALLY_",
    "SEGMENT_",
)


@contextmanager
def fresh_database(prefix: str) -> Iterator[sa.URL]:
    """A new PostgreSQL database on the test server, dropped (with its connections) afterwards."""
    hint = "the deployment test needs it (start it, as `.ci/run` does)"
    with postgres.fresh_database(prefix, hint) as url:
        yield url


def dagster_postgres_url(url: sa.URL) -> str:
    """The URL dagster-postgres takes: it speaks psycopg2, and SQLAlchemy 2.1 maps a bare
    `postgresql://` to psycopg 3, on which its NOTIFY statements fail."""
    return url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


def write_home(home: Path) -> Path:
    """DAGSTER_HOME holding the real deploy/dagster.yaml, and a workspace on the project's
    definitions (the daemon starts its own code server from it)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    workspace = home / "workspace.yaml"
    workspace.write_text(
        textwrap.dedent(
            f"""\
            load_from:
              - python_module:
                  module_name: revops_pipelines.definitions
                  attribute: defs
                  working_directory: {REPO}
                  location_name: revops_pipelines
            """
        )
    )
    return workspace


def deployment_env(home: Path, settings: Mapping[str, str]) -> dict[str, str]:
    """The environment of the deployment's processes: this machine's, minus any project or
    Dagster settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROJECT_ENV_PREFIXES)}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DAGSTER_HOME"] = str(home)
    env["REVOPS_STATE_DIR"] = str(home / "revops_state")  # never the checkout's .revops/
    env.update(settings)
    return env


def set_pools(env: Mapping[str, str]) -> str:
    """Run deploy/set_pools.sh against the instance; its output, or a failure naming it."""
    done = subprocess.run(
        ["sh", str(DEPLOY / "set_pools.sh")],
        env={**env, "DAGSTER": str(BIN / "dagster")},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"deploy/set_pools.sh failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    log: Path  # stdout and stderr: the daemon logs to stdout, tracebacks go to stderr

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        text = ANSI.sub("", text)  # the daemon's log lines are coloured
        return "\n".join(text.splitlines()[-lines:]) or "(empty)"


@contextmanager
def running_daemon(home: Path, workspace: Path, env: Mapping[str, str]) -> Iterator[Daemon]:
    """`dagster-daemon run` in a process group of its own, so its code server and run workers
    are stopped with it; always stopped, SIGKILL after a 30 s grace."""
    log = home / "daemon.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
            cwd=home,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Daemon(process, log)
    finally:
        _stop_group(process)


@dataclass
class Webserver:
    process: subprocess.Popen[bytes]
    log: Path
    url: str  # http://127.0.0.1:<port>

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"


LOCATION_STATUS = (
    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
)


@contextmanager
def running_webserver(
    home: Path, workspace: Path, env: Mapping[str, str], port: int, timeout: float = 300.0
) -> Iterator[Webserver]:
    """`dagster-webserver` on the instance (its GraphQL API launches runs into the queue),
    returned once the code location is loaded; stopped like the daemon."""
    log = home / "webserver.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(BIN / "dagster-webserver"),
                *("-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)),
            ],
            cwd=home,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Webserver(process, log, f"http://127.0.0.1:{port}")
    try:
        _wait_for_location(server, timeout)
        yield server
    finally:
        _stop_group(process)


def _wait_for_location(server: Webserver, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited: {server.log.read_text()[-3000:]}")
        try:
            answer = httpx.post(server.graphql_url, json={"query": LOCATION_STATUS}, timeout=10)
            entries = answer.json()["data"]["workspaceOrError"].get("locationEntries") or []
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass
        time.sleep(1.0)
    raise RuntimeError(f"the webserver did not load the code location within {timeout:.0f} s")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    # The group is the one created for this daemon (start_new_session): its id is the daemon's.
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    # Reap any member still dying (a run worker between steps) before its database is dropped.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


# Dagster still names the run-level ones PIPELINE_* in `event_type_value`.
FAILURE_KINDS = frozenset(
    {
        "STEP_FAILURE",
        "STEP_UP_FOR_RETRY",
        "RUN_FAILURE",
        "RUN_CANCELED",
        "PIPELINE_FAILURE",
        "PIPELINE_CANCELED",
    }
)


def run_report(instance: dg.DagsterInstance, run_id: str, home: Path) -> str:
    """What went wrong in a run, readable: its failure events (with their errors) and the tail of
    its steps' stderr."""
    parts: list[str] = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        kind = event.event_type_value if event else "LOG"
        error = record.error_info
        if event is not None and event.is_step_failure:
            error = error or event.step_failure_data.error
        if kind in FAILURE_KINDS or error is not None:
            parts.append(f"[{kind}] {record.message}")
            if error is not None:
                parts.append(error.to_string())
    logs = home / "storage" / run_id / "compute_logs"
    for path in sorted(logs.glob("*.err")) if logs.exists() else []:
        tail = "\n".join(path.read_text(errors="replace").splitlines()[-25:])
        parts.append(f"--- {path.name} (tail) ---\n{tail}")
    return "\n".join(parts) or "(no failure events)"
