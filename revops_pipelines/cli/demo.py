"""`revops demo`: the whole system on this machine, with the sandbox stand-ins and no accounts."""

from __future__ import annotations

import base64
import os
import signal
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
    flow_c_summary,
    forward_attio_events,
    rep_edits_in_attio,
    sla_escalations,
    wait_for_inbox,
)
from revops_pipelines.cli.sandbox import import_sandbox, project_environment, sandbox_state_dir
from revops_pipelines.cli.webserver import (
    WebserverNotReady,
    stop_process_group,
    wait_for_asset_graph,
    workspace_file,
)
from revops_pipelines.config import config_path, load_model
from revops_pipelines.config.loader import CONFIG_DIR_ENV
from revops_pipelines.domain.attio_values import first_value, select_title
from revops_pipelines.domain.custom_forms import FormsConfig
from revops_pipelines.domain.deal_messages import DealNotificationConfig
from revops_pipelines.domain.pipeline_rules import PipelineRules
from revops_pipelines.domain.submissions import FORM_SOURCES
from revops_pipelines.store import engine as store_engine
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.settings import HUBSPOT_SECRET_ENV, ReceiverSettings
from revops_pipelines.webhooks.sources import SOURCES

# Local-only signing secrets: the demo signs its own sample traffic with them.
DEMO_SECRETS = {name: f"demo-{name}-secret" for name in SOURCES}
DEMO_HUBSPOT_SECRET = "demo-hubspot-client-secret"
# A custom form's Standard Webhooks secret: `whsec_` + base64 of 32 bytes.
DEMO_FORM_SECRET = "whsec_" + base64.b64encode(b"revops-demo-custom-form-secret!!").decode()
DAGSTER_YAML = """\
# Written by `revops demo`: a local instance (SQLite storage under this folder).
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


def _prepare_dagster_home() -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or store_engine.state_dir() / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home.resolve()


def _send_sample_forms(receiver_url: str, count: int) -> list[int]:
    form_traffic = import_sandbox("revops_sandbox.form_traffic")
    statuses = []
    with httpx.Client(base_url=receiver_url, timeout=10) as client:
        for delivery in form_traffic.sample_deliveries(DEMO_SECRETS, count, seed=int(time.time())):
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
            secrets, receiver_url, form, seed=time.time_ns()
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


def _win_and_move(stack: Any, company: dict[str, Any], receiver_url: str, engine: Any) -> None:
    """A deal won and a pipeline entry moved to Proposal in Attio, through flow C."""
    attio = stack.apps["attio"]
    since = len(attio.webhook_events())
    edits = rep_edits_in_attio(stack, company)
    forward_attio_events(attio, receiver_url, DEMO_SECRETS["attio"], since)
    click.echo(f"a rep won '{edits.deal}' and moved {edits.company} to Proposal in Attio")
    attio_rows = wait_for_inbox(engine, ["attio"], timeout=180)
    deals = load_model(config_path("deals.yaml"), DealNotificationConfig)
    rule = load_model(config_path("pipelines.yaml"), PipelineRules).rules[0]
    channel = rule.slack.channel if rule.slack else "#deals"
    summary = flow_c_summary(stack, edits, deals.wins_channel, channel)
    click.echo(f"Attio events: {attio_rows}; {summary}")


def _escalate_past_sla(stack: Any, bin_dir: Path, env: dict[str, str], routed: float) -> None:
    """The demo's SLAs are a minute of working time: wait for it, then run the SLA job."""
    time.sleep(max(0.0, routed + 70 - time.monotonic()))
    launch = subprocess.run(
        [str(bin_dir / "dg"), "launch", "--job", "lead_sla_job"],
        env=env,
        capture_output=True,
        text=True,
    )
    if launch.returncode != 0:
        click.echo(f"lead_sla_job failed:\n{launch.stderr[-2000:]}")
        return
    escalated, rerouted = sla_escalations(stack)
    click.echo(f"lead SLAs: {escalated} escalated in Slack, {rerouted} re-routed to another rep")


