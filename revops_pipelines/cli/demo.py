"""`revops demo`: the whole system on this machine, with the sandbox stand-ins and no accounts."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import httpx

from revops_pipelines.cli.demo_events import (
    demo_config_dir,
    escalate_past_sla,
    forward_attio_events,
    show_flow_c,
    wait_for_inbox,
)
from revops_pipelines.cli.demo_state import demo_lock, demo_root, fresh_demo_state
from revops_pipelines.cli.pools import deployment_pool_limits
from revops_pipelines.cli.processes import interrupt_on_signals, run_in_group, stop_process_group
from revops_pipelines.cli.sandbox import import_sandbox, project_environment, sandbox_state_dir
from revops_pipelines.cli.webserver import WebserverNotReady, wait_for_asset_graph, workspace_file
from revops_pipelines.config import config_path, load_model
from revops_pipelines.config.loader import CONFIG_DIR_ENV
from revops_pipelines.domain.attio_values import first_value, select_title
from revops_pipelines.domain.custom_forms import FormsConfig
from revops_pipelines.domain.submissions import FORM_SOURCES
from revops_pipelines.store import engine as store_engine
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.fast_path import FastPathSettings
from revops_pipelines.webhooks.settings import HUBSPOT_SECRET_ENV, ReceiverSettings
from revops_pipelines.webhooks.sources import SOURCES

# Local-only signing secrets: the demo signs its own sample traffic with them.
DEMO_SECRETS = {name: f"demo-{name}-secret" for name in SOURCES}
DEMO_HUBSPOT_SECRET = "demo-hubspot-client-secret"
# A custom form's Standard Webhooks secret: `whsec_` + base64 of 32 bytes.
DEMO_FORM_SECRET = "whsec_" + base64.b64encode(b"revops-demo-custom-form-secret!!").decode()
# Every demo starts from an empty state (cli/demo_state.py), so the same sample leads each time
# show the same people, routes and posts. (The one-lead-per-source traffic takes the next seed:
# the same seed would repeat the sample forms' first leads, which the inbox drops as duplicates.)
DEMO_SEED = 2026
# Seconds to let dg dev stop its webserver, daemon, code servers and runs before SIGKILL.
STOP_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _send_sample_forms(receiver_url: str, count: int) -> list[int]:
    form_traffic = import_sandbox("revops_sandbox.form_traffic")
    statuses = []
    with httpx.Client(base_url=receiver_url, timeout=10) as client:
        for delivery in form_traffic.sample_deliveries(DEMO_SECRETS, count, seed=DEMO_SEED):
            response = client.post(
                f"/webhooks/{delivery.source}", content=delivery.body, headers=delivery.headers
            )
            statuses.append(response.status_code)
    return statuses


def _send_one_lead_per_source(receiver_url: str, form: str) -> list[tuple[str, int]]:
    """One signed lead from Typeform, Tally, HubSpot and the custom form: (path, answer)."""
    form_traffic = import_sandbox("revops_sandbox.form_traffic")
    secrets = {**DEMO_SECRETS, "hubspot": DEMO_HUBSPOT_SECRET, form: DEMO_FORM_SECRET}
    sent = []
    with httpx.Client(base_url=receiver_url, timeout=10) as client:
        for path, delivery in form_traffic.one_lead_per_source(
            secrets, receiver_url, form, seed=DEMO_SEED + 1
        ):
            response = client.post(path, content=delivery.body, headers=delivery.headers)
            sent.append((path, response.status_code))
    return sent


def _lead_summary(stats: dict[str, Any], stack: Any) -> str:
    """People per lead_source, and each sequencer's enrollments and the Slack posts."""
    by_source: dict[str, int] = {}
    for person in stack.apps["attio"].records("people"):
        source = first_value(person, "lead_source")
        if source:
            by_source[source] = by_source.get(source, 0) + 1
    slack = stats["slack"]["messages"]
    return (
        f"people by lead_source {dict(sorted(by_source.items()))}; "
        f"Attio: {stats['attio']['tasks']} tasks, {stats['attio']['notes']} notes; "
        f"Outreach: {stats['outreach']['resources'].get('sequenceStates', 0)} enrollments; "
        f"Salesloft: {len(stack.apps['salesloft'].on_cadence())} on cadence; "
        f"Slack: {sum(slack.values())} messages ({slack.get('high-value-leads', 0)} high-value)"
    )


