"""eakte_handovers: xdomea 0605 hand-overs of closed cases to the E-Akte (issue 16, item 1)

Revision ID: 0013_eakte
Revises: 0012_feedback
Create Date: 2026-12-04 10:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_eakte"
down_revision: str | Sequence[str] | None = "0012_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "eakte_handovers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=24), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("package_sha256", sa.String(length=64), nullable=False),
        sa.Column("package_size", sa.Integer(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("ack_codes", sa.String(length=200), nullable=False),
        sa.Column("ack_note", sa.String(length=500), nullable=False),
        sa.Column("ack_xml", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("process_id"),
        sa.UniqueConstraint("case_id", "version", name="uq_eakte_handovers_case_version"),
    )
    op.create_index("ix_eakte_handovers_case_id", "eakte_handovers", ["case_id"], unique=False)
    op.create_index(
        "ix_eakte_handovers_department_status",
        "eakte_handovers",
        ["department", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_eakte_handovers_department_status", table_name="eakte_handovers")
    op.drop_index("ix_eakte_handovers_case_id", table_name="eakte_handovers")
    op.drop_table("eakte_handovers")
