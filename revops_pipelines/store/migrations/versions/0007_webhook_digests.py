"""Body digests of deliveries, so a replayed body under a new key is a duplicate (issue 15).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_digests",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "digest", name="pk_webhook_digests"),
    )


def downgrade() -> None:
    op.drop_table("webhook_digests")
