"""The shared rate budgets in the store's database, for when Redis is not configured (issue 12):
a row per budget key (its lock, 429 pause and interactive demand) and the sliding-window log.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_budget",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("paused_until_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("demand_until_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("key", name="pk_rate_budget"),
    )
    op.create_table(
        "rate_budget_log",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("member", sa.String(64), nullable=False),
        sa.Column("stamp_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("key", "member", name="pk_rate_budget_log"),
    )
    op.create_index("ix_rate_budget_log_key_stamp_ms", "rate_budget_log", ["key", "stamp_ms"])


def downgrade() -> None:
    op.drop_index("ix_rate_budget_log_key_stamp_ms", table_name="rate_budget_log")
    op.drop_table("rate_budget_log")
    op.drop_table("rate_budget")
