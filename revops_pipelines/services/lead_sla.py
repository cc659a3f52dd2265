"""Lead SLAs: routed leads whose follow-up task is still open when their pool's SLA passes are
escalated once, and re-routed when the pool says so.

`leads_past_sla` needs only the store (the routing decisions, the lead flow's ledger and the
first touches flow C records), so `revops routing sla` and the asset check list them without
Attio. `escalate_breaches` reads each task back (a task completed but not yet seen by flow C is
not escalated), then through the effect ledger, once per lead: a Slack post in the pool's channel
mentioning the rep, an audit note on the person, and with `sla_reroute` a new task for the rep
the pool's strategy picks among its other available reps (chosen once, counted as a turn in the
pool) and the person's owner changed to them (the old task is left as is).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from revops_pipelines.domain.lead_sla import (
    Breach,
    escalation_text,
    lead_sla_deadline,
    reroute_decision,
    sla_channel,
)
from revops_pipelines.domain.personal_data import mask_email
from revops_pipelines.domain.routing_config import Pool, RoutingConfig
from revops_pipelines.infra.send_once import Effect, run_once
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.errors import AttioError
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.store.lead_sla import ESCALATION_STEP, open_leads
from revops_pipelines.store.ledger import LedgerTable
from revops_pipelines.store.routing import reroute_lead


@dataclass
class SlaReport:
    breaches: list[Breach] = field(default_factory=list)
    escalated: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    # (lead key, pool, rep, status, re-routed to)
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def leads_past_sla(engine: sa.Engine, config: RoutingConfig, now: datetime) -> list[Breach]:
    """Routed leads past their pool's SLA with no first touch and no escalation yet."""
    pools = {p.name: p for p in config.pools if p.sla_business_hours is not None}
    breaches = []
    for lead in open_leads(engine, sorted(pools)):
        if lead.rep not in {r.email for r in config.reps}:
            continue  # a rep removed from routing.yaml since: nobody to measure against
        deadline = lead_sla_deadline(config, pools[lead.pool], lead.rep, lead.assigned_at)
        if deadline is not None and deadline <= now:
            breaches.append(
                Breach(lead.lead_key, lead.pool, lead.rep, lead.assigned_at, deadline, lead.task_id)
            )
    return breaches


def _name(config: RoutingConfig, email: str) -> str:
    """The rep's name; a rep since removed from routing.yaml shows masked."""
    return next((r.name for r in config.reps if r.email == email), mask_email(email))


