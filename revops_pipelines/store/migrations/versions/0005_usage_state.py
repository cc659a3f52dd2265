"""usage_state: the product-usage values last written per Attio record; an inbox index by day.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_state",
        sa.Column("object", sa.String(16), nullable=False),
        sa.Column("record_key", sa.String(320), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attio_record_id", sa.String(64)),
        sa.Column("last_run_id", sa.String(64)),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("object", "record_key", name="pk_usage_state"),
    )
    op.create_index(
        "ix_webhook_inbox_source_received_at", "webhook_inbox", ["source", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_inbox_source_received_at", table_name="webhook_inbox")
    op.drop_table("usage_state")
