"""The initial store: inbox, id map, sync state and log, effect ledger, routing state.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        _ts("received_at", nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("claimed_by", sa.String(255)),
        _ts("claimed_at"),
        _ts("processed_at"),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_inbox"),
        sa.UniqueConstraint("source", "event_id", name="uq_webhook_inbox_source_event_id"),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'done', 'failed', 'quarantined')",
            name="ck_webhook_inbox_status",
        ),
    )
    op.create_index(
        "ix_webhook_inbox_status_source_id", "webhook_inbox", ["status", "source", "id"]
    )

    op.create_table(
        "id_map",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("external_object", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("attio_object", sa.String(64), nullable=False),
        sa.Column("attio_record_id", sa.String(64), nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_id_map"),
        sa.UniqueConstraint(
            "system",
            "external_object",
            "external_id",
            name="uq_id_map_system_external_object_external_id",
        ),
    )
    op.create_index(
        "ix_id_map_attio_object_attio_record_id", "id_map", ["attio_object", "attio_record_id"]
    )

    op.create_table(
        "sync_state",
        sa.Column("sync_name", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("row_hash", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attio_record_id", sa.String(64)),
        _ts("source_modified_at"),
        sa.Column("last_run_id", sa.String(64)),
        _ts("synced_at", nullable=False),
        sa.PrimaryKeyConstraint("sync_name", "source_id", name="pk_sync_state"),
    )

    op.create_table(
        "sync_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("sync_name", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("payload", sa.JSON),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sync_log"),
    )
    op.create_index("ix_sync_log_run_id", "sync_log", ["run_id"])
    op.create_index("ix_sync_log_sync_name_source_id", "sync_log", ["sync_name", "source_id"])

    op.create_table(
        "effect_ledger",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("target_ref", sa.String(255)),
        sa.Column("result", sa.JSON),
        sa.Column("last_error", sa.Text),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_effect_ledger"),
        sa.CheckConstraint(
            "status IN ('started', 'done', 'ambiguous', 'failed')", name="ck_effect_ledger_status"
        ),
    )

    op.create_table(
        "routing_state",
        sa.Column("pool", sa.String(64), nullable=False),
        sa.Column("rep", sa.String(255), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("assigned_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_sequence", sa.BigInteger, nullable=False, server_default="0"),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("pool", "rep", "period", name="pk_routing_state"),
    )


def downgrade() -> None:
    for table in ("routing_state", "effect_ledger", "sync_log", "sync_state", "id_map"):
        op.drop_table(table)
    op.drop_table("webhook_inbox")