class SlaEscalation:
    def __init__(
        self,
        client: AttioClient,
        engine: sa.Engine,
        slack: SlackResource,
        config: RoutingConfig,
        log: Any = None,
    ) -> None:
        self.client, self.engine, self.slack, self.config, self.log = (
            client,
            engine,
            slack,
            config,
            log,
        )
        self.report = SlaReport()
        self._members: dict[str, str] | None = None

    async def run(self, now: datetime | None = None) -> SlaReport:
        now = now or datetime.now(UTC)
        self.report.breaches = leads_past_sla(self.engine, self.config, now)
        for breach in self.report.breaches:
            try:
                await self._escalate(breach, now)
            except Exception as exc:  # one lead's failure does not stop the others
                self.report.errors.append(f"lead {breach.lead_key}: {exc}")
        return self.report

    async def _member_id(self, email: str) -> str | None:
        if self._members is None:
            self._members = {
                str(m.get("email_address", "")).lower(): m["id"]["workspace_member_id"]
                for m in await self.client.workspace.members()
            }
        return self._members.get(email.lower())

    async def _escalate(self, breach: Breach, now: datetime) -> None:
        if breach.task_id is None:
            self.report.skipped["lead without a follow-up task"] += 1
            return
        try:
            task = await self.client.tasks.get(breach.task_id)
        except AttioError as exc:
            if exc.status_code == 404:
                self.report.skipped["task deleted"] += 1
                return
            raise
        if task.get("is_completed"):
            self.report.skipped["task completed (first touch not seen yet)"] += 1
            return
        links = [link for link in task.get("linked_records") or [] if link.get("target_record_id")]
        person = str(links[0]["target_record_id"]) if links else None
        pool = self.config.pool(breach.pool)
        new_rep = self._new_rep(breach, pool, now) if pool.sla_reroute and person else None
        key, ledger = breach.lead_key, LedgerTable(self.engine)
        rep_name = self.config.rep(breach.rep).name
        new_name = _name(self.config, new_rep) if new_rep else None
        url = f"https://app.attio.com/person/{person}" if person else None
        channel = sla_channel(pool, self.config, breach.rep)
        text = escalation_text(breach, f"@{rep_name}", new_name, url)
        marker = f"{key}:{ESCALATION_STEP}"

        async def post() -> Effect:
            ts = await asyncio.to_thread(self.slack.post_message_once, channel, text, marker=marker)
            return Effect(ts, {"channel": channel, "rerouted_to": new_rep})

        async def look() -> Effect | None:
            cid = await asyncio.to_thread(self.slack.channel_id, channel)
            oldest = time.time() - self.slack.lookback_seconds
            ts = await asyncio.to_thread(self.slack.find_message, cid, marker, oldest=oldest)
            return Effect(ts, {"channel": channel}) if ts else None

        if new_rep and person:
            await self._reroute(breach, person, new_rep, now)
        if person:
            title = f"SLA escalation ({key})"
            content = "\n".join(
                [
                    f"- Pool {breach.pool}: follow-up task still open at the SLA deadline "
                    f"{breach.deadline:%Y-%m-%d %H:%M} UTC (assigned to {rep_name}).",
                    f"- Escalated in {channel}."
                    + (f" Re-routed to {new_name} with a new task." if new_name else ""),
                ]
            )

            async def note() -> Effect:
                made = await self.client.notes.create(
                    parent_object="people", parent_record_id=person, title=title, content=content
                )
                return Effect(str(made["id"]["note_id"]))

            await run_once(ledger, f"{key}:sla_note", "sla_note", note)
        # The escalation's own row last: the lead counts as escalated once everything is done.
        outcome = await run_once(ledger, marker, ESCALATION_STEP, post, look)
        status = "escalated" if outcome.status == "done" else "already escalated"
        self.report.escalated.append((key, breach.pool, breach.rep, status, new_rep or ""))

    def _new_rep(self, breach: Breach, pool: Pool, now: datetime) -> str | None:
        """The pool's strategy picks the new rep among the others, once: the choice and its
        turn are stored with the lead's routing decision, so a second pass gets the same rep."""
        today = now.astimezone(UTC).date()
        chosen = reroute_lead(
            self.engine,
            breach.lead_key,
            pool.name,
            pool.reps,
            lambda states: reroute_decision(
                self.config, pool, breach.rep, states.get(pool.name, {}), today
            ),
            today,
            now=now,
        )
        return chosen.rep if chosen else None

    async def _reroute(self, breach: Breach, person: str, new_rep: str, now: datetime) -> None:
        member = await self._member_id(new_rep)
        if member is None:
            self.report.skipped[f"{new_rep} is not a workspace member"] += 1
            return
        ledger, key = LedgerTable(self.engine), breach.lead_key
        deadline = self.config.task_deadline(new_rep, now)
        previous = _name(self.config, breach.rep)
        content = f"Follow up on this lead (re-routed from {previous} after the SLA)"
        actor = {"referenced_actor_type": "workspace-member", "referenced_actor_id": member}

        async def task() -> Effect:
            made = await self.client.tasks.create(
                content=content,
                deadline_at=deadline.isoformat().replace("+00:00", "Z"),
                linked_records=[{"target_object": "people", "target_record_id": person}],
                assignees=[actor],
            )
            return Effect(str(made["id"]["task_id"]))

        async def look() -> Effect | None:
            async for found in self.client.tasks.list(
                linked_object="people", linked_record_id=person
            ):
                if found.get("content_plaintext") == content:
                    return Effect(str(found["id"]["task_id"]))
            return None

        await run_once(ledger, f"{key}:sla_task", "sla_task", task, look)

        async def owner() -> Effect:
            await self.client.records.update("people", person, {"owner": actor})
            return Effect(person, {"owner": new_rep})

        await run_once(ledger, f"{key}:sla_owner", "sla_owner", owner)
