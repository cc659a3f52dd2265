"""One ConfigurableResource per outside system, and the project's database."""

from __future__ import annotations

from typing import Any

from revops_pipelines.resources.database import RevopsDatabase


def resource_defs() -> dict[str, Any]:
    """The resources of the code location, wired from the environment."""
    return {
        "database": RevopsDatabase(),
    }
