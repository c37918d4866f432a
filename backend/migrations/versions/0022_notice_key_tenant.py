"""notice_keys.tenant: each tenant signs its notices with its own key (issue 13, item 5)

Existing keys keep NULL: the home tenant's (the platform's key from before tenancy).

Revision ID: 0022_notice_key_tenant
Revises: 0021_tenant_wall
Create Date: 2026-12-06 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_notice_key_tenant"
down_revision: str | Sequence[str] | None = "0021_tenant_wall"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notice_keys", sa.Column("tenant", sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE notice_keys DROP COLUMN tenant")
