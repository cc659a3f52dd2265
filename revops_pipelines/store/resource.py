"""The project's store as a Dagster resource."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from revops_pipelines.store import engine as store_engine


class RevopsDatabase(dg.ConfigurableResource):
    """The project's own database (inbox, id map, sync state and log, ledger, routing state).

    Empty `url` means `REVOPS_DATABASE_URL`, else a SQLite file under `.revops/`. The schema is
    migrated to the newest revision the first time a run uses it.
    """

    url: str = Field(default="", description="SQLAlchemy URL; empty uses REVOPS_DATABASE_URL.")

    def resolved_url(self) -> str:
        return self.url or store_engine.database_url()

    def engine(self) -> sa.Engine:
        return store_engine.get_engine(self.resolved_url())

    def display_url(self) -> str:
        return sa.make_url(self.resolved_url()).render_as_string(hide_password=True)
