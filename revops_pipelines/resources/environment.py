"""The active environment profile as a resource, so the UI's Resources page shows it."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from revops_pipelines.infra.settings import RevopsSettings


class RevopsEnvironment(dg.ConfigurableResource):
    """The `REVOPS_ENV` profile this code location runs with, after environment overrides
    (`revops config show` prints the same, with where each value came from)."""

    env: str = Field(description="REVOPS_ENV: development, staging or production.")
    settings: dict[str, str] = Field(
        default_factory=dict, description="Every setting of the profile, secrets masked."
    )

    @classmethod
    def of(cls, settings: RevopsSettings) -> RevopsEnvironment:
        public = {k: ("" if v is None else str(v)) for k, v in settings.public().items()}
        return cls(env=settings.env, settings=public)
