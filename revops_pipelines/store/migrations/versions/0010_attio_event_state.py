"""Flow C's state: the last stage seen per list entry (pipeline rules), and each lead's first
touch (a completed follow-up task).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
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
    op.create_table(
        "lead_first_touch",
        sa.Column("lead_key", sa.String(255), nullable=False),
        sa.Column("person_id", sa.String(64)),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("webhook_at", sa.DateTime(timezone=True)),
        sa.Column("first_touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds_to_first_touch", sa.Float),
        sa.PrimaryKeyConstraint("lead_key", name="pk_lead_first_touch"),
    )


def downgrade() -> None:
    op.drop_table("lead_first_touch")
    op.drop_table("pipeline_stage_state")
