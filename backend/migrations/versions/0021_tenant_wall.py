"""Row-level security on cases and applications: a second wall between tenants (issue 13)

PostgreSQL only (SQLite has no row-level security; there the service layer's department and
tenant filters are the one wall). A clerk's request sets `knopfdruck.tenant` for each of its
transactions (backend/db.py: the tenant id, or '-' for the home tenant, whose rows carry no
tenant); the policy then shows only that tenant's rows, so a query that forgets its filter
returns nothing of another town. Without the setting (workers, citizens' requests, migrations)
every row is visible and the service layer's own filters apply.

FORCE makes the policy bind the tables' owner too. PostgreSQL superusers bypass every policy:
run the platform as an ordinary role that owns the schema (docs/operations.md).

Revision ID: 0021_tenant_wall
Revises: 0020_tenant
Create Date: 2026-12-06 07:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_tenant_wall"
down_revision: str | Sequence[str] | None = "0020_tenant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("cases", "applications")
POLICY = (
    "coalesce(current_setting('knopfdruck.tenant', true), '') = '' "
    "OR coalesce(tenant, '-') = current_setting('knopfdruck.tenant', true)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_wall ON {table} USING ({POLICY}) WITH CHECK ({POLICY})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_wall ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
