"""The last stage seen per list entry, for the pipeline rules of flow C.

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
        "pipeline_stage_state",
        sa.Column("list_id", sa.String(64), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("stage_id", sa.String(64)),
        sa.Column("stage_title", sa.String(255)),
        sa.Column("stage_since", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("list_id", "entry_id", name="pk_pipeline_stage_state"),
    )


def downgrade() -> None:
    op.drop_table("pipeline_stage_state")
