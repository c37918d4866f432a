"""cases.tenant and applications.tenant: the authority a case belongs to (issue 13)

Existing rows keep NULL, which means the home tenant (tenants/<id>/tenant.yaml with
`home: true`): a single-authority database becomes that one tenant in place, nothing rewritten.

Plain ALTER TABLE on both databases, no batch copy: SQLite would have to drop and recreate
`cases`, which the rows of case_events, documents and payments refer to.

Revision ID: 0020_tenant
Revises: 0019_service_designer
Create Date: 2026-12-06 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_tenant"
down_revision: str | Sequence[str] | None = "0019_service_designer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("applications", sa.Column("tenant", sa.String(length=40), nullable=True))
    op.add_column("cases", sa.Column("tenant", sa.String(length=40), nullable=True))
    op.create_index("ix_cases_tenant", "cases", ["tenant"])


def downgrade() -> None:
    op.drop_index("ix_cases_tenant", table_name="cases")
    # ALTER TABLE … DROP COLUMN: SQLite has it since 3.35 (Python 3.11 ships a newer one).
    op.execute("ALTER TABLE cases DROP COLUMN tenant")
    op.execute("ALTER TABLE applications DROP COLUMN tenant")
