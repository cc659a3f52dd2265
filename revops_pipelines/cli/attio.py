"""`revops attio`: check and set up the Attio workspace schema the project expects."""

from __future__ import annotations

import asyncio
import os

import click

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.deal_messages import DealNotificationConfig
from revops_pipelines.domain.pipeline_rules import PipelineRules
from revops_pipelines.resources.attio import AttioClient, AttioConfigError, AttioError
from revops_pipelines.resources.attio.transport import DEFAULT_BASE_URL
from revops_pipelines.services.attio_events.checks import (
    apply_pipeline_schema,
    check_events_config,
)
from revops_pipelines.services.attio_setup import apply_schema_plan, plan_workspace_schema


def _client() -> AttioClient:
    return AttioClient.connect(
        api_key=os.environ.get("ATTIO_API_KEY", ""),
        base_url=os.environ.get("ATTIO_BASE_URL") or DEFAULT_BASE_URL,
    )


async def _run(apply: bool) -> int:
    async with _client() as client:
        plan = await plan_workspace_schema(client)
        for line in plan.describe():
            click.echo(line)
        deals = load_model(config_path("deals.yaml"), DealNotificationConfig)
        rules = load_model(config_path("pipelines.yaml"), PipelineRules)
        if apply and not plan.is_empty:
            for line in await apply_schema_plan(client, plan):
                click.echo(line)
        if apply:
            for line in await apply_pipeline_schema(client, rules):
                click.echo(line)
        events = await check_events_config(client, deals, rules)
        for line in events.warnings:
            click.echo(f"warning: {line}")
        for line in events.problems:
            click.echo(f"problem: {line}")
        if plan.is_empty and not plan.problems and not events.problems:
            click.echo("The workspace has the expected schema.")
            return 0
        return 1 if plan.problems or events.problems or (not apply and not plan.is_empty) else 0


def _main(apply: bool) -> None:
    try:
        code = asyncio.run(_run(apply))
    except (AttioConfigError, AttioError) as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(code)


@click.group()
def attio() -> None:
    """The Attio workspace (ATTIO_API_KEY, ATTIO_BASE_URL)."""


@attio.command()
def check() -> None:
    """Compare the workspace with the schema in DESIGN.md; exit 1 if anything is missing."""
    _main(apply=False)


@attio.command()
def setup() -> None:
    """Create the missing custom attributes, select options and lists (never deletes)."""
    _main(apply=True)
