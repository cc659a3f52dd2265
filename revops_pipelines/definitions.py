"""The one Definitions object of the code location. Each flow adds its module's `defs` here."""

from __future__ import annotations

import dagster as dg

from revops_pipelines.resources import resource_defs

defs = dg.Definitions.merge(
    dg.Definitions(resources=resource_defs()),
)
