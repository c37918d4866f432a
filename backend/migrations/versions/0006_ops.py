"""ops: the retention log (tombstones of deleted cases, hash-chained)

Revision ID: 0006_ops
Revises: 0005_merge
Create Date: 2026-11-22 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_ops"
down_revision: str | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=24), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("service_version", sa.String(length=32), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("chain_head", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("retention_log")
