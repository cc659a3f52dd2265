"""enrichment_cache: one company lookup per domain (found, pending or not_found), with expiry.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enrichment_cache",
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("domain", name="pk_enrichment_cache"),
        sa.CheckConstraint(
            "status IN ('found', 'pending', 'not_found')", name="ck_enrichment_cache_status"
        ),
    )


def downgrade() -> None:
    op.drop_table("enrichment_cache")
