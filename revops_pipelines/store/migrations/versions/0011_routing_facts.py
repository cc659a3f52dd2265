"""routing_assignment: the facts each live decision used, its routing day, and the SLA re-route
(issue 15 item 8: a simulation replays the recorded facts; issue 14: a re-route takes a turn in
the pool once, so a second SLA pass finds it). Rows routed before this revision keep NULLs: their
facts were never recorded.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = (
    "facts",
    "routing_day",
    "rerouted_to",
    "rerouted_at",
    "reroute_sequence",
    "reroute_reason",
)


def upgrade() -> None:
    with op.batch_alter_table("routing_assignment") as batch:
        batch.add_column(sa.Column("facts", sa.JSON))
        batch.add_column(sa.Column("routing_day", sa.Date))
        batch.add_column(sa.Column("rerouted_to", sa.String(255)))
        batch.add_column(sa.Column("rerouted_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("reroute_sequence", sa.BigInteger))
        batch.add_column(sa.Column("reroute_reason", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("routing_assignment") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
