"""Pipeline rules (`config/pipelines.yaml`): what to do when a list entry moves to a stage.

A rule names a list (by slug), the status attribute holding the entry's stage (default `stage`),
the stage it moves to (and optionally the one it comes from), and its actions: a Slack post to
a channel and/or a task for the record's owner due some business days later. Stages are matched
like deal stages: by status id, or by title ignoring case, surrounding spaces and emoji.

A transition is an entry whose current stage differs from the last stage we saw on it; its key
(`pipeline:<list>:<entry>:<rule>:<stage since>`) is deterministic, so each rule acts once per
transition however often Attio delivers the events, and an entry that leaves the stage and comes
back is a new transition. Pure: no I/O, no Dagster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from revops_pipelines.domain.deal_messages import is_won_stage, stage_title_key


class SlackAction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = Field(min_length=2, description="Slack channel, e.g. #deals.")


class TaskAction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    due_business_days: int = Field(
        ge=1,
        le=60,
        description="Business days after the move; due at routing.yaml's task_due_hour in the "
        "owner's time zone (a rep of routing.yaml), else in UTC.",
    )
    owner_attribute: str = Field(
        default="owner",
        min_length=1,
        description="Actor-reference attribute naming the owner: read on the entry first, "
        "then on its parent record.",
    )
    content: str = Field(
        default="{record}: moved to {stage} in {list}",
        min_length=1,
        max_length=1500,
        description="Task text; {record}, {stage} and {list} are filled in.",
    )


class PipelineRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]{1,48}$", description="Unique; part of the effect key.")
    list: str = Field(min_length=1, description="The list's api_slug (or id).")
    stage_attribute: str = Field(default="stage", min_length=1)
    to_stage: str = Field(min_length=1, description="Status id or title the entry moves to.")
    from_stage: str | None = Field(default=None, description="Only when it comes from here.")
    slack: SlackAction | None = None
    task: TaskAction | None = None

    @field_validator("to_stage", "from_stage")
    @classmethod
    def _names_a_stage(cls, stage: str | None) -> str | None:
        if stage is not None and not stage_title_key(stage):
            raise ValueError(f"{stage!r} names no stage (empty without emoji)")
        return stage

    @model_validator(mode="after")
    def _has_an_action(self) -> PipelineRule:
        if self.slack is None and self.task is None:
            raise ValueError("a rule needs an action: slack, task or both")
        return self


class PipelineRules(BaseModel):
    """`config/pipelines.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[PipelineRule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: tuple[PipelineRule, ...]) -> tuple[PipelineRule, ...]:
        names = [r.name for r in rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"rule names must be unique; repeated: {repeated}")
        attributes: dict[str, set[str]] = {}
        for rule in rules:
            attributes.setdefault(rule.list, set()).add(rule.stage_attribute)
        mixed = sorted(slug for slug, found in attributes.items() if len(found) > 1)
        if mixed:
            # The last stage seen is kept per entry, so one list has one stage attribute.
            raise ValueError(f"the rules of list(s) {mixed} name different stage_attribute")
        return rules

    def lists(self) -> list[str]:
        return sorted({r.list for r in self.rules})

    def for_list(self, slug: str | None, list_id: str) -> list[PipelineRule]:
        return [r for r in self.rules if r.list in (slug, list_id)]


@dataclass(frozen=True)
class StageSeen:
    """An entry's stage: its status id and title, and since when (`active_from`)."""

    status_id: str | None
    title: str | None
    since: str | None


def current_stage(entry: dict[str, Any], attribute: str) -> StageSeen | None:
    """The entry's active status value of `attribute` (Attio's entry read shape), or None."""
    values = (entry.get("entry_values") or {}).get(attribute) or []
    active = [v for v in values if isinstance(v, dict) and v.get("active_until") is None]
    if not active:
        return None
    status = active[0].get("status") if isinstance(active[0].get("status"), dict) else {}
    ids = status.get("id") if isinstance(status.get("id"), dict) else {}
    return StageSeen(ids.get("status_id"), status.get("title"), active[0].get("active_from"))


def stage_matches(stage: StageSeen | None, name: str) -> bool:
    return stage is not None and is_won_stage(stage.title, stage.status_id, (name,))


def is_transition(previous: StageSeen | None, current: StageSeen | None) -> bool:
    """Whether the entry is at a stage we have not acted on: a different status, or the same
    status set again since (left and came back between two of our reads)."""
    if current is None:
        return False
    if previous is None:
        return True
    return (previous.status_id, previous.since) != (current.status_id, current.since)


def rules_due(
    rules: Iterable[PipelineRule], previous: StageSeen | None, current: StageSeen | None
) -> list[PipelineRule]:
    """The rules a move from `previous` to `current` fires (none unless it is a transition)."""
    if not is_transition(previous, current):
        return []
    return [
        r
        for r in rules
        if stage_matches(current, r.to_stage)
        and (r.from_stage is None or stage_matches(previous, r.from_stage))
    ]


def rule_key(rule: PipelineRule, list_id: str, entry_id: str, stage: StageSeen) -> str:
    return f"pipeline:{list_id}:{entry_id}:{rule.name}:{stage.since or stage.status_id}"


def missing_in_workspace(
    rules: Iterable[PipelineRule],
    lists: dict[str, str],
    statuses: dict[tuple[str, str], list[dict[str, Any]] | None],
) -> list[str]:
    """What the rules name that the workspace lacks, one sentence each.

    `lists` maps every list slug and id to its id; `statuses` maps (list id, attribute slug) to
    the attribute's statuses, or None when the list has no such status attribute."""
    problems: list[str] = []
    for rule in rules:
        list_id = lists.get(rule.list)
        if list_id is None:
            problems.append(f"rule {rule.name!r}: the workspace has no list {rule.list!r}")
            continue
        found = statuses.get((list_id, rule.stage_attribute))
        if found is None:
            problems.append(
                f"rule {rule.name!r}: list {rule.list!r} has no status attribute "
                f"{rule.stage_attribute!r}"
            )
            continue
        live = [
            StageSeen((s.get("id") or {}).get("status_id"), s.get("title"), None)
            for s in found
            if not s.get("is_archived")
        ]
        for name in filter(None, (rule.to_stage, rule.from_stage)):
            if not any(stage_matches(s, name) for s in live):
                problems.append(
                    f"rule {rule.name!r}: list {rule.list!r} has no stage {name!r} "
                    f"(it has {[s.title for s in live]})"
                )
    return problems


def task_text(rule: PipelineRule, *, record: str, stage: str, list_name: str) -> str:
    template = rule.task.content if rule.task else ""
    return (
        template.replace("{record}", record).replace("{stage}", stage).replace("{list}", list_name)
    )


def slack_text(rule: PipelineRule, *, record: str, stage: str, list_name: str, owner: str) -> str:
    who = f" (owner: {owner})" if owner else ""
    return f"{record} moved to {stage} in {list_name}{who}"


def _active(values: dict[str, Any], slug: str) -> dict[str, Any] | None:
    found = [v for v in values.get(slug) or [] if v.get("active_until") is None]
    return found[0] if found else None


def owner_of(entry: dict[str, Any], parent: dict[str, Any], attribute: str) -> str | None:
    for values in (entry.get("entry_values") or {}, parent.get("values") or {}):
        value = _active(values, attribute)
        if value and value.get("referenced_actor_type") == "workspace-member":
            return value.get("referenced_actor_id")
    return None


def record_name(record: dict[str, Any]) -> str:
    name = _active(record.get("values") or {}, "name") or {}
    return str(name.get("full_name") or name.get("value") or record["id"]["record_id"])


def member_name(member: dict[str, Any]) -> str:
    full = " ".join(p for p in (member.get("first_name"), member.get("last_name")) if p)
    return full or str(member.get("email_address") or "")


def parse_attio_time(value: Any) -> datetime | None:
    """Attio's nanosecond timestamps (or a date) as an aware datetime; None if unreadable."""
    if not isinstance(value, str | datetime) or not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    head, _, tail = value.partition(".")
    text = f"{head}.{tail.rstrip('Z')[:6]}+00:00" if tail else value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
