"""The enrichment cache's table: the enrichment API's last answer per company domain (found,
pending or not_found; errors are never stored), with when it was fetched and when it expires.
Only the SQL lives here; when to read, what to store and for how long is the caller's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from revops_pipelines.store.sync_records import upsert
from revops_pipelines.store.tables import enrichment_cache


def cached_answer(engine: sa.Engine, domain: str) -> dict[str, Any] | None:
    """The stored answer for `domain` (status, payload, fetched_at, expires_at), expired or
    not; None when there is none."""
    with engine.connect() as connection:
        row = (
            connection.execute(
                sa.select(enrichment_cache).where(enrichment_cache.c.domain == domain)
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def store_answer(
    engine: sa.Engine,
    domain: str,
    status: str,
    payload: dict[str, Any] | None,
    *,
    fetched_at: datetime,
    expires_at: datetime,
) -> None:
    """Insert or replace the answer for `domain`."""
    row = {
        "domain": domain,
        "status": status,
        "payload": payload,
        "fetched_at": fetched_at,
        "expires_at": expires_at,
    }
    with engine.begin() as connection:
        upsert(connection, enrichment_cache, [row], keys=("domain",))
