"""The demo's Attio side (flow C): a rep's edits in the Attio sandbox delivered to the receiver as
Attio delivers them, a deal won, a pipeline entry moved to `Proposal`, and the configuration
under which a lead's SLA passes while the demo runs."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from ruamel.yaml import YAML

from revops_pipelines.cli.processes import run_in_group
from revops_pipelines.config import config_path, load_model
from revops_pipelines.config.loader import CONFIG_DIR_ENV
from revops_pipelines.domain.attio_values import first_value
from revops_pipelines.domain.deal_messages import DealNotificationConfig
from revops_pipelines.domain.pipeline_rules import PipelineRules
from revops_pipelines.store import inbox
from revops_pipelines.webhooks.sources import sign_attio

# A minute of working time, around the clock: the demo's leads pass their SLA while it runs.
DEMO_SLA_BUSINESS_HOURS = 1 / 60
DEMO_DEAL = "Northwind expansion (demo)"


def demo_config_dir(state_dir: Path) -> Path:
    """The configuration the demo runs with: the project's own (REVOPS_CONFIG_DIR or the
    packaged files), except that every pool's SLA is a minute of working time, every hour of
    every day is working time, and the enterprise pool re-routes on a breach. Comments kept."""
    source = Path(os.environ.get(CONFIG_DIR_ENV) or config_path("routing.yaml").parent)
    target = state_dir / "demo_config"
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.yaml"):
        shutil.copyfile(path, target / path.name)
    yaml = YAML()
    routing = yaml.load((source / "routing.yaml").read_text())
    hours = routing.setdefault("business_hours", {})
    hours.update({"day_start_hour": 0, "day_end_hour": 24, "weekend": [], "holidays": []})
    hours.pop("holiday_country", None)
    for rep in routing.get("reps", []):
        rep.pop("holiday_country", None)
    for pool in routing.get("pools", []):
        pool["sla_business_hours"] = DEMO_SLA_BUSINESS_HOURS
        if pool.get("name") == "enterprise":
            pool["sla_reroute"] = True
    with (target / "routing.yaml").open("w") as out:
        out.write("# Written by `revops demo`: the project's routing.yaml with demo SLAs.\n")
        yaml.dump(routing, out)
    return target


def forward_attio_events(attio: Any, receiver_url: str, secret: str, since: int) -> int:
    """Post the Attio sandbox's events since position `since` to the receiver, signed, one
    delivery each (Attio sends one per changed attribute). Returns the new position."""
    events = attio.webhook_events(since)
    with httpx.Client(base_url=receiver_url, timeout=10) as client:
        for i, event in enumerate(events):
            body = json.dumps({"webhook_id": "demo", "events": [event]}).encode()
            headers = {
                "Attio-Signature": sign_attio(secret, body),
                "Idempotency-Key": f"demo-{time.time_ns()}-{i}",
            }
            client.post("/webhooks/attio", content=body, headers=headers)
    return since + len(events)


@dataclass(frozen=True)
class AttioEdits:
    """What the demo's "rep" did in Attio: the deal it won and the company it moved to
    `Proposal` on the sales pipeline."""

    deal: str
    company: str


def _api(stack: Any) -> httpx.Client:
    endpoint = stack.endpoints["attio"]
    return httpx.Client(
        base_url=endpoint.base_url,
        headers={"Authorization": f"Bearer {endpoint.credential}"},
        timeout=10,
    )


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RuntimeError(f"the Attio sandbox answered {response.status_code}: {response.text}")
    return response.json()["data"]


def _owner_on_the_pipeline(api: httpx.Client) -> None:
    """The sales pipeline's entries get an `owner` (an actor reference), as a workspace admin
    would add it: the pipeline rule's task goes to the entry's owner."""
    existing = _ok(api.get("/lists/sales_pipeline/attributes"))
    if any(a["api_slug"] == "owner" for a in existing):
        return
    spec = {
        "title": "Owner",
        "api_slug": "owner",
        "type": "actor-reference",
        "description": "The rep who owns the opportunity.",
        "is_required": False,
        "is_unique": False,
        "is_multiselect": False,
        "config": {},
    }
    _ok(api.post("/lists/sales_pipeline/attributes", json={"data": spec}))


def rep_edits_in_attio(stack: Any, company: dict[str, Any]) -> AttioEdits:
    """A rep wins a deal on a synced company (its stage set to Attio's default won stage in
    the app), and moves the company to `Proposal` on the sales pipeline."""
    attio = stack.apps["attio"]
    member = attio.members()[0]["id"]["workspace_member_id"]
    owner = {"referenced_actor_type": "workspace-member", "referenced_actor_id": member}
    company_id = company["id"]["record_id"]
    with _api(stack) as api:
        deal = _ok(
            api.post(
                "/objects/deals/records",
                json={
                    "data": {
                        "values": {
                            "name": DEMO_DEAL,
                            "stage": "In Progress",
                            "value": 48000,
                            "owner": owner,
                            "associated_company": {
                                "target_object": "companies",
                                "target_record_id": company_id,
                            },
                        }
                    }
                },
            )
        )
        _owner_on_the_pipeline(api)
        _ok(
            api.put(
                "/lists/sales_pipeline/entries",
                json={
                    "data": {
                        "parent_record_id": company_id,
                        "parent_object": "companies",
                        "entry_values": {"stage": "Proposal", "owner": owner},
                    }
                },
            )
        )
    attio.edit_as_member("deals", deal["id"]["record_id"], {"stage": "Won 🎉"}, member)
    return AttioEdits(DEMO_DEAL, first_value(company, "name") or company_id)


def wait_for_inbox(engine: Any, sources: list[str], timeout: float) -> dict[str, int]:
    """Wait for the inbox sensors' runs to take every pending row (they tick every 5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = inbox.count_by_status(engine, sources)
        if counts["pending"] + counts["processing"] == 0 or time.monotonic() > deadline:
            return counts
        time.sleep(3)


