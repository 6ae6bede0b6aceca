"""occurrences.owed_from (a duty added mid-year owes from that day) and .lead (who leads it)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owed_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("lead", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_column("lead")
        batch_op.drop_column("owed_from")
