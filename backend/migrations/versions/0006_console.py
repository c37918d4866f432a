"""console: automation switch history, case assignments, clerks, four-eyes proposals, QA findings

Revision ID: 0006_console
Revises: 0005_merge
Create Date: 2026-11-22 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_console"
down_revision: str | Sequence[str] | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automation_switches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_automation_switches_service_at", "automation_switches", ["service", "at"], unique=False
    )
    op.create_table(
        "case_assignments",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("assignee", sa.String(length=128), nullable=False),
        sa.Column("assignee_name", sa.String(length=200), nullable=False),
        sa.Column("assigned_by", sa.String(length=128), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(
        "ix_case_assignments_department_assignee",
        "case_assignments",
        ["department", "assignee"],
        unique=False,
    )
    op.create_table(
        "console_clerks",
        sa.Column("sub", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sub"),
    )
    op.create_index("ix_console_clerks_department", "console_clerks", ["department"], unique=False)
    op.create_table(
        "pending_decisions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("machine_outcome", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=128), nullable=False),
        sa.Column("proposed_by_name", sa.String(length=200), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("second_by", sa.String(length=128), nullable=True),
        sa.Column("second_reason", sa.Text(), nullable=True),
        sa.Column("second_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_pending_decisions_department_status",
        "pending_decisions",
        ["department", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_pending_decisions_case_id"), "pending_decisions", ["case_id"], unique=False
    )
    op.create_table(
        "qa_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("machine_outcome", sa.String(length=16), nullable=False),
        sa.Column("final_outcome", sa.String(length=16), nullable=False),
        sa.Column("overturned", sa.Boolean(), nullable=False),
        sa.Column("clerk", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", name="uq_qa_reviews_case"),
    )
    op.create_index(
        "ix_qa_reviews_department_service_at",
        "qa_reviews",
        ["department", "service", "at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_qa_reviews_department_service_at", table_name="qa_reviews")
    op.drop_table("qa_reviews")
    op.drop_index(op.f("ix_pending_decisions_case_id"), table_name="pending_decisions")
    op.drop_index("ix_pending_decisions_department_status", table_name="pending_decisions")
    op.drop_table("pending_decisions")
    op.drop_index("ix_console_clerks_department", table_name="console_clerks")
    op.drop_table("console_clerks")
    op.drop_index("ix_case_assignments_department_assignee", table_name="case_assignments")
    op.drop_table("case_assignments")
    op.drop_index("ix_automation_switches_service_at", table_name="automation_switches")
    op.drop_table("automation_switches")
