"""insight: counter applications, and the indexes the console dashboard needs

Revision ID: 0006_insight
Revises: 0005_merge
Create Date: 2026-11-22 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_insight"
down_revision: str | Sequence[str] | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assisted_applications",
        sa.Column("application_id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("clerk_sub", sa.String(length=128), nullable=False),
        sa.Column("citizen_sub", sa.String(length=128), nullable=False),
        sa.Column("citizen_name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("application_id"),
    )
    with op.batch_alter_table("assisted_applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assisted_applications_department"), ["department"], unique=False
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_department_submitted_at", ["department", "submitted_at"], unique=False
        )
        batch_op.create_index(
            "ix_cases_department_decided_at", ["department", "decided_at"], unique=False
        )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index("ix_case_events_type_at", ["type", "at"], unique=False)
        batch_op.create_index("ix_case_events_case_id_type", ["case_id", "type"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index("ix_case_events_case_id_type")
        batch_op.drop_index("ix_case_events_type_at")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_department_decided_at")
        batch_op.drop_index("ix_cases_department_submitted_at")
    with op.batch_alter_table("assisted_applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assisted_applications_department"))
    op.drop_table("assisted_applications")
