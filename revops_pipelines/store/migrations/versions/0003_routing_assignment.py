"""routing_assignment: one stored routing decision per lead, so retries keep their rep.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_assignment",
        sa.Column("lead_key", sa.String(255), nullable=False),
        sa.Column("pool", sa.String(64), nullable=False),
        sa.Column("rep", sa.String(255), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_key", name="pk_routing_assignment"),
        # A pool's sequence numbers are handed out under its lock: a duplicate would be a bug.
        sa.UniqueConstraint("pool", "sequence", name="uq_routing_assignment_pool_sequence"),
    )


def downgrade() -> None:
    op.drop_table("routing_assignment")
