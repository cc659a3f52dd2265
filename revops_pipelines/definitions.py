"""The one Definitions object of the code location: the merge of every assets/, sensors/, jobs and
schedules module's `defs`, with the resources and loggers. A new module adds its `defs` here.
Loading it also registers the store's database as the rate budgets' home when Redis is not
configured (`database_budget`)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from revops_pipelines import jobs, schedules
from revops_pipelines.assets import (
    attio_events,
    forms,
    inbox,
    lead_sla,
    leads,
    routing_dashboard,
    salesforce_sync,
    usage,
)
from revops_pipelines.assets.heartbeat import run_heartbeat
from revops_pipelines.infra.dagster_logs import LOGGER_DEFS, mask_new_loggers
from revops_pipelines.infra.rate_budget import register_database_backend
from revops_pipelines.infra.rate_database import DatabaseBackend
from revops_pipelines.infra.settings import RevopsSettings, load_settings
from revops_pipelines.resources import (
    AttioResource,
    DailyFrameIOManager,
    EnrichmentResource,
    OutreachResource,
    RevopsEnvironment,
    RunScopedPickleIOManager,
    SalesforceResource,
    SalesloftResource,
    SlackResource,
)
from revops_pipelines.sensors import alerts, dead_runs
from revops_pipelines.sensors import inbox as inbox_sensors
from revops_pipelines.store.engine import database_url
from revops_pipelines.store.rate_budget import DatabaseRateLog
from revops_pipelines.store.resource import RevopsDatabase

_database_budgets: dict[str, DatabaseBackend] = {}


def database_budget() -> DatabaseBackend:
    """Where the rate budgets live when `REDIS_URL` is unset: the store's database (the URL of
    `REVOPS_DATABASE_URL`, else the SQLite file), one backend per database. Registered below,
    so every process that loads this location (code server, run and Celery workers) shares it."""
    url = database_url()
    backend = _database_budgets.get(url)
    if backend is None:
        backend = _database_budgets.setdefault(url, DatabaseBackend(DatabaseRateLog(url)))
    return backend


register_database_backend(database_budget)


def resource_defs(settings: RevopsSettings | None = None) -> dict[str, Any]:
    """The resources of the code location, wired from the environment.

    Secrets are `dg.EnvVar`s, resolved when a run starts (a missing one fails that run with the
    variable's name); plain settings with a documented default are read when definitions load.
    Slack, enrichment and Outreach take their secrets only when the variables are set; an
    absent integration is then skipped with the reason from its `configuration_problem()`.
    Budgets and retry caps come from the `REVOPS_ENV` profile (`infra/settings.py`).
    """
    settings = settings or load_settings()
    return {
        "revops_environment": RevopsEnvironment.of(settings),
        "database": RevopsDatabase(),
        # The runs that must not die unnoticed beat in the store (assets/heartbeat.py).
        "run_heartbeat": run_heartbeat,
        # Every output without an IO manager of its own: one folder per run, so two inbox runs
        # at once never load each other's batch (resources/run_io.py).
        "io_manager": RunScopedPickleIOManager(),
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
        "salesloft": SalesloftResource.from_env(),
    }


# Dagster's own coloured console of every run (runs whose run config names no logger included)
# masks secrets and lead emails: infra/dagster_logs.py.
mask_new_loggers()

defs = dg.Definitions.merge(
    inbox.defs,
    forms.defs,
    leads.defs,
    attio_events.defs,
    lead_sla.defs,
    routing_dashboard.defs,
    salesforce_sync.defs,
    usage.defs,
    jobs.defs,
    schedules.defs,
    inbox_sensors.defs,
    dead_runs.defs,
    alerts.defs,
    # `console` (default) and opt-in `json` loggers: infra/dagster_logs.py
    dg.Definitions(resources=resource_defs(), loggers=LOGGER_DEFS),
)
