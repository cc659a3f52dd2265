"""The handlers of Attio events: each event type goes to one of them through the domain's
dispatch table (`domain.attio_events.DISPATCH`).

- `record.merged`: id-map rows that pointed at the original record now point at the survivor.
- `record.deleted`: id-map rows of the deleted record are dropped, so a later sync finds or
  creates the company afresh instead of writing to a record that is gone. Merges of a batch are
  applied before its deletions, so an original deleted by its merge is already repointed.
- `record.created` / `record.updated`: every such event of one record in the batch collapses
  into one fetch of the record as it is now (deals only, and updates only when they touch the
  `stage` attribute); a deal whose current stage is won (or a new deal at or above the configured
  value) is announced in the wins channel and documented by a note on the deal, both through
  the effect ledger under the deal transition's key, so redeliveries and retried runs do nothing.
- The same record events of synced companies go to the two-way write-back
  (`services/two_way.py`) when Salesforce is configured: Attio's changes to two-way fields
  are written back to the account, conflicts are recorded, our own echoes change nothing.
- `list-entry.*`: the pipeline rules of `config/pipelines.yaml` (`pipelines.py`): each entry
  read once, its stage transition detected against the last stage seen, each rule's actions
  once per transition. The rules are checked against the workspace before anything is written.
- `task.*`, `note.*`, `comment.*` (`activity.py`): a completed follow-up task of a lead sets
  the person's first touch; new notes and comments set the parent record's last activity.
A deal whose notification fails does not stop the others; the batch then fails at the end, so
its inbox rows go back for a retry in which the finished effects are skipped by the ledger.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from revops_pipelines.domain.attio_events import (
    COMMENT,
    LIST_ENTRY,
    NOTE,
    RECORD_CREATED,
    RECORD_DELETED,
    RECORD_MERGED,
    RECORD_UPDATED,
    TASK,
    NormalizedEvent,
    RecordChange,
    deleted_record_ids,
    merge_repoints,
    records_to_fetch,
    route_events,
)
from revops_pipelines.domain.deal_messages import (
    DealFacts,
    DealNotificationConfig,
    deal_blocks,
    deal_facts,
    notification_due,
    notification_note,
    transition_key,
)
from revops_pipelines.domain.pipeline_rules import PipelineRules
from revops_pipelines.domain.routing_config import RoutingConfig
from revops_pipelines.infra.send_once import Effect, run_once
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.errors import AttioError
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.attio_events.activity import ActivityHandler, ActivityReport
from revops_pipelines.services.attio_events.pipelines import PipelineReport, PipelineRulesHandler
from revops_pipelines.services.two_way import TwoWayWriteBack
from revops_pipelines.store.ledger import LedgerTable
from revops_pipelines.store.sync_records import forget_record_ids, repoint_record_ids

DEALS = "deals"


@dataclass
class HandlingReport:
    """What one batch's handlers did (asset metadata)."""

    handled: Counter[str] = field(default_factory=Counter)  # handler name -> events
    skipped_unknown: Counter[str] = field(default_factory=Counter)  # event type -> events
    records_fetched: int = 0
    notifications: list[tuple[str, str, str, str]] = field(default_factory=list)
    # (deal record id, kind, sent | already sent | not configured | failed, detail)
    id_map_repointed: int = 0
    id_map_forgotten: int = 0
    cache_evicted: int = 0
    errors: list[str] = field(default_factory=list)
    pipelines: PipelineReport = field(default_factory=PipelineReport)
    activity: ActivityReport = field(default_factory=ActivityReport)

    @property
    def notifications_sent(self) -> int:
        return sum(1 for n in self.notifications if n[2] == "sent")


Handler = Callable[[list[NormalizedEvent]], Awaitable[None]]


