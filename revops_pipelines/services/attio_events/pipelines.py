"""Pipeline rules acting on `list-entry.*` events (`config/pipelines.yaml`, domain in
`domain/pipeline_rules.py`).

Events carry ids, not values, so each entry named by the batch is read once as it is now; its
current stage is compared with the last stage we saw (`store/pipeline_stages.py`), and each rule
the transition fires runs its actions (a Slack post, a task for the owner) through the effect
ledger under the transition's key, so a burst of `list-entry.updated`, redeliveries and retried
runs act once. The stage is remembered only after every action succeeded, so a failed action is
retried by the next run and the finished ones are skipped by the ledger.

Before any write the rules are checked against the workspace: a rule naming a list or stage the
workspace lacks stops the batch with `PipelineRulesError`, naming it. Events for lists we do not
know, lists without rules, entries or parent records deleted since, are counted and skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from revops_pipelines.domain.attio_events import NormalizedEvent
from revops_pipelines.domain.pipeline_rules import (
    PipelineRule,
    PipelineRules,
    StageSeen,
    current_stage,
    is_transition,
    member_name,
    missing_in_workspace,
    owner_of,
    parse_attio_time,
    record_name,
    rule_key,
    rules_due,
    slack_text,
    task_text,
)
from revops_pipelines.domain.routing_config import RoutingConfig, owner_task_deadline
from revops_pipelines.infra.send_once import Effect, run_once
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.errors import AttioError
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.store.ledger import LedgerTable, ledger_row
from revops_pipelines.store.pipeline_stages import forget_entries, last_stage, remember_stage


class PipelineRulesError(RuntimeError):
    """The rules name lists or stages the workspace lacks (every problem in the message)."""


@dataclass
class PipelineReport:
    """What the batch's pipeline rules did (asset metadata)."""

    entries_fetched: int = 0
    transitions: int = 0
    actions: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    # (entry id, rule, slack | task, done | already done | skipped, detail)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> events or entries
    errors: list[str] = field(default_factory=list)

    @property
    def actions_done(self) -> int:
        return sum(1 for a in self.actions if a[3] == "done")


@dataclass(frozen=True)
class _List:
    id: str
    slug: str
    name: str


async def workspace_problems(client: AttioClient, rules: PipelineRules) -> list[str]:
    """What the rules name that the workspace lacks (empty: all there)."""
    if not rules.rules:
        return []
    lists: dict[str, str] = {}
    for item in await client.workspace.lists():
        list_id = item["id"]["list_id"]
        lists[list_id] = list_id
        if item.get("api_slug"):
            lists[item["api_slug"]] = list_id
    statuses: dict[tuple[str, str], list[dict[str, Any]] | None] = {}
    for rule in rules.rules:
        list_id = lists.get(rule.list)
        if list_id is None or (list_id, rule.stage_attribute) in statuses:
            continue
        attributes = await client.workspace.attributes("lists", list_id)
        stage = next((a for a in attributes if a.get("api_slug") == rule.stage_attribute), None)
        found = None
        if stage is not None and stage.get("type") == "status":
            found = await client.workspace.statuses("lists", list_id, rule.stage_attribute)
        statuses[(list_id, rule.stage_attribute)] = found
    return missing_in_workspace(rules.rules, lists, statuses)