def _edit_a_company_in_attio(
    stack: Any, receiver_url: str
) -> tuple[dict[str, Any], str, str, str] | None:
    """A rep changes a synced company's industry in Attio; Attio's webhooks (one per changed
    attribute) go to the receiver. Returns (company, Salesforce Id, old and new industry)."""
    attio = stack.apps["attio"]
    company = next(
        (
            r
            for r in attio.records("companies")
            if first_value(r, "salesforce_id") and select_title(r, "industry")
        ),
        None,
    )
    if company is None:
        return None
    before = select_title(company, "industry")
    after = "Healthcare" if before != "Healthcare" else "Energy"
    since = len(attio.webhook_events())
    member = attio.members()[0]["id"]["workspace_member_id"]
    attio.edit_as_member("companies", company["id"]["record_id"], {"industry": after}, member)
    forward_attio_events(attio, receiver_url, DEMO_SECRETS["attio"], since)
    return company, first_value(company, "salesforce_id") or "", before or "", after


def _synced_companies(stack: Any) -> int:
    """Attio companies that carry a Salesforce Id: the sync's, whatever the leads created."""
    return sum(
        1 for r in stack.apps["attio"].records("companies") if first_value(r, "salesforce_id")
    )


def _start_dagster(workspace: Path, ui_port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`dg dev` in a process group of its own: the webserver, the daemon, the code servers and
    the runs they start all join it, so stopping the group stops every one of them."""
    return subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "dg"), "dev", "-w", str(workspace)),
            *("--host", "127.0.0.1", "--port", str(ui_port)),
        ],
        cwd=workspace.parent,
        env=env,
        start_new_session=True,
    )


def _sample_traffic(
    stack: Any, receiver_url: str, form: str, forms: int, env: dict[str, str], workspace: Path
) -> bool:
    """The demo's story: leads through the receiver, yesterday's sync, a rep's edit in Attio
    flowing back to Salesforce. Returns whether the sync run succeeded."""
    statuses = _send_sample_forms(receiver_url, forms)
    click.echo(f"sent {len(statuses)} signed form deliveries: answers {sorted(set(statuses))}")
    if form:
        for path, status in _send_one_lead_per_source(receiver_url, form):
            click.echo(f"one lead via {path}: {status}")
    # The sandbox org's history ends at midnight, so yesterday is the first full day.
    day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    click.echo(f"syncing the Salesforce accounts of {day} into the Attio sandbox ...")
    dg_bin = str(Path(sys.executable).parent / "dg")
    # A group of its own: `dg launch` runs the steps in processes of their own. From the
    # checkout: dg finds the project by its working directory, wherever the demo was started.
    launch = run_in_group(
        [dg_bin, "launch", "--job", "salesforce_incremental_sync_job", "--partition", day],
        cwd=workspace.parent,
        env=env,
        stop_timeout=STOP_TIMEOUT,
        on_stopped=lambda how: click.echo(f"the sync's dg launch stopped: {how.describe()}"),
    )
    failure = (launch.stderr or launch.stdout)[-2000:]
    outcome = "succeeded" if launch.returncode == 0 else f"failed:\n{failure}"
    click.echo(
        f"sync run {outcome}; the Attio sandbox holds {_synced_companies(stack)} companies "
        "from Salesforce"
    )
    engine = store_engine.get_engine(env["REVOPS_DATABASE_URL"])
    counts = wait_for_inbox(engine, list(FORM_SOURCES), timeout=180)
    click.echo(f"webhook inbox: {counts}")
    leads_routed = time.monotonic()
    edited = _edit_a_company_in_attio(stack, receiver_url)
    if edited is not None:
        company, account_id, old, new = edited
        click.echo(f"a rep set account {account_id}'s industry {old} -> {new} in Attio")
        attio_rows = wait_for_inbox(engine, ["attio"], timeout=180)
        account = stack.apps["salesforce"].account(account_id)
        click.echo(
            f"Attio events: {attio_rows}; Salesforce account {account_id} Industry is "
            f"now {account['Industry'] if account else '?'}"
        )
        click.echo(show_flow_c(stack, company, receiver_url, DEMO_SECRETS["attio"], engine))
    # The demo's SLAs are a minute of working time: wait for it, then run the SLA job.
    time.sleep(max(0.0, leads_routed + 70 - time.monotonic()))
    click.echo(
        escalate_past_sla(stack, [dg_bin, "launch", "--job", "lead_sla_job"], workspace, env)
    )
    stats = {name: app.stats() for name, app in stack.apps.items()}
    people = stats["attio"]["records"].get("people", 0)
    click.echo(f"Attio sandbox: {people} people; {_lead_summary(stats, stack)}")
    return launch.returncode == 0


@click.command()
@click.option("--ui-port", type=int, default=3000, show_default=True)
@click.option("--receiver-port", type=int, default=8720, show_default=True)
@click.option(
    "--free-ports",
    is_flag=True,
    help="Serve the sandboxes, the receiver and the UI on free ports instead of the fixed ones.",
)
@click.option("--forms", type=int, default=6, show_default=True, help="Sample form deliveries.")
@click.option("--exit-when-ready", is_flag=True, help="Stop once the first sync has run.")
@click.option("--ready-timeout", type=float, default=240.0, show_default=True)
def demo(
    ui_port: int,
    receiver_port: int,
    free_ports: bool,
    forms: int,
    exit_when_ready: bool,
    ready_timeout: float,
) -> None:
    """Sandboxes, store, webhook receiver and the Dagster UI, with sample traffic.

    Every demo starts afresh: its store and Dagster instance live in `.revops/demo/`, emptied at
    start, like the sandboxes, which live in memory. Ctrl-C or SIGTERM stops every process.

    Needs the optional `revops-sandbox` distribution (`pip install ./revops_sandbox`)."""
    # Before anything is written: without the stand-ins there is no demo to run.
    import_sandbox("revops_sandbox.stack")
    import_sandbox("revops_sandbox.server")
    if free_ports:
        ui_port, receiver_port = _free_port(), 0
    with interrupt_on_signals():
        try:
            with demo_lock(demo_root()):
                _run_demo(ui_port, receiver_port, free_ports, forms, exit_when_ready, ready_timeout)
        except KeyboardInterrupt:
            click.echo("demo stopped: every process it started has exited")


def _run_demo(
    ui_port: int,
    receiver_port: int,
    free_ports: bool,
    forms: int,
    exit_when_ready: bool,
    ready_timeout: float,
) -> None:
    stack_module = import_sandbox("revops_sandbox.stack")
    server_module = import_sandbox("revops_sandbox.server")
    try:
        pool_limits = deployment_pool_limits()
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(f"the deployment's pool limits: {exc}") from None
    state = fresh_demo_state(demo_root(), pool_limits)
    url = state.database_url
    click.echo(f"demo state: {state.root} (emptied: every demo starts afresh)")
    click.echo(f"store: revision {store_engine.current_revision(url)} at {url}")
    # The project's configuration with SLAs of a minute, so an escalation happens while you watch.
    config_dir = demo_config_dir(state.root)
    click.echo(f"configuration: {config_dir} (routing.yaml with one-minute SLAs)")
    custom_forms = load_model(config_path("forms.yaml"), FormsConfig)
    form = next(iter(custom_forms.forms), "")  # one lead goes through the first custom form
    settings = ReceiverSettings(
        database_url=url,
        secrets=DEMO_SECRETS,
        hubspot_secret=DEMO_HUBSPOT_SECRET,
        forms={key: (env, DEMO_FORM_SECRET) for key, env in custom_forms.secret_envs().items()},
        # The fast path, as a deployment with a webserver would run it: a lead's run is launched
        # as soon as the receiver answers (the inbox sensor stays the safety net).
        fast_path=FastPathSettings(f"http://127.0.0.1:{ui_port}/graphql"),
    )
    sandbox_ports = dict.fromkeys(stack_module.DEFAULT_PORTS, 0) if free_ports else None
    try:
        workspace = workspace_file()
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    with (
        stack_module.serve_sandboxes(ports=sandbox_ports, state_dir=sandbox_state_dir()) as stack,
        server_module.serve_in_thread(create_app(settings), port=receiver_port) as receiver,
    ):
        env = {
            **os.environ,
            **project_environment(stack),
            **{SOURCES[n].secret_env: s for n, s in DEMO_SECRETS.items()},
            HUBSPOT_SECRET_ENV: DEMO_HUBSPOT_SECRET,
            **dict.fromkeys(custom_forms.secret_envs().values(), DEMO_FORM_SECRET),
            "REVOPS_DATABASE_URL": url,
            "DAGSTER_HOME": str(state.dagster_home),
            CONFIG_DIR_ENV: str(config_dir),
            "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
        }
        for name, server in stack.servers.items():
            click.echo(f"{name} sandbox: {server.url}")
        click.echo(
            f"webhook receiver: {receiver.url}/webhooks/{{typeform,tally,attio,segment,hubspot}}"
            f" and /webhooks/forms/{{{','.join(custom_forms.forms)}}}"
        )
        ui = f"http://127.0.0.1:{ui_port}"
        process = _start_dagster(workspace, ui_port, env)
        try:
            try:
                assets = wait_for_asset_graph(ui, process, ready_timeout)
            except WebserverNotReady as exc:
                raise click.ClickException(f"the Dagster UI at {ui}: {exc}") from None
            click.echo(
                f"Dagster UI: {ui} ({len(assets)} assets loaded)",
            )
            synced = _sample_traffic(stack, receiver.url, form, forms, env, workspace)
            if exit_when_ready:
                if not synced:
                    raise click.ClickException("the demo's first sync failed")
                return
            click.echo("Ctrl-C stops everything.")
            process.wait()
        finally:
            stopped = stop_process_group(process, signal.SIGINT, timeout=STOP_TIMEOUT)
            click.echo(f"Dagster (dg dev) stopped: {stopped.describe()}")
            click.echo("stopping the webhook receiver and the sandboxes ...")