class AttioEventHandlers:
    """One batch's handlers over an open Attio client, the store and Slack."""

    def __init__(
        self,
        client: AttioClient,
        engine: sa.Engine,
        slack: SlackResource,
        config: DealNotificationConfig,
        log: Any = None,
        write_back: TwoWayWriteBack | None = None,
        pipelines: PipelineRules | None = None,
        routing: RoutingConfig | None = None,
    ) -> None:
        self.client, self.engine, self.slack, self.config = client, engine, slack, config
        self.log = log
        self.write_back = write_back
        self.report = HandlingReport()
        self._companies: dict[str, str | None] = {}
        self._members: dict[str, str] | None = None
        self.pipelines = PipelineRulesHandler(
            client, engine, slack, pipelines or PipelineRules(), routing, log=log
        )
        self.report.pipelines = self.pipelines.report
        self.activity = ActivityHandler(client, engine, log=log)
        self.report.activity = self.activity.report
        # Handler groups in the order they run: merges before deletions (see module docstring);
        # created and updated together, so a record's events share one fetch.
        self.handlers: list[tuple[tuple[str, ...], Handler]] = [
            ((RECORD_MERGED,), self.record_merged),
            ((RECORD_DELETED,), self.record_deleted),
            ((RECORD_CREATED, RECORD_UPDATED), self.record_changed),
            ((LIST_ENTRY,), self.list_entries),
            ((NOTE, COMMENT), self.notes_and_comments),
            ((TASK,), self.tasks),
        ]

    async def handle(self, events: list[NormalizedEvent]) -> HandlingReport:
        # Whatever Attio says changed is read afresh: cached copies of those records go first.
        self.report.cache_evicted = self.client.records.evict(changed_record_ids(events))
        routed = route_events(events)
        self.report.skipped_unknown.update(e.event_type for e in routed.unknown)
        if routed.events(LIST_ENTRY) and self.pipelines.rules.rules:
            # Before any write: a rule naming a list or stage the workspace lacks stops here.
            await self.pipelines.check_workspace()
        for names, handler in self.handlers:
            batch = [e for name in names for e in routed.events(name)]
            if batch:
                await handler(batch)
                self.report.handled.update(
                    {name: len(routed.events(name)) for name in names if routed.events(name)}
                )
        return self.report

    # --- handlers ------------------------------------------------------------------------
    async def notes_and_comments(self, events: list[NormalizedEvent]) -> None:
        await self.activity.activity(events)
        self.report.errors += self.activity.report.errors
        self.activity.report.errors = []

    async def tasks(self, events: list[NormalizedEvent]) -> None:
        await self.activity.tasks(events)
        self.report.errors += self.activity.report.errors
        self.activity.report.errors = []

    async def list_entries(self, events: list[NormalizedEvent]) -> None:
        await self.pipelines.handle(events)
        self.report.errors += self.pipelines.report.errors

    async def record_merged(self, events: list[NormalizedEvent]) -> None:
        pairs = merge_repoints(events)
        with self.engine.begin() as connection:
            self.report.id_map_repointed += repoint_record_ids(connection, pairs)

    async def record_deleted(self, events: list[NormalizedEvent]) -> None:
        with self.engine.begin() as connection:
            self.report.id_map_forgotten += forget_record_ids(
                connection, deleted_record_ids(events)
            )

    async def record_changed(self, events: list[NormalizedEvent]) -> None:
        objects = {
            o.get("api_slug"): o["id"]["object_id"] for o in await self.client.workspace.objects()
        }
        if self.write_back is not None:
            await self.write_back.companies_changed(events, objects.get("companies"))
        await self._deals_changed(events, objects.get(DEALS))

    async def _deals_changed(self, events: list[NormalizedEvent], deals_object: str | None) -> None:
        if deals_object is None:
            return
        stage_attribute = await self._stage_attribute()
        for change in records_to_fetch(events, object_ids=[deals_object]):
            if not change.created and not _touches(change, stage_attribute):
                continue
            try:
                await self._deal_changed(change)
            except Exception as exc:  # one deal's failure does not stop the others
                self.report.errors.append(f"deal {change.record_id}: {exc}")
                self.report.notifications.append((change.record_id, "?", "failed", str(exc)))

    # --- deals ---------------------------------------------------------------------------
    async def _stage_attribute(self) -> str | None:
        attributes = await self.client.workspace.attributes("objects", DEALS)
        stage = next((a for a in attributes if a.get("api_slug") == "stage"), None)
        return stage["id"]["attribute_id"] if stage else None

    async def _deal_changed(self, change: RecordChange) -> None:
        try:
            record = await self.client.records.get(DEALS, change.record_id)
        except AttioError as exc:
            if exc.status_code == 404:  # deleted (or merged away) since the event
                return
            raise
        self.report.records_fetched += 1
        facts = deal_facts(record)
        kind = notification_due(facts, self.config, created=change.created)
        if kind is not None:
            await self._notify(kind, facts)

    async def _notify(self, kind: str, facts: DealFacts) -> None:
        if not self.slack.is_configured():
            problem = self.slack.configuration_problem() or ""
            self.report.notifications.append((facts.record_id, kind, "not configured", problem))
            return
        key, channel = transition_key(kind, facts), self.config.wins_channel
        text, blocks = deal_blocks(
            kind,
            facts,
            company=await self._company_name(facts.company_id),
            owner=await self._owner_name(facts.owner_id),
        )

        async def post() -> Effect:
            ts = await asyncio.to_thread(
                self.slack.post_message_once, channel, text, blocks, marker=key
            )
            return Effect(ts, {"channel": channel})

        async def look() -> Effect | None:
            channel_id = await asyncio.to_thread(self.slack.channel_id, channel)
            oldest = time.time() - self.slack.lookback_seconds
            ts = await asyncio.to_thread(self.slack.find_message, channel_id, key, oldest=oldest)
            return Effect(ts, {"channel": channel}) if ts else None

        posted = await run_once(LedgerTable(self.engine), key, "deal_notification", post, look)
        ts = str(posted.effect.ref)
        title, content = notification_note(kind, facts, channel, ts)

        async def write_note() -> Effect:
            note = await self.client.notes.create(
                parent_object=DEALS, parent_record_id=facts.record_id, title=title, content=content
            )
            return Effect(str(note["id"]["note_id"]))

        async def look_note() -> Effect | None:
            async for note in self.client.notes.list(
                parent_object=DEALS, parent_record_id=facts.record_id
            ):
                if note.get("title") == title:
                    return Effect(str(note["id"]["note_id"]))
            return None

        await run_once(LedgerTable(self.engine), f"{key}:note", "deal_note", write_note, look_note)
        status = "sent" if posted.status == "done" else "already sent"
        self.report.notifications.append((facts.record_id, kind, status, f"{channel} {ts}"))
        if self.log is not None:
            self.log.info(f"deal {facts.record_id} ({kind}): {status} to {channel} at {ts}")

    async def _company_name(self, company_id: str | None) -> str | None:
        if not company_id:
            return None
        if company_id not in self._companies:
            try:
                company = await self.client.records.get("companies", company_id)
            except AttioError as exc:
                if exc.status_code != 404:
                    raise
                company = {}
            names = (company.get("values") or {}).get("name") or []
            self._companies[company_id] = names[0].get("value") if names else None
        return self._companies[company_id]

    async def _owner_name(self, member_id: str | None) -> str | None:
        if not member_id:
            return None
        if self._members is None:
            self._members = {
                m["id"]["workspace_member_id"]: " ".join(
                    p for p in (m.get("first_name"), m.get("last_name")) if p
                )
                or m.get("email_address", "")
                for m in await self.client.workspace.members()
            }
        return self._members.get(member_id)


def changed_record_ids(events: list[NormalizedEvent]) -> list[str]:
    """Every record a `record.*` event names (a merge's originals too)."""
    ids = []
    for event in events:
        if event.event_type.startswith("record."):
            ids += [event.record_id, event.extra.get("duplicate_record_id")]
    return [i for i in ids if isinstance(i, str) and i]


def _touches(change: RecordChange, attribute_id: str | None) -> bool:
    """Whether the batch's updates of a record may have changed `attribute_id` (unknown: yes)."""
    return attribute_id is None or not change.attribute_ids or attribute_id in change.attribute_ids
