"""Speed to lead in the production shape: webhook answer -> the rep's Slack message and Attio task.

Starts what production runs, on this machine: `dagster-daemon run` with the repo's
`deploy/dagster.yaml` (queued runs, pools set by `deploy/set_pools.sh`) on a fresh PostgreSQL
instance database, the project's store on PostgreSQL, the webhook receiver (`revops webhooks
serve`, its own process), and every sandbox stand-in at its real budget (Attio 25 writes/s and
100 reads/s, Slack ~1 message/s per channel). With `--webserver` (or `--fast-path`) a
`dagster-webserver` serves the instance's GraphQL API too, and with `--fast-path` the receiver
asks it to launch each lead's run at once (`REVOPS_DAGSTER_GRAPHQL_URL`).

It posts single signed Typeform leads `--spacing` seconds apart and reads, from the sandboxes'
state, when each lead's Slack message was posted and its Attio follow-up task created:
- scenario 1: nothing else running;
- scenario 2: while `salesforce_full_sync_job` (launched through the queue with `dagster job
  launch`, run by the daemon) writes `--accounts` Salesforce accounts to Attio; it also prints
  the sync's achieved company write rate and the total Attio write rate over the window, against
  the 25 writes/s budget, and the share of Attio requests answered 429.

A warm-up lead (not counted) goes first, as a deployment that has been up a while.

By default it measures the same scenarios once per run launcher, one after the other in this run
(`--launchers warm` for one): `warm` is deploy/dagster.yaml's (inbox runs forked from the daemon's warm
process), `code-server` Dagster's DefaultRunLauncher (a process spawned per run).

    .venv/bin/python benchmarks/bench_speed_to_lead.py [--leads 10] [--accounts 10000]
    .venv/bin/python benchmarks/bench_speed_to_lead.py --leads 5 --accounts 2000   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from revops_pipelines.cli.pools import deployment_pool_limits, set_pool_limits  # noqa: E402
from revops_sandbox.form_traffic import typeform_delivery  # noqa: E402
from revops_sandbox.signatures import typeform_signature  # noqa: E402
from revops_sandbox.stack import serve_sandboxes  # noqa: E402
from tests.deploy import harness  # noqa: E402  (the production-shaped deployment of the tests)

SECRET = "bench-typeform-secret"
ATTIO_BUDGET = 25.0
SYNC_JOB = "salesforce_full_sync_job"
GRAPHQL_ENV = "REVOPS_DAGSTER_GRAPHQL_URL"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _attio_time(ts: str) -> float:
    head, _, tail = ts.partition(".")
    return datetime.fromisoformat(f"{head}.{tail.rstrip('Z')[:6]}+00:00").timestamp()


@dataclass
class Lead:
    token: str  # unique in the lead's name and message: finds its Slack post and its task
    answered_at: float  # wall clock when the receiver's 202 arrived
    status: int
    slack_at: float | None = None
    task_at: float | None = None

    @property
    def done(self) -> bool:
        return self.slack_at is not None and self.task_at is not None


@dataclass
class Deployment:
    stack: Any
    receiver_url: str
    env: dict[str, str]
    home: Path
    workspace: Path
    instance: dg.DagsterInstance
    daemon: harness.Daemon
    rng: random.Random = field(default_factory=lambda: random.Random(7))


def _wait_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited ({process.returncode})")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not up within {timeout:.0f} s")


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        harness._stop_group(process)


def use_launcher(home: Path, launcher: str) -> None:
    """Keep deploy/dagster.yaml's warm launcher, or put Dagster's default one in its place."""
    if launcher == "warm":
        return
    path = home / "dagster.yaml"
    config = yaml.safe_load(path.read_text())
    config["run_launcher"] = {"module": "dagster", "class": "DefaultRunLauncher"}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@contextmanager
def deployment(args: argparse.Namespace, home: Path, launcher: str) -> Iterator[Deployment]:
    with ExitStack() as stack:
        dagster_db = stack.enter_context(harness.fresh_database("bench_s2l_dagster"))
        store_db = stack.enter_context(harness.fresh_database("bench_s2l_store"))
        sandboxes = stack.enter_context(
            serve_sandboxes(
                ports=dict.fromkeys(("attio", "salesforce", "slack", "enrichment", "outreach"), 0),
                state_dir=home / "sandbox",
                salesforce_accounts=args.accounts,
            )
        )
        # The stand-ins' documented defaults are the real budgets; set them explicitly anyway.
        sandboxes.apps["attio"].configure(write_rate=ATTIO_BUDGET, read_rate=100.0)
        sandboxes.apps["slack"].configure(channel_rate=1.0)
        from revops_pipelines.cli.sandbox import project_environment

        store_url = store_db.render_as_string(hide_password=False)
        workspace = harness.write_home(home)
        use_launcher(home, launcher)
        webserver_port = _free_port()
        settings = {
            **project_environment(sandboxes),
            "DAGSTER_POSTGRES_URL": harness.dagster_postgres_url(dagster_db),
            "REVOPS_DATABASE_URL": store_url,
            "TYPEFORM_WEBHOOK_SECRET": SECRET,
        }
        env = harness.deployment_env(home, settings)
        os.environ["DAGSTER_POSTGRES_URL"] = env["DAGSTER_POSTGRES_URL"]
        instance = dg.DagsterInstance.from_config(str(home))  # creates Dagster's tables first
        stack.callback(instance.dispose)
        # deploy/set_pools.sh's limits, set in this process (tests/deploy runs the script itself).
        set_pool_limits(instance, deployment_pool_limits())
        bin_dir = harness.BIN
        if args.webserver or args.fast_path:
            stack.enter_context(harness.running_webserver(home, workspace, env, webserver_port))
        receiver_env = dict(env)
        if args.fast_path:
            receiver_env[GRAPHQL_ENV] = f"http://127.0.0.1:{webserver_port}/graphql"
        receiver_port = _free_port()
        receiver = stack.enter_context(
            _process(
                [
                    str(bin_dir / "revops"),
                    *("webhooks", "serve", "--port", str(receiver_port), "--log-level", "warning"),
                ],
                receiver_env,
                home / "receiver.log",
            )
        )
        receiver_url = f"http://127.0.0.1:{receiver_port}"
        _wait_http(f"{receiver_url}/healthz", 120, receiver)
        daemon = stack.enter_context(harness.running_daemon(home, workspace, env))
        yield Deployment(sandboxes, receiver_url, env, home, workspace, instance, daemon)


def post_lead(d: Deployment, client: httpx.Client) -> Lead:
    """One signed Typeform submission with a unique name and message."""
    token = f"bench{uuid.uuid4().hex[:8]}"
    body = json.loads(typeform_delivery(SECRET, d.rng).body)
    response = body["form_response"]
    response["token"] = uuid.uuid4().hex
    body["event_id"] = uuid.uuid4().hex[:16]
    for answer in response["answers"]:
        ref = answer["field"]["ref"]
        if ref == "name":
            answer["text"] = f"Lead {token.capitalize()}"
        elif ref == "email":
            answer["email"] = f"lead.{token}@{answer['email'].split('@')[1]}"
        elif ref == "message":
            answer["text"] = f"Demo please ({token})."
    raw = json.dumps(body).encode()
    headers = {"Typeform-Signature": typeform_signature(SECRET, raw)}
    headers["Content-Type"] = "application/json"
    answer = client.post("/webhooks/typeform", content=raw, headers=headers)
    return Lead(token, time.time(), answer.status_code)


def observe(d: Deployment, leads: list[Lead]) -> None:
    """Fill each lead's Slack and task times from the sandboxes' state."""
    waiting = [lead for lead in leads if not lead.done]
    if not waiting:
        return
    slack = d.stack.apps["slack"]
    with slack.lock:
        posts = [
            (m["text"], float(m["ts"])) for c in slack.channels.values() for m in c["messages"]
        ]
    tasks = [
        (t.get("content_plaintext") or "", t["created_at"]) for t in d.stack.apps["attio"].tasks()
    ]
    for lead in waiting:
        if lead.slack_at is None:
            lead.slack_at = min(
                (ts for text, ts in posts if lead.token.capitalize() in text), default=None
            )
        if lead.task_at is None:
            found = [_attio_time(at) for text, at in tasks if lead.token in text]
            lead.task_at = min(found, default=None)


def _report_done(leads: list[Lead], reported: set[str]) -> None:
    """One line per lead as it lands, so an interrupted run still shows what it measured."""
    for lead in leads:
        if lead.done and lead.token not in reported:
            reported.add(lead.token)
            assert lead.slack_at is not None and lead.task_at is not None
            print(
                f"  lead {lead.token}: Slack {lead.slack_at - lead.answered_at:.1f} s, "
                f"task {lead.task_at - lead.answered_at:.1f} s",
                flush=True,
            )


def wait_for(d: Deployment, leads: list[Lead], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    reported: set[str] = set()
    while time.monotonic() < deadline:
        observe(d, leads)
        _report_done(leads, reported)
        if all(lead.done for lead in leads):
            return
        if not d.daemon.alive():
            raise RuntimeError(f"dagster-daemon exited:\n{d.daemon.tail()}")
        time.sleep(0.25)


def run_leads(d: Deployment, count: int, spacing: float, timeout: float) -> list[Lead]:
    leads: list[Lead] = []
    with httpx.Client(base_url=d.receiver_url, timeout=10) as client:
        for i in range(count):
            if i:
                end = time.monotonic() + spacing
                while time.monotonic() < end:
                    observe(d, leads)
                    time.sleep(0.25)
            lead = post_lead(d, client)
            if lead.status != 202:
                raise RuntimeError(f"the receiver answered {lead.status}")
            leads.append(lead)
    wait_for(d, leads, timeout)
    return leads


def summary(leads: list[Lead], attr: str) -> tuple[str, str, str, int]:
    values = sorted(getattr(x, attr) - x.answered_at for x in leads if getattr(x, attr) is not None)
    missing = len(leads) - len(values)
    if not values:
        return "-", "-", "-", missing
    p95 = values[min(len(values) - 1, max(0, round(0.95 * len(values) + 0.5) - 1))]
    return f"{statistics.median(values):.1f}", f"{p95:.1f}", f"{values[-1]:.1f}", missing


def row(label: str, leads: list[Lead]) -> str:
    cells = []
    missing = 0
    for attr in ("slack_at", "task_at"):
        p50, p95, top, lost = summary(leads, attr)
        cells += [p50, p95, top]
        missing = max(missing, lost)
    note = f" ({missing} not done in time)" if missing else ""
    return f"| {label}{note} | {len(leads)} | " + " | ".join(cells) + " |"


def launch_sync(d: Deployment) -> None:
    """Submit the full sync over every day up to yesterday to the instance's queue (the range
    tags the weekly schedule sets; the job is partitioned by day); the daemon launches it."""
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    first = os.environ.get("REVOPS_SYNC_START_DATE", "2026-01-01")
    tags = {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": yesterday,
    }
    done = subprocess.run(
        [
            str(harness.BIN / "dagster"),
            *("job", "launch", "-w", str(d.workspace), "-j", SYNC_JOB),
            *("--tags", json.dumps(tags)),
        ],
        env=d.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dagster job launch failed:\n{done.stdout}\n{done.stderr}")


def sync_run(d: Deployment) -> dg.DagsterRun | None:
    runs = d.instance.get_runs(dg.RunsFilter(job_name=SYNC_JOB), limit=1)
    return runs[0] if runs else None


def scenario_2(d: Deployment, args: argparse.Namespace) -> tuple[list[Lead], str]:
    attio = d.stack.apps["attio"]
    launch_sync(d)
    # Wait until the sync writes companies, so every lead arrives during the backfill.
    deadline = time.monotonic() + 900
    while attio.stats()["records"].get("companies", 0) < 50:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sync never wrote to Attio; run: {sync_run(d)}")
        time.sleep(0.5)
    before = attio.stats()
    started = time.monotonic()
    leads = run_leads(d, args.leads, args.spacing, timeout=0)
    # The window the rates are measured over: from the first lead to the last one's post.
    posted_window = time.monotonic() - started
    after = attio.stats()
    wait_for(d, leads, args.timeout)
    companies = after["records"].get("companies", 0) - before["records"].get("companies", 0)
    writes = after["writes_applied"] - before["writes_applied"]
    requests = sum(after["requests"].values()) - sum(before["requests"].values())
    limited = after["rate_limited"] - before["rate_limited"]
    run = sync_run(d)
    rates = (
        f"During scenario 2 ({posted_window:.0f} s window): the sync created "
        f"{companies / posted_window:.1f} companies/s; Attio applied "
        f"{writes / posted_window:.1f} writes/s in total = "
        f"{writes / posted_window / ATTIO_BUDGET:.2f} of the {ATTIO_BUDGET:g}/s budget; "
        f"429s: {limited} of {requests} requests ({100 * limited / max(requests, 1):.1f}%). "
        f"Sync run: {run.status.value if run else '?'}."
    )
    return leads, rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10, help="leads per scenario")
    parser.add_argument("--accounts", type=int, default=10_000, help="Salesforce accounts")
    parser.add_argument("--spacing", type=float, default=5.0, help="seconds between leads")
    parser.add_argument("--timeout", type=float, default=1200.0, help="per scenario, s")
    parser.add_argument("--scenarios", default="1,2", help="which scenarios: 1, 2 or 1,2")
    parser.add_argument("--webserver", action="store_true", help="also run dagster-webserver")
    parser.add_argument("--fast-path", action="store_true", help="receiver launches via GraphQL")
    parser.add_argument("--label", default="", help="a name for this build in the table")
    parser.add_argument(
        "--launchers",
        default="warm,code-server",
        help="run launchers to compare, one after the other: warm, code-server or both",
    )
    parser.add_argument("--home", type=Path, default=None, help="keep DAGSTER_HOME and logs here")
    args = parser.parse_args()
    home = args.home or Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_s2l_{uuid.uuid4().hex[:6]}"
    home.mkdir(parents=True, exist_ok=True)
    scenarios = {s.strip() for s in args.scenarios.split(",")}
    print(
        f"{args.leads} leads per scenario, {args.spacing:g} s apart; {args.accounts} Salesforce "
        f"accounts; fast path {'on' if args.fast_path else 'off'}; logs in {home}",
        flush=True,
    )
    lines = [
        "| scenario | leads | → Slack p50 s | p95 s | max s | → Attio task p50 s | p95 s | max s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes: list[str] = []
    launchers = [name.strip() for name in args.launchers.split(",")]
    unknown = set(launchers) - {"warm", "code-server"}
    if unknown:
        parser.error(f"unknown launcher(s) {sorted(unknown)}: use warm, code-server or both")
    for launcher in launchers:
        with deployment(args, home / launcher, launcher) as d:
            t0 = time.monotonic()
            warm = run_leads(d, 1, 0, timeout=args.timeout)
            print(
                f"{launcher}: warm-up lead done in {time.monotonic() - t0:.0f} s after daemon "
                f"start: {row('warm-up', warm)}",
                flush=True,
            )
            prefix = f"{args.label + ' ' if args.label else ''}{launcher} launcher, "
            if "1" in scenarios:
                leads = run_leads(d, args.leads, args.spacing, args.timeout)
                lines.append(row(f"{prefix}1: nothing else running", leads))
                print(lines[-1], flush=True)
            if "2" in scenarios:
                leads, rates = scenario_2(d, args)
                lines.append(row(f"{prefix}2: during a {args.accounts}-account backfill", leads))
                notes.append(f"{prefix}{rates}")
                print(lines[-1], flush=True)
    print()
    print("\n".join(lines))
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()
