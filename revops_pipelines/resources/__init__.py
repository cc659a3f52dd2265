"""One ConfigurableResource per outside system, and the project's database."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.attio.transport import DEFAULT_BASE_URL
from revops_pipelines.resources.database import RevopsDatabase
from revops_pipelines.resources.frames import DailyFrameIOManager
from revops_pipelines.resources.salesforce import SalesforceResource


def resource_defs() -> dict[str, Any]:
    """The resources of the code location, wired from the environment.

    Secrets are `dg.EnvVar`s, resolved when a run starts (a missing one fails that run with the
    variable's name); plain settings with a documented default are read when definitions load.
    """
    return {
        "database": RevopsDatabase(),
        "frames_io_manager": DailyFrameIOManager(),
        "salesforce": SalesforceResource.from_env(),
        "attio": AttioResource(
            api_key=dg.EnvVar("ATTIO_API_KEY"),
            base_url=os.environ.get("ATTIO_BASE_URL") or DEFAULT_BASE_URL,
        ),
    }
