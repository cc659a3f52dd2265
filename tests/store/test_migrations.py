"""Migrations build the same schema as `store/tables.py`, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.tables import metadata, sync_state, webhook_inbox

EXPECTED_TABLES = {
    "webhook_inbox",
    "id_map",
    "sync_state",
    "sync_log",
    "effect_ledger",
    "routing_state",
}


def test_upgrade_creates_every_table_at_head(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    tables = set(sa.inspect(engine).get_table_names())
    assert tables >= EXPECTED_TABLES
    assert store_engine.current_revision(db_url) == store_engine.head_revision()


def test_migrations_match_the_table_definitions(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, metadata)
    assert diff == [], f"tables.py and the migrations disagree: {diff}"


def test_upgrade_is_idempotent_and_downgrade_removes_everything(db_url: str) -> None:
    store_engine.upgrade(db_url)
    store_engine.upgrade(db_url)
    store_engine.downgrade(db_url, "base")
    inspector = sa.inspect(store_engine._engine_for(db_url))
    assert not (EXPECTED_TABLES & set(inspector.get_table_names()))
    store_engine.upgrade(db_url)
    assert set(sa.inspect(store_engine._engine_for(db_url)).get_table_names()) >= EXPECTED_TABLES


def test_inbox_source_and_event_id_are_unique(db_url: str) -> None:
    now = datetime.now(UTC)
    row = {
        "source": "typeform",
        "event_id": "evt-1",
        "received_at": now,
        "headers": {"content-type": "application/json"},
        "body": b"{}",
        "updated_at": now,
    }
    with store_engine.transaction(db_url) as connection:
        connection.execute(webhook_inbox.insert().values(**row))
    with pytest.raises(sa.exc.IntegrityError), store_engine.transaction(db_url) as connection:
        connection.execute(webhook_inbox.insert().values(**row))
    with store_engine.transaction(db_url) as connection:
        stored = connection.execute(sa.select(webhook_inbox)).mappings().one()
    assert stored["status"] == "pending"
    assert stored["attempts"] == 0


def test_timestamps_come_back_as_utc_aware(db_url: str) -> None:
    paris = timezone(timedelta(hours=1))
    written = datetime(2026, 11, 20, 9, 30, tzinfo=paris)
    source_id = f"001{uuid.uuid4().hex[:15]}"
    with store_engine.transaction(db_url) as connection:
        connection.execute(
            sync_state.insert().values(
                sync_name="accounts", source_id=source_id, status="ok", synced_at=written
            )
        )
        synced_at = connection.execute(
            sa.select(sync_state.c.synced_at).where(sync_state.c.source_id == source_id)
        ).scalar_one()
    assert synced_at == written
    assert synced_at.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(db_url: str) -> None:
    with (
        pytest.raises(sa.exc.StatementError, match="naive datetime"),
        store_engine.transaction(db_url) as connection,
    ):
        connection.execute(
            sync_state.insert().values(
                sync_name="accounts", source_id="x", status="ok", synced_at=datetime(2026, 1, 1)
            )
        )
