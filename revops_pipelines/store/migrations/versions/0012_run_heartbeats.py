"""Run heartbeats: a run whose process died silently is found within minutes (issue 15).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_heartbeats",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_run_heartbeats"),
    )
    op.create_index("ix_run_heartbeats_beat_at", "run_heartbeats", ["beat_at"])


def downgrade() -> None:
    op.drop_index("ix_run_heartbeats_beat_at", table_name="run_heartbeats")
    op.drop_table("run_heartbeats")
