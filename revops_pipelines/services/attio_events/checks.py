"""What `revops attio check` says about flow C's configuration against the workspace: a
warning when none of `won_stages` (config/deals.yaml) exists among the deal stages, and a
problem for each list or stage a pipeline rule (config/pipelines.yaml) names that is missing."""

from __future__ import annotations

from dataclasses import dataclass, field

from revops_pipelines.domain.deal_messages import DealNotificationConfig, won_stages_in_workspace
from revops_pipelines.domain.pipeline_rules import PipelineRules
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.errors import AttioError
from revops_pipelines.services.attio_events.pipelines import workspace_problems


@dataclass
class EventsConfigCheck:
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def check_events_config(
    client: AttioClient, deals: DealNotificationConfig, rules: PipelineRules
) -> EventsConfigCheck:
    result = EventsConfigCheck()
    try:
        statuses = await client.workspace.statuses("objects", "deals", "stage")
    except AttioError as exc:
        if exc.status_code != 404:
            raise
        result.warnings.append(
            "the workspace has no deals object with a stage attribute; "
            "no deal will be announced as won"
        )
    else:
        if not won_stages_in_workspace(statuses, deals.won_stages):
            titles = [s.get("title") for s in statuses if not s.get("is_archived")]
            result.warnings.append(
                f"no configured won stage {list(deals.won_stages)} exists among the deal "
                f"stages {titles}; no deal will be announced as won (config/deals.yaml)"
            )
    result.problems += workspace_problems_text(await workspace_problems(client, rules))
    return result


async def apply_pipeline_schema(client: AttioClient, rules: PipelineRules) -> list[str]:
    """For `revops attio setup`: on each list a rule names (lists are created by the schema
    plan), the rule's status attribute and the stages it names, when missing. Never deletes."""
    done: list[str] = []
    slugs = {item.get("api_slug"): item for item in await client.workspace.lists()}
    for rule in rules.rules:
        if rule.list not in slugs:
            continue  # not ours to create: `workspace_problems` names it
        attributes = await client.workspace.attributes("lists", rule.list)
        if not any(a.get("api_slug") == rule.stage_attribute for a in attributes):
            await client.workspace.create_attribute(
                "lists",
                rule.list,
                {
                    "title": rule.stage_attribute.replace("_", " ").capitalize(),
                    "description": f"Managed by revops-pipelines (pipeline rule {rule.name}).",
                    "api_slug": rule.stage_attribute,
                    "type": "status",
                    "is_required": False,
                    "is_unique": False,
                    "is_multiselect": False,
                    "config": {},
                },
            )
            done.append(f"created attribute {rule.list}.{rule.stage_attribute} (status)")
        have = await client.workspace.statuses("lists", rule.list, rule.stage_attribute)
        for stage in filter(None, (rule.to_stage, rule.from_stage)):
            if not won_stages_in_workspace(have, (stage,)):
                await client.workspace.create_status(
                    "lists", rule.list, rule.stage_attribute, stage
                )
                have = await client.workspace.statuses("lists", rule.list, rule.stage_attribute)
                done.append(f"created stage {rule.list}.{rule.stage_attribute} = {stage!r}")
    return done


def workspace_problems_text(problems: list[str]) -> list[str]:
    return [f"config/pipelines.yaml: {p}" for p in problems]
