"""Sync bookkeeping: the state of the last sync per source row, the id map, and the row log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from revops_pipelines.store.tables import id_map, sync_log, sync_state

# pandas is imported inside the functions that run it: loading the definitions must not load it.
if TYPE_CHECKING:
    import pandas as pd

CHUNK = 900  # below SQLite's bound-parameter limit on old builds


@dataclass(frozen=True)
class SyncOutcome:
    """What happened to one source row in one run."""

    source_id: str
    operation: str
    status: str  # ok | rejected | conflict | deleted | error
    row_hash: str | None = None
    match_key: str | None = None
    record_id: str | None = None
    message: str | None = None
    payload: dict[str, Any] | None = None
    two_way: dict[str, Any] | None = None  # the two-way values both sides now agree on


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def upsert(
    connection: sa.Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    keys: Sequence[str],
    *,
    keep_when_null: Sequence[str] = (),
) -> None:
    """Insert rows, or update the ones whose `keys` exist, on SQLite and PostgreSQL alike.
    A column in `keep_when_null` keeps its stored value where the new row has none."""
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    updates = {c: statement.excluded[c] for c in rows[0] if c not in keys and c != "created_at"}
    for column in keep_when_null:
        updates[column] = sa.func.coalesce(statement.excluded[column], table.c[column])
    connection.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_=updates), rows
    )


def load_state(
    connection: sa.Connection, sync_name: str, source_ids: Iterable[str]
) -> pd.DataFrame:
    import pandas as pd

    ids = sorted(set(source_ids))
    columns = ["source_id", "row_hash", "status", "attio_record_id", "match_key", "two_way_values"]
    frames = []
    for chunk in _chunks(ids):
        query = sa.select(*(sync_state.c[c] for c in columns)).where(
            sync_state.c.sync_name == sync_name, sync_state.c.source_id.in_(chunk)
        )
        frames.append(pd.DataFrame(connection.execute(query).all(), columns=columns))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def load_record_ids(
    connection: sa.Connection, system: str, external_object: str, source_ids: Iterable[str]
) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(set(source_ids))):
        query = sa.select(id_map.c.external_id, id_map.c.attio_record_id).where(
            id_map.c.system == system,
            id_map.c.external_object == external_object,
            id_map.c.external_id.in_(chunk),
        )
        found.update(dict(connection.execute(query).all()))
    return found


def outside_domain_owners(
    connection: sa.Connection, sync_name: str, domains: Iterable[str], batch_ids: Iterable[str]
) -> dict[str, str]:
    """Domain -> the account outside this batch whose company holds it in Attio."""
    exclude = set(batch_ids)
    owners: dict[str, str] = {}
    for chunk in _chunks(sorted(set(domains))):
        query = (
            sa.select(sync_state.c.match_key, sync_state.c.source_id)
            .where(
                sync_state.c.sync_name == sync_name,
                sync_state.c.status == "ok",
                sync_state.c.match_key.in_(chunk),
            )
            .order_by(sync_state.c.source_id)
        )
        for domain, source_id in connection.execute(query):
            if source_id not in exclude:
                owners.setdefault(domain, source_id)
    return owners


def record_outcomes(
    connection: sa.Connection,
    *,
    run_id: str,
    sync_name: str,
    system: str,
    external_object: str,
    attio_object: str,
    outcomes: Sequence[SyncOutcome],
) -> None:
    """Log each outcome, move the sync state on, and remember new Attio record ids."""
    if not outcomes:
        return
    now = datetime.now(UTC)
    connection.execute(
        sync_log.insert(),
        [
            {
                "run_id": run_id,
                "sync_name": sync_name,
                "source_id": o.source_id,
                "operation": o.operation,
                "status": o.status,
                "message": o.message,
                "payload": o.payload,
                "created_at": now,
            }
            for o in outcomes
        ],
    )
    upsert(
        connection,
        sync_state,
        [
            {
                "sync_name": sync_name,
                "source_id": o.source_id,
                # An error leaves no hash, so the next run writes the row again.
                "row_hash": o.row_hash if o.status != "error" else None,
                "match_key": o.match_key if o.status == "ok" else None,
                "status": o.status,
                "attio_record_id": o.record_id,
                "last_run_id": run_id,
                "synced_at": now,
                "two_way_values": o.two_way if o.status == "ok" else None,
            }
            for o in outcomes
        ],
        keys=("sync_name", "source_id"),
        keep_when_null=("two_way_values",),
    )
    upsert(
        connection,
        id_map,
        [
            {
                "system": system,
                "external_object": external_object,
                "external_id": o.source_id,
                "attio_object": attio_object,
                "attio_record_id": o.record_id,
                "created_at": now,
                "updated_at": now,
            }
            for o in outcomes
            if o.record_id and o.status in ("ok", "deleted")
        ],
        keys=("system", "external_object", "external_id"),
    )


def repoint_record_ids(connection: sa.Connection, pairs: Sequence[tuple[str, str]]) -> int:
    """Point id-map and sync-state rows at the surviving record of each Attio merge, in order
    (so a chain of merges in one batch ends at the last survivor); the id-map rows moved."""
    moved = 0
    now = datetime.now(UTC)
    for original, surviving in pairs:
        result = connection.execute(
            id_map.update()
            .where(id_map.c.attio_record_id == original)
            .values(attio_record_id=surviving, updated_at=now)
        )
        moved += result.rowcount or 0
        # The sync state names the record too (the two-way write-back finds accounts by it).
        connection.execute(
            sync_state.update()
            .where(sync_state.c.attio_record_id == original)
            .values(attio_record_id=surviving)
        )
    return moved


def forget_record_ids(connection: sa.Connection, record_ids: Sequence[str]) -> int:
    """Drop the id-map rows of records deleted in Attio; the number of rows dropped.

    A sync that writes the row again then finds or creates the record afresh instead of
    updating one that is gone."""
    dropped = 0
    for chunk in _chunks(sorted(set(record_ids))):
        result = connection.execute(id_map.delete().where(id_map.c.attio_record_id.in_(chunk)))
        dropped += result.rowcount or 0
    return dropped
