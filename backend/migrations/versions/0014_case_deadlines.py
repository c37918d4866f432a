"""cases.due_at and cases.clock_paused_at: a target time to decision per case (issue 17, item 4)

Cases submitted before this revision get the platform's former single target (14 calendar
days from submission, ``kpis.DEFAULT_SLA_DAYS``) and, if they wait on the citizen now, a clock
paused since their last change: the migration cannot read service definitions, and these are
the figures the console showed for them until now.

Revision ID: 0014_case_deadlines
Revises: 0013_eakte
Create Date: 2026-12-04 16:10:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0014_case_deadlines"
down_revision: str | Sequence[str] | None = "0013_eakte"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FORMER_TARGET = timedelta(days=14)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("clock_paused_at", sa.DateTime(timezone=True), nullable=True))
    cases = sa.table(
        "cases",
        sa.column("id", sa.String),
        sa.column("status", sa.String),
        sa.column("submitted_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("due_at", sa.DateTime(timezone=True)),
        sa.column("clock_paused_at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(cases.c.id, cases.c.status, cases.c.submitted_at, cases.c.updated_at)
    ).all()
    for case_id, status, submitted_at, updated_at in rows:
        submitted = submitted_at if submitted_at.tzinfo else submitted_at.replace(tzinfo=UTC)
        paused = None
        if status == "awaiting_citizen":
            paused = updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=UTC)
        bind.execute(
            cases.update()
            .where(cases.c.id == case_id)
            .values(due_at=submitted + _FORMER_TARGET, clock_paused_at=paused)
        )


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("clock_paused_at")
        batch.drop_column("due_at")
