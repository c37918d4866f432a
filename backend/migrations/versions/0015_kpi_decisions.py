"""kpi_decisions: the dashboard's precomputed decision facts (issue 17, item 9)

One row per decided case (service, when issued, seconds from submission, automated or not),
written in the transaction of the event that changes it (backend/cases/kpi_facts.py). Rows
for cases decided before this revision are written by ``upgrade_database`` right after the
migrations (``kpi_facts.backfill``): deriving them needs the case-log rules in Python.

Revision ID: 0015_kpi_decisions
Revises: 0014_case_deadlines
Create Date: 2026-12-04 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_kpi_decisions"
down_revision: str | Sequence[str] | None = "0014_case_deadlines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_decisions",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(
        "ix_kpi_decisions_department_issued_at",
        "kpi_decisions",
        ["department", "issued_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_kpi_decisions_department_issued_at", table_name="kpi_decisions")
    op.drop_table("kpi_decisions")
