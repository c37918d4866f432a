"""console_saved_filters: worklist filters a clerk keeps under a name (issue 17, item 2)

Revision ID: 0016_saved_filters
Revises: 0015_kpi_decisions
Create Date: 2026-12-04 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_saved_filters"
down_revision: str | Sequence[str] | None = "0015_kpi_decisions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_saved_filters",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("clerk", sa.String(length=128), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("query", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clerk", "name", name="uq_console_saved_filters_name"),
    )
    op.create_index(
        "ix_console_saved_filters_clerk", "console_saved_filters", ["clerk"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_console_saved_filters_clerk", table_name="console_saved_filters")
    op.drop_table("console_saved_filters")