@click.command()
@click.option("--ui-port", type=int, default=3000, show_default=True)
@click.option("--receiver-port", type=int, default=8720, show_default=True)
@click.option("--forms", type=int, default=6, show_default=True, help="Sample form deliveries.")
@click.option("--exit-when-ready", is_flag=True, help="Stop once the first sync has run.")
@click.option("--ready-timeout", type=float, default=240.0, show_default=True)
def demo(
    ui_port: int, receiver_port: int, forms: int, exit_when_ready: bool, ready_timeout: float
) -> None:
    """Sandboxes, store, webhook receiver and the Dagster UI, with sample traffic.

    Needs the optional `revops-sandbox` distribution (`pip install ./revops_sandbox`)."""
    # Before anything is written: without the stand-ins there is no demo to run.
    stack_module = import_sandbox("revops_sandbox.stack")
    server_module = import_sandbox("revops_sandbox.server")
    dagster_home = _prepare_dagster_home()
    url = store_engine.database_url()
    store_engine.upgrade(url)
    click.echo(f"store: revision {store_engine.current_revision(url)} at {url}")
    # The project's configuration with SLAs of a minute, so an escalation happens while you watch.
    os.environ[CONFIG_DIR_ENV] = str(demo_config_dir(store_engine.state_dir()))
    click.echo(f"configuration: {os.environ[CONFIG_DIR_ENV]} (routing.yaml with 1-minute SLAs)")
    custom_forms = load_model(config_path("forms.yaml"), FormsConfig)
    form = next(iter(custom_forms.forms), "")  # one lead goes through the first custom form
    settings = ReceiverSettings(
        database_url=url,
        secrets=DEMO_SECRETS,
        hubspot_secret=DEMO_HUBSPOT_SECRET,
        forms={key: (env, DEMO_FORM_SECRET) for key, env in custom_forms.secret_envs().items()},
    )
    with (
        stack_module.serve_sandboxes(state_dir=sandbox_state_dir()) as stack,
        server_module.serve_in_thread(create_app(settings), port=receiver_port) as receiver,
    ):
        env = {
            **os.environ,
            **project_environment(stack),
            **{SOURCES[n].secret_env: s for n, s in DEMO_SECRETS.items()},
            HUBSPOT_SECRET_ENV: DEMO_HUBSPOT_SECRET,
            **dict.fromkeys(custom_forms.secret_envs().values(), DEMO_FORM_SECRET),
            "REVOPS_DATABASE_URL": url,
            "DAGSTER_HOME": str(dagster_home),
            "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
        }
        for name, server in stack.servers.items():
            click.echo(f"{name} sandbox: {server.url}")
        click.echo(
            f"webhook receiver: {receiver.url}/webhooks/{{typeform,tally,attio,segment,hubspot}}"
            f" and /webhooks/forms/{{{','.join(custom_forms.forms)}}}"
        )
        bin_dir = Path(sys.executable).parent
        ui = f"http://127.0.0.1:{ui_port}"
        try:
            workspace = workspace_file()
        except FileNotFoundError as exc:
            raise click.ClickException(str(exc)) from None
        process = subprocess.Popen(
            [
                *(str(bin_dir / "dg"), "dev", "-w", str(workspace)),
                *("--host", "127.0.0.1", "--port", str(ui_port)),
            ],
            cwd=workspace.parent,
            env=env,
            start_new_session=True,
        )
        try:
            try:
                assets = wait_for_asset_graph(ui, process, ready_timeout)
            except WebserverNotReady as exc:
                raise click.ClickException(f"the Dagster UI at {ui}: {exc}") from None
            click.echo(f"Dagster UI: {ui} ({len(assets)} assets loaded)")
            statuses = _send_sample_forms(receiver.url, forms)
            click.echo(
                f"sent {len(statuses)} signed form deliveries: answers {sorted(set(statuses))}"
            )
            if form:
                for path, status in _send_one_lead_per_source(receiver.url, form):
                    click.echo(f"one lead via {path}: {status}")
            # The sandbox org's history ends at midnight, so yesterday is the first full day.
            day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
            click.echo(f"syncing the Salesforce accounts of {day} into the Attio sandbox ...")
            launch = subprocess.run(
                [
                    str(bin_dir / "dg"),
                    "launch",
                    "--job",
                    "salesforce_incremental_sync_job",
                    "--partition",
                    day,
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            attio_companies = stack.apps["attio"].stats()["records"].get("companies", 0)  # type: ignore[attr-defined]
            outcome = "succeeded" if launch.returncode == 0 else f"failed:\n{launch.stderr[-2000:]}"
            click.echo(f"sync run {outcome}; the Attio sandbox holds {attio_companies} companies")
            engine = store_engine.get_engine(url)
            counts = wait_for_inbox(engine, list(FORM_SOURCES), timeout=180)
            click.echo(f"webhook inbox: {counts}")
            leads_routed = time.monotonic()
            edited = _edit_a_company_in_attio(stack, receiver.url)
            if edited is not None:
                company, account_id, old, new = edited
                click.echo(f"a rep set account {account_id}'s industry {old} -> {new} in Attio")
                attio_rows = wait_for_inbox(engine, ["attio"], timeout=180)
                account = stack.apps["salesforce"].account(account_id)  # type: ignore[attr-defined]
                click.echo(
                    f"Attio events: {attio_rows}; Salesforce account {account_id} Industry is "
                    f"now {account['Industry'] if account else '?'}"
                )
                _win_and_move(stack, company, receiver.url, engine)
            _escalate_past_sla(stack, bin_dir, env, leads_routed)
            stats = {name: app.stats() for name, app in stack.apps.items()}  # type: ignore[attr-defined]
            people = stats["attio"]["records"].get("people", 0)
            click.echo(f"Attio sandbox: {people} people; {_lead_summary(stats, stack)}")
            if exit_when_ready:
                if launch.returncode != 0:
                    raise click.ClickException("the demo's first sync failed")
                return
            click.echo("Ctrl-C stops everything.")
            process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            stop_process_group(process, signal.SIGINT, timeout=30)