class PipelineRulesHandler:
    """One batch's `list-entry.*` events through the pipeline rules."""

    def __init__(
        self,
        client: AttioClient,
        engine: sa.Engine,
        slack: SlackResource,
        rules: PipelineRules,
        routing: RoutingConfig | None = None,
        log: Any = None,
    ) -> None:
        self.client, self.engine, self.slack, self.rules = client, engine, slack, rules
        self.routing = routing  # the owners' time zones and holidays
        self.log = log
        self.report = PipelineReport()
        self._parents: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._members: dict[str, dict[str, Any]] | None = None

    async def check_workspace(self) -> None:
        problems = await workspace_problems(self.client, self.rules)
        if problems:
            raise PipelineRulesError(
                "config/pipelines.yaml does not match the Attio workspace: " + "; ".join(problems)
            )

    async def handle(self, events: list[NormalizedEvent]) -> None:
        lists = {
            item["id"]["list_id"]: _List(
                item["id"]["list_id"], str(item.get("api_slug") or ""), str(item.get("name") or "")
            )
            for item in await self.client.workspace.lists()
        }
        entries: dict[tuple[str, str], None] = {}
        deleted: list[tuple[str, str]] = []
        for event in events:
            list_id, entry_id = event.ids.get("list_id"), event.ids.get("entry_id")
            if not list_id or not entry_id:
                self.report.skipped["event without list or entry id"] += 1
            elif list_id not in lists:
                self.report.skipped["unknown list"] += 1
            elif event.event_type == "list-entry.deleted":
                deleted.append((list_id, entry_id))
            elif not self.rules.for_list(lists[list_id].slug, list_id):
                self.report.skipped["list without rules"] += 1
            else:
                entries[(list_id, entry_id)] = None
        if deleted:
            forget_entries(self.engine, deleted)
            self.report.skipped["entry deleted (state dropped)"] += len(deleted)
        for list_id, entry_id in entries:
            try:
                await self._entry(lists[list_id], entry_id)
            except Exception as exc:  # one entry's failure does not stop the others
                self.report.errors.append(f"list entry {entry_id}: {exc}")

    async def _entry(self, lst: _List, entry_id: str) -> None:
        rules = self.rules.for_list(lst.slug, lst.id)
        try:
            entry = await self.client.lists.get_entry(lst.id, entry_id)
        except AttioError as exc:
            if exc.status_code == 404:  # deleted since the event
                self.report.skipped["entry not found"] += 1
                return
            raise
        self.report.entries_fetched += 1
        current = current_stage(entry, rules[0].stage_attribute)
        if current is None:
            self.report.skipped["entry without a stage"] += 1
            return
        previous = last_stage(self.engine, lst.id, entry_id)
        if not is_transition(previous, current):
            self.report.skipped["no stage change"] += 1
            return
        due = rules_due(rules, previous, current)
        if due:
            self.report.transitions += 1
            parent = await self._parent(entry)
            if parent is None:
                self.report.skipped["parent record not found"] += 1
            else:
                for rule in due:
                    await self._apply(rule, lst, entry, parent, current)
        # Remembered only now: a failed action above leaves the transition to the next run.
        remember_stage(self.engine, lst.id, entry_id, current)

    async def _parent(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        key = (str(entry.get("parent_object")), str(entry.get("parent_record_id")))
        if key not in self._parents:
            try:
                self._parents[key] = await self.client.records.get(*key)
            except AttioError as exc:
                if exc.status_code != 404:
                    raise
                self._parents[key] = None
        return self._parents[key]

    async def _member(self, member_id: str | None) -> dict[str, Any] | None:
        if self._members is None:
            self._members = {
                m["id"]["workspace_member_id"]: m for m in await self.client.workspace.members()
            }
        return self._members.get(member_id or "")

    async def _apply(
        self,
        rule: PipelineRule,
        lst: _List,
        entry: dict[str, Any],
        parent: dict[str, Any],
        stage: StageSeen,
    ) -> None:
        entry_id = entry["id"]["entry_id"]
        key = rule_key(rule, lst.id, entry_id, stage)
        owner_id = owner_of(entry, parent, rule.task.owner_attribute if rule.task else "owner")
        member = await self._member(owner_id)
        owner = member_name(member) if member else ""
        names = {"record": record_name(parent), "stage": stage.title or "?", "list_name": lst.name}
        if rule.slack is not None:
            channel = rule.slack.channel
            text = slack_text(rule, owner=owner, **names)
            outcome = await self._post(f"{key}:slack", channel, text)
            self._done(entry_id, rule, "slack", outcome, f"{channel} {outcome.effect.ref}")
        if rule.task is not None:
            if member is None:
                self.report.actions.append(
                    (entry_id, rule.name, "task", "skipped", f"no {rule.task.owner_attribute}")
                )
                return
            since = parse_attio_time(stage.since) or datetime.now(UTC)
            email = str(member.get("email_address") or "")
            days = rule.task.due_business_days
            deadline = owner_task_deadline(self.routing, email, since, days)
            content = task_text(rule, **names)
            link = {
                "target_object": entry["parent_object"],
                "target_record_id": entry["parent_record_id"],
            }
            outcome = await self._task(f"{key}:task", content, deadline, link, owner_id or "")
            self._done(entry_id, rule, "task", outcome, f"{owner}, due {deadline.isoformat()}")

    def _done(
        self, entry_id: str, rule: PipelineRule, what: str, outcome: Any, detail: str
    ) -> None:
        status = "done" if outcome.status == "done" else "already done"
        self.report.actions.append((entry_id, rule.name, what, status, detail))
        if self.log is not None:
            self.log.info(f"pipeline rule {rule.name} on entry {entry_id}: {what} {status}")

    async def _post(self, key: str, channel: str, text: str) -> Any:
        async def post() -> Effect:
            ts = await asyncio.to_thread(self.slack.post_message_once, channel, text, marker=key)
            return Effect(ts, {"channel": channel})

        async def look() -> Effect | None:
            channel_id = await asyncio.to_thread(self.slack.channel_id, channel)
            oldest = time.time() - self.slack.lookback_seconds
            ts = await asyncio.to_thread(self.slack.find_message, channel_id, key, oldest=oldest)
            return Effect(ts, {"channel": channel}) if ts else None

        return await run_once(LedgerTable(self.engine), key, "pipeline_slack", post, look)

    async def _task(
        self, key: str, content: str, deadline: datetime, link: dict[str, str], owner_id: str
    ) -> Any:
        async def create() -> Effect:
            task = await self.client.tasks.create(
                content=content,
                deadline_at=deadline.isoformat().replace("+00:00", "Z"),
                linked_records=[link],
                assignees=[
                    {"referenced_actor_type": "workspace-member", "referenced_actor_id": owner_id}
                ],
            )
            return Effect(str(task["id"]["task_id"]))

        async def look() -> Effect | None:
            row = ledger_row(self.engine, key)
            started = row["created_at"] if row else None
            async for task in self.client.tasks.list(
                linked_object=link["target_object"], linked_record_id=link["target_record_id"]
            ):
                created = parse_attio_time(task.get("created_at"))
                if task.get("content_plaintext") == content and (
                    started is None or (created is not None and created >= started)
                ):
                    return Effect(str(task["id"]["task_id"]))
            return None

        return await run_once(LedgerTable(self.engine), key, "pipeline_task", create, look)
