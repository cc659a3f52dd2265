"""Store side of the two-way write-back: which account a company is, the agreed baseline, and
the conflicts table."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from revops_pipelines.store.tables import id_map, sync_conflicts, sync_log, sync_state


@dataclass(frozen=True)
class SyncedCompany:
    """An Attio company the Salesforce sync owns."""

    source_id: str  # the Salesforce Account Id
    row_hash: str | None
    baseline: dict[str, Any] | None


def synced_company(
    connection: sa.Connection, sync_name: str, record_id: str
) -> SyncedCompany | None:
    """The account behind an Attio company record, or None when no sync wrote it."""
    row = connection.execute(
        sa.select(sync_state.c.source_id, sync_state.c.row_hash, sync_state.c.two_way_values)
        .where(sync_state.c.sync_name == sync_name, sync_state.c.attio_record_id == record_id)
        .order_by(sync_state.c.synced_at.desc())
        .limit(1)
    ).first()
    if row is not None:
        return SyncedCompany(row.source_id, row.row_hash, row.two_way_values or None)
    # A merge repoints only the id map, so a surviving record may be known there alone.
    source_id = connection.execute(
        sa.select(id_map.c.external_id).where(
            id_map.c.system == "salesforce",
            id_map.c.external_object == "Account",
            id_map.c.attio_record_id == record_id,
        )
    ).scalar()
    if source_id is None:
        return None
    state = connection.execute(
        sa.select(sync_state.c.row_hash, sync_state.c.two_way_values).where(
            sync_state.c.sync_name == sync_name, sync_state.c.source_id == source_id
        )
    ).first()
    if state is None:
        return SyncedCompany(source_id, None, None)
    return SyncedCompany(source_id, state.row_hash, state.two_way_values or None)


def settle_baseline(
    connection: sa.Connection,
    sync_name: str,
    source_id: str,
    record_id: str,
    baseline: dict[str, Any],
    *,
    row_hash: str | None = None,
) -> None:
    """Both sides now hold `baseline`. `row_hash`, when given, is the hash of the account as it
    now is in Salesforce, so the next sync does not write back to Attio what came from Attio."""
    values: dict[str, Any] = {"two_way_values": baseline, "attio_record_id": record_id}
    if row_hash is not None:
        values["row_hash"] = row_hash
    connection.execute(
        sync_state.update()
        .where(sync_state.c.sync_name == sync_name, sync_state.c.source_id == source_id)
        .values(**values)
    )


def conflict_key(source_id: str, attribute: str, base: Any, attio: Any, salesforce: Any) -> str:
    text = json.dumps([source_id, attribute, base, attio, salesforce], default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def record_conflict(connection: sa.Connection, row: dict[str, Any]) -> bool:
    """Insert one conflict unless its key is recorded already; whether it was new."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(sync_conflicts)
        .values(detected_at=datetime.now(UTC), **row)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return bool(connection.execute(statement).rowcount)


def conflicts_of(connection: sa.Connection, source_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        sa.select(sync_conflicts)
        .where(sync_conflicts.c.source_id == source_id)
        .order_by(sync_conflicts.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def log_write_back(
    connection: sa.Connection,
    *,
    run_id: str,
    sync_name: str,
    source_id: str,
    status: str,
    message: str,
    payload: dict[str, Any] | None,
) -> None:
    connection.execute(
        sync_log.insert().values(
            run_id=run_id,
            sync_name=sync_name,
            source_id=source_id,
            operation="write_back",
            status=status,
            message=message,
            payload=payload,
            created_at=datetime.now(UTC),
        )
    )
