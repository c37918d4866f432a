"""console work: applicant search index, follow-ups (Wiedervorlage), absences (issue 17)

case_search_terms: keyed hashes of applicants' name words and birth dates (item 2);
case_follow_ups and clerk_absences (items 4 and 5).

Cases submitted before this revision are found by reference only until
`knopfdruck security reindex-search` has run once (docs/operations.md).

Revision ID: 0011_console_work
Revises: 0010_incidents
Create Date: 2026-12-04 10:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_console_work"
down_revision: str | Sequence[str] | None = "0010_incidents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_search_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "digest", name="uq_case_search_terms"),
    )
    op.create_index("ix_case_search_terms_case_id", "case_search_terms", ["case_id"])
    op.create_index(
        "ix_case_search_terms_department_digest", "case_search_terms", ["department", "digest"]
    )

    op.create_table(
        "case_follow_ups",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("set_by_name", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(
        "ix_case_follow_ups_department_due", "case_follow_ups", ["department", "due_on"]
    )
    op.create_table(
        "clerk_absences",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("clerk", sa.String(length=128), nullable=False),
        sa.Column("clerk_name", sa.String(length=200), nullable=False),
        sa.Column("substitute", sa.String(length=128), nullable=False),
        sa.Column("substitute_name", sa.String(length=200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_clerk_absences_department_substitute", "clerk_absences", ["department", "substitute"]
    )

    # Staff from the directory (SCIM), also those who never logged in (issue 17, item 3).
    with op.batch_alter_table("console_clerks") as batch:
        batch.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("in_directory", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(
            sa.Column("work_mail", sa.String(length=16), nullable=False, server_default="off")
        )
        batch.add_column(sa.Column("work_mail_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("console_clerks") as batch:
        batch.drop_column("work_mail_at")
        batch.drop_column("work_mail")
        batch.drop_column("email")
        batch.drop_column("in_directory")
        batch.drop_column("active")
    op.drop_index("ix_clerk_absences_department_substitute", table_name="clerk_absences")
    op.drop_table("clerk_absences")
    op.drop_index("ix_case_follow_ups_department_due", table_name="case_follow_ups")
    op.drop_table("case_follow_ups")
    op.drop_index("ix_case_search_terms_department_digest", table_name="case_search_terms")
    op.drop_index("ix_case_search_terms_case_id", table_name="case_search_terms")
    op.drop_table("case_search_terms")
