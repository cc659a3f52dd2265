"""The one Definitions object of the code location. Each flow adds its module's `defs` here."""

from __future__ import annotations

from typing import Any

import dagster as dg

from revops_pipelines.assets import leads, salesforce_sync, usage
from revops_pipelines.infra.dagster_logs import LOGGER_DEFS
from revops_pipelines.infra.settings import RevopsSettings, load_settings
from revops_pipelines.jobs import SYNC_JOBS
from revops_pipelines.resources import (
    AttioResource,
    DailyFrameIOManager,
    EnrichmentResource,
    OutreachResource,
    RevopsEnvironment,
    SalesforceResource,
    SlackResource,
)
from revops_pipelines.schedules import SCHEDULES
from revops_pipelines.sensors import alerts
from revops_pipelines.sensors import inbox as inbox_flow
from revops_pipelines.store.resource import RevopsDatabase


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


defs = dg.Definitions.merge(
    dg.Definitions(resources=resource_defs()),
    inbox_flow.defs,
    dg.Definitions(assets=leads.LEAD_ASSETS),
    dg.Definitions(
        assets=alerts.with_sync_freshness(salesforce_sync.sync_assets),
        jobs=list(SYNC_JOBS),
        schedules=list(SCHEDULES),
    ),
    usage.defs,
    alerts.defs,
    dg.Definitions(loggers=LOGGER_DEFS),  # `console` (default) and opt-in `json`: dagster_logs.py
)
