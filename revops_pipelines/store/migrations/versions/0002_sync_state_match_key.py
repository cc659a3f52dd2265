"""sync_state.match_key: the unique key (a company's domain) each synced row claims in Attio.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_state") as batch:
        batch.add_column(sa.Column("match_key", sa.String(255)))
    op.create_index("ix_sync_state_sync_name_match_key", "sync_state", ["sync_name", "match_key"])


def downgrade() -> None:
    op.drop_index("ix_sync_state_sync_name_match_key", table_name="sync_state")
    with op.batch_alter_table("sync_state") as batch:
        batch.drop_column("match_key")
