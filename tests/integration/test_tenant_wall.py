"""PostgreSQL's row-level security as a second wall between tenants (issue 13, item 4).

The first wall is the service layer: department keys carry the tenant, so every filter by
department separates towns (test_tenant_cases.py). The second is revision 0021's policy on
cases and drafts: a clerk's request sets its tenant for each transaction, and a query that
forgets every filter still returns nothing of another town. Superusers bypass policies, so the
proof runs the query as an ordinary role, as production runs the platform.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.db import ACTING_TENANT, tenant_wall_value
from tests.conftest import Platform
from tests.integration.enginekit import engine, submit, wait_for_status

PROBE_ROLE = "knopfdruck_wall_probe"


def _probe_role(db: Engine) -> None:
    """An ordinary role that may read every table: what the platform runs as in production."""
    with db.begin() as conn:
        conn.execute(
            text(
                f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PROBE_ROLE}')"
                f" THEN CREATE ROLE {PROBE_ROLE} NOLOGIN; END IF; END $$"
            )
        )
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {PROBE_ROLE}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {PROBE_ROLE}"))


def test_a_clerks_transactions_carry_the_tenant_they_act_for(platform: Platform) -> None:
    assert tenant_wall_value("bergheim.strassenverkehrsamt") == "bergheim"
    assert tenant_wall_value("strassenverkehrsamt") == "-"  # the home tenant
    db = engine(platform)
    if db.dialect.name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's; on SQLite the service layer is the wall")
    token = ACTING_TENANT.set("bergheim")
    try:
        with Session(db) as session:
            setting = session.exec(text("SELECT current_setting('knopfdruck.tenant', true)"))
            assert setting.scalar() == "bergheim"
    finally:
        ACTING_TENANT.reset(token)
    # Set for the transaction only: the pooled connection does not carry it on.
    with Session(db) as session:
        after = session.exec(text("SELECT current_setting('knopfdruck.tenant', true)")).scalar()
        assert after in (None, "")


def test_a_query_that_forgets_its_filter_returns_nothing_of_another_tenant(
    platform: Platform,
) -> None:
    db = engine(platform)
    if db.dialect.name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's; on SQLite the service layer is the wall")
    bergheim_case = submit(platform.api("stefan"), "meldebescheinigung")
    koeln_case = submit(platform.api("erika"), "meldebescheinigung")
    wait_for_status(platform.api("stefan"), bergheim_case, {"notified", "referred", "rejected"})
    _probe_role(db)

    def unfiltered(tenant: str | None) -> dict[str, str | None]:
        """Every case id and tenant the probe role sees, with no WHERE at all."""
        with db.begin() as conn:
            conn.execute(text(f"SET LOCAL ROLE {PROBE_ROLE}"))
            if tenant is not None:
                conn.execute(
                    text("SELECT set_config('knopfdruck.tenant', :t, true)"), {"t": tenant}
                )
            rows = conn.execute(text("SELECT id, tenant FROM cases")).all()
            drafts = conn.execute(text("SELECT DISTINCT tenant FROM applications")).scalars()
            if tenant is not None:
                assert set(drafts) <= ({None} if tenant == "-" else {tenant})
            return {row.id: row.tenant for row in rows}

    bergheim = unfiltered("bergheim")
    assert bergheim_case in bergheim and koeln_case not in bergheim
    assert set(bergheim.values()) == {"bergheim"}
    home = unfiltered("-")
    assert koeln_case in home and bergheim_case not in home
    assert set(home.values()) == {None}
    assert unfiltered("neuenhaus") == {} or set(unfiltered("neuenhaus").values()) == {"neuenhaus"}
    # Outside a clerk's request (workers, citizens) nothing is hidden.
    everyone = unfiltered(None)
    assert bergheim_case in everyone and koeln_case in everyone


LINKED = (
    "case_events", "documents", "issued_notices", "mailbox_messages", "kpi_decisions",
    "payments", "registry_accesses",
)  # fmt: skip
"""Rows that hang off a case: revision 0023's policies follow their case."""


def test_rows_that_hang_off_a_case_follow_its_tenant(platform: Platform) -> None:
    db = engine(platform)
    if db.dialect.name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's; on SQLite the service layer is the wall")
    api = platform.api("stefan")
    bergheim_case = submit(api, "meldebescheinigung")
    wait_for_status(api, bergheim_case, {"notified"}, timeout=60)
    koeln_case = submit(platform.api("erika"), "meldebescheinigung")
    wait_for_status(platform.api("erika"), koeln_case, {"notified"}, timeout=60)
    _probe_role(db)

    with db.begin() as conn:
        drafts = dict(
            conn.execute(
                text("SELECT id, application_id FROM cases WHERE id IN (:b, :k)"),
                {"b": bergheim_case, "k": koeln_case},
            ).all()
        )

    def seen(tenant: str, table: str) -> set[str]:
        """The case ids of a table's rows the probe role sees, without any filter (a registry
        read of a draft counts for the draft's case)."""
        with db.begin() as conn:
            conn.execute(text(f"SET LOCAL ROLE {PROBE_ROLE}"))
            conn.execute(text("SELECT set_config('knopfdruck.tenant', :t, true)"), {"t": tenant})
            if table == "registry_accesses":
                rows = conn.execute(text("SELECT DISTINCT application_id FROM registry_accesses"))
                by_draft = {draft: case for case, draft in drafts.items()}
                return {by_draft[str(r)] for r in rows.scalars() if str(r) in by_draft}
            rows = conn.execute(text(f"SELECT DISTINCT case_id FROM {table}"))
            return {str(row) for row in rows.scalars() if row is not None}

    for table in LINKED:
        bergheim, home = seen("bergheim", table), seen("-", table)
        if table != "payments":  # a Meldebescheinigung costs nothing
            assert bergheim_case in bergheim, table
            assert koeln_case in home, table
        assert koeln_case not in bergheim and bergheim_case not in home, table
