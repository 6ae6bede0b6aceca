"""workbench: evidence files (blobs, evidence) and calendar feeds

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import daemon.store.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", daemon.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "feeds",
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", daemon.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("person"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("occurrence", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", daemon.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["occurrence"], ["occurrences.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sha256"], ["blobs.sha256"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_occurrence"), ["occurrence"], unique=False)
        batch_op.create_index("ux_evidence_occurrence_sha256", ["occurrence", "sha256"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index("ux_evidence_occurrence_sha256")
        batch_op.drop_index(batch_op.f("ix_evidence_occurrence"))
    op.drop_table("evidence")
    op.drop_table("feeds")
    op.drop_table("blobs")
