"""One ConfigurableResource per outside system, and the project's database."""

from __future__ import annotations

from typing import Any

import dagster as dg

from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.database import RevopsDatabase
from revops_pipelines.resources.enrichment import EnrichmentResource
from revops_pipelines.resources.environment import RevopsEnvironment
from revops_pipelines.resources.frames import DailyFrameIOManager
from revops_pipelines.resources.outreach import OutreachResource
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.settings import RevopsSettings, load_settings


def resource_defs(settings: RevopsSettings | None = None) -> dict[str, Any]:
    """The resources of the code location, wired from the environment.

    Secrets are `dg.EnvVar`s, resolved when a run starts (a missing one fails that run with the
    variable's name); plain settings with a documented default are read when definitions load.
    Slack, enrichment and Outreach take their secrets only when the variables are set; an
    absent integration is then skipped with the reason from its `configuration_problem()`.
    Budgets and retry caps come from the `REVOPS_ENV` profile (`settings.py`).
    """
    settings = settings or load_settings()
    return {
        "revops_environment": RevopsEnvironment.of(settings),
        "database": RevopsDatabase(),
        "frames_io_manager": DailyFrameIOManager(),
        "salesforce": SalesforceResource.from_env(),
        "attio": AttioResource(
            api_key=dg.EnvVar("ATTIO_API_KEY"),
            write_rate_per_second=settings.attio_write_rate,
            read_rate_per_second=settings.attio_read_rate,
            max_concurrency=settings.attio_max_concurrency,
            max_attempts=settings.retry_max_attempts,
            max_total_wait_seconds=settings.retry_max_wait_seconds,
            schema_cache_ttl_seconds=settings.schema_cache_ttl_seconds,
            record_cache_ttl_seconds=settings.record_cache_ttl_seconds,
            record_cache_size=settings.record_cache_size,
            redis_url=settings.redis_url,
        ),
        "slack": SlackResource.from_env(),
        "enrichment": EnrichmentResource.from_env(),
        "outreach": OutreachResource.from_env(),
    }