def flow_c_summary(stack: Any, edits: AttioEdits, wins_channel: str, rule_channel: str) -> str:
    """What flow C did with the rep's edits, read from the sandboxes."""
    attio, slack = stack.apps["attio"], stack.apps["slack"]
    wins = [m for m in slack.messages(wins_channel.lstrip("#")) if edits.deal in m["text"]]
    deal_notes = [n for n in attio.notes() if n["title"].startswith("Notification sent: deal won")]
    moved = [m for m in slack.messages(rule_channel.lstrip("#")) if edits.company in m["text"]]
    tasks = [t for t in attio.tasks() if "follow up on the proposal" in t["content_plaintext"]]
    return (
        f"deal won: '{edits.deal}' -> {len(wins)} post(s) in {wins_channel}, "
        f"{len(deal_notes)} note(s) on the deal; pipeline rule: {edits.company} moved to "
        f"Proposal -> {len(moved)} post(s) in {rule_channel}, {len(tasks)} owner task(s)"
    )


def sla_escalations(stack: Any) -> tuple[int, int]:
    """(SLA escalation posts in Slack, of which re-routed), over every channel."""
    slack = stack.apps["slack"]
    posts = [
        m["text"]
        for channel in slack.stats()["messages"]
        for m in slack.messages(channel)
        if m["text"].startswith("SLA breached")
    ]
    return len(posts), sum("Re-routed to" in text for text in posts)


def show_flow_c(
    stack: Any, company: dict[str, Any], receiver_url: str, secret: str, engine: Any
) -> str:
    """A deal won and a pipeline entry moved to Proposal in Attio, through flow C: the lines
    the demo prints."""
    attio = stack.apps["attio"]
    since = len(attio.webhook_events())
    edits = rep_edits_in_attio(stack, company)
    forward_attio_events(attio, receiver_url, secret, since)
    rows = wait_for_inbox(engine, ["attio"], timeout=180)
    deals = load_model(config_path("deals.yaml"), DealNotificationConfig)
    rule = load_model(config_path("pipelines.yaml"), PipelineRules).rules[0]
    channel = rule.slack.channel if rule.slack else "#deals"
    return (
        f"a rep won '{edits.deal}' and moved {edits.company} to Proposal in Attio\n"
        f"Attio events: {rows}; {flow_c_summary(stack, edits, deals.wins_channel, channel)}"
    )


def escalate_past_sla(stack: Any, launch: list[str], workspace: Path, env: dict[str, str]) -> str:
    """Run `lead_sla_job` (`launch`, from the checkout) and count the escalations in Slack."""
    done = run_in_group(launch, cwd=workspace.parent, env=env)
    if done.returncode != 0:
        return f"lead_sla_job failed:\n{(done.stderr or done.stdout)[-2000:]}"
    escalated, rerouted = sla_escalations(stack)
    return f"lead SLAs: {escalated} escalated in Slack, {rerouted} re-routed to another rep"
