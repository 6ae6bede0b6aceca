"""The organisation: occurrences.branch; several titled events a day; per-person progress

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("branch", sa.String(length=64), nullable=True))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("title", sa.String(length=100), nullable=True))
        batch_op.drop_index("ux_events_obligation_on")
        batch_op.create_index("ux_events_obligation_on_seq", ["obligation", "on", "seq"], unique=True)
    with op.batch_alter_table("progress", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("period", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("progress", schema=None) as batch_op:
        batch_op.drop_column("period")
        batch_op.drop_column("person")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ux_events_obligation_on_seq")
        batch_op.create_index("ux_events_obligation_on", ["obligation", "on"], unique=True)
        batch_op.drop_column("title")
        batch_op.drop_column("seq")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_column("branch")
