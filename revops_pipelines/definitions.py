"""The one Definitions object of the code location. Each flow adds its module's `defs` here."""

from __future__ import annotations

import dagster as dg

from revops_pipelines.assets import leads, salesforce_sync, usage
from revops_pipelines.dagster_logs import LOGGER_DEFS
from revops_pipelines.jobs import SYNC_JOBS
from revops_pipelines.resources import resource_defs
from revops_pipelines.schedules import SCHEDULES
from revops_pipelines.sensors import alerts
from revops_pipelines.sensors import inbox as inbox_flow

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
