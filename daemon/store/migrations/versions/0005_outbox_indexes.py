"""The outbox indexed by (status, time): a claim reads the due rows, not every pending one

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_status")
        batch_op.drop_index("ix_messages_next_attempt_at")
        batch_op.drop_index("ix_messages_send_at")
        batch_op.create_index("ix_messages_status_next_attempt_at", ["status", "next_attempt_at"])
        batch_op.create_index("ix_messages_status_send_at", ["status", "send_at"])


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_status_send_at")
        batch_op.drop_index("ix_messages_status_next_attempt_at")
        batch_op.create_index("ix_messages_send_at", ["send_at"])
        batch_op.create_index("ix_messages_next_attempt_at", ["next_attempt_at"])
        batch_op.create_index("ix_messages_status", ["status"])
