"""Two-way fields: the agreed baseline per synced row, and the conflicts table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_state") as batch:
        batch.add_column(sa.Column("two_way_values", sa.JSON))
    op.create_table(
        "sync_conflicts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("sync_name", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("attio_record_id", sa.String(64), nullable=False),
        sa.Column("attribute", sa.String(64), nullable=False),
        sa.Column("source_field", sa.String(255), nullable=False),
        sa.Column("base_value", sa.JSON),
        sa.Column("attio_value", sa.JSON),
        sa.Column("salesforce_value", sa.JSON),
        sa.Column("attio_changed_at", sa.DateTime(timezone=True)),
        sa.Column("salesforce_changed_at", sa.DateTime(timezone=True)),
        sa.Column("winner", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("winner IN ('attio', 'salesforce')", name="ck_sync_conflicts_winner"),
        sa.PrimaryKeyConstraint("id", name="pk_sync_conflicts"),
        sa.UniqueConstraint("key", name="uq_sync_conflicts_key"),
    )
    op.create_index("ix_sync_conflicts_source_id", "sync_conflicts", ["source_id"])


def downgrade() -> None:
    op.drop_index("ix_sync_conflicts_source_id", table_name="sync_conflicts")
    op.drop_table("sync_conflicts")
    with op.batch_alter_table("sync_state") as batch:
        batch.drop_column("two_way_values")
