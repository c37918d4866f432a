"""The second wall for every row that belongs to a case or a draft (issue 13, item 4)

Revision 0021 put row-level security on cases and applications. The rows that hang off them
(case log, documents, payments, mailbox messages, registry reads, tasks, uploads, ...) carry
no tenant column of their own: their policy shows a row when its case or draft is visible
under 0021's policy, so a clerk's query that forgets every filter gets nothing of another town
from any of them. Without the setting (workers, citizens' requests) the first arm is true and
nothing is hidden. PostgreSQL only; not for the bank credits not yet matched to any case (the
cash office's reconciliation sees them all) and the retention tombstones (no personal data).

Revision ID: 0023_tenant_wall_linked
Revises: 0022_notice_key_tenant
Create Date: 2026-12-06 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023_tenant_wall_linked"
down_revision: str | Sequence[str] | None = "0022_notice_key_tenant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "coalesce(current_setting('knopfdruck.tenant', true), '') = ''"
# Correlated, so a clerk's read of a few rows looks up their cases by primary key instead of
# hashing every visible case; {table} is the table the policy is on.
BY_CASE = "EXISTS (SELECT 1 FROM cases c WHERE c.id = {table}.case_id)"
BY_DRAFT = "EXISTS (SELECT 1 FROM applications a WHERE a.id = {table}.application_id)"

POLICIES = {
    "case_assignments": BY_CASE,
    "case_events": BY_CASE,
    "case_follow_ups": BY_CASE,
    "case_search_terms": BY_CASE,
    "case_tasks": BY_CASE,
    "documents": BY_CASE,
    "eakte_handovers": BY_CASE,
    "handovers": BY_CASE,
    "incidents": BY_CASE,
    "issued_notices": BY_CASE,
    "kpi_decisions": BY_CASE,
    "mailbox_messages": BY_CASE,
    "payments": BY_CASE,
    "pending_decisions": BY_CASE,
    "qa_reviews": BY_CASE,
    "draft_progress": BY_DRAFT,
    "assisted_applications": BY_DRAFT,
    "uploads": f"{BY_CASE} OR {BY_DRAFT}",
    "registry_accesses": f"{BY_CASE} OR {BY_DRAFT}",
}
"""Table → how a row finds its case or draft."""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, linked in POLICIES.items():
        rule = f"{OPEN} OR {linked.format(table=table)}"
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_wall ON {table} USING ({rule}) WITH CHECK ({rule})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS tenant_wall ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
