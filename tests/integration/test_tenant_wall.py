"""PostgreSQL's row-level security as a second wall between tenants (issue 13, item 4).

The first wall is the service layer: department keys carry the tenant, so every filter by
department separates towns (test_tenant_cases.py). The second is revisions 0021 and 0023: a
clerk's request sets its tenant for each transaction, and a query that forgets every filter
still returns nothing of another town, from cases, drafts and the rows hanging off them.

The wall is PostgreSQL's, so these tests always run on a PostgreSQL database of their own: the
suite's on the PostgreSQL pass, the chaos test's server on the SQLite pass (like
test_chaos.py); without PostgreSQL they fail. Superusers bypass policies, so the queries run as
an ordinary role, as production runs the platform.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from backend.db import ACTING_TENANT, build_engine, normalise_url, tenant_wall_value
from tests.integration.casekit import own_database
from tests.integration.test_chaos import CHAOS_POSTGRES

PROBE_ROLE = "knopfdruck_wall_probe"
CASES = {"c-bergheim": "bergheim", "c-koeln": None, "c-neuenhaus": "neuenhaus"}
"""Case id → tenant (None: the home tenant); each case's draft is `a-<case id>`."""


@pytest.fixture(scope="module")
def wall_db(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated PostgreSQL database with three towns' cases, drafts, logs and reads."""
    if database_url.startswith("sqlite"):
        server = os.environ.get("KNOPFDRUCK_CHAOS_DATABASE_URL", CHAOS_POSTGRES)
        # That database may not exist yet: name ours after the server's maintenance database.
        database_url = (
            make_url(normalise_url(server))
            .set(database="postgres")
            .render_as_string(hide_password=False)
        )
    with own_database(database_url, tmp_path_factory.mktemp("wall"), "wall") as url:
        engine = build_engine(url)
        _fill(engine)
        _probe_role(engine)
        yield engine
        engine.dispose()


def _fill(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for case_id, tenant in CASES.items():
            draft = f"a-{case_id}"
            conn.execute(
                text(
                    "INSERT INTO applications (id, service, service_version, citizen_sub, status,"
                    " prefill, answers, disputes, created_at, updated_at, tenant) VALUES (:id,"
                    " 'meldebescheinigung', '1.0.0', :sub, 'submitted', '{}', '{}', '{}', :now,"
                    " :now, :tenant)"
                ),
                {"id": draft, "sub": f"sub-{case_id}", "now": now, "tenant": tenant},
            )
            department = f"{tenant}.buergeramt" if tenant else "buergeramt"
            conn.execute(
                text(
                    "INSERT INTO cases (id, reference, application_id, service, service_version,"
                    " department, citizen_sub, status, reference_date, data, submitted_at,"
                    " updated_at, tenant) VALUES (:id, :ref, :draft, 'meldebescheinigung',"
                    " '1.0.0', :dept, :sub, 'notified', :today, '{}', :now, :now, :tenant)"
                ),
                {
                    "id": case_id, "ref": f"KD-W-{case_id}", "draft": draft, "dept": department,
                    "sub": f"sub-{case_id}", "today": now.date(), "now": now, "tenant": tenant,
                },
            )  # fmt: skip
            conn.execute(
                text(
                    "INSERT INTO case_events (case_id, seq, at, type, actor, payload, prev_hash,"
                    " hash) VALUES (:id, 1, :now, 'submitted', 'citizen', :payload, :zero, :zero)"
                ),
                {"id": case_id, "now": now, "payload": json.dumps({}), "zero": "0" * 64},
            )
            conn.execute(
                text(
                    "INSERT INTO registry_accesses (at, subject_sub, registry_id,"
                    " attributes_requested, attributes_returned, purpose, legal_basis, service,"
                    " application_id, actor, outcome, duration_ms) VALUES (:now, :sub,"
                    " 'melderegister', '[]', '[]', 'p', 'l', 'meldebescheinigung', :draft,"
                    " 'citizen', 'ok', 1)"
                ),
                {"now": now, "sub": f"sub-{case_id}", "draft": draft},
            )


def _probe_role(engine: Engine) -> None:
    """An ordinary role that may read every table: what the platform runs as in production."""
    with engine.begin() as conn:
        conn.execute(
            text(
                # Roles are the cluster's: both CI passes may create it at once.
                f"DO $$ BEGIN CREATE ROLE {PROBE_ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object"
                " OR unique_violation THEN NULL; END $$"
            )
        )
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {PROBE_ROLE}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {PROBE_ROLE}"))


def _seen(engine: Engine, tenant: str | None, query: str) -> set[str]:
    """What the probe role reads with a query that has no WHERE at all."""
    with engine.begin() as conn:
        conn.execute(text(f"SET LOCAL ROLE {PROBE_ROLE}"))
        if tenant is not None:
            conn.execute(text("SELECT set_config('knopfdruck.tenant', :t, true)"), {"t": tenant})
        return {str(value) for value in conn.execute(text(query)).scalars()}


def test_a_clerks_transactions_carry_the_tenant_they_act_for(wall_db: Engine) -> None:
    assert tenant_wall_value("bergheim.strassenverkehrsamt") == "bergheim"
    assert tenant_wall_value("strassenverkehrsamt") == "-"  # the home tenant
    token = ACTING_TENANT.set("bergheim")
    try:
        with Session(wall_db) as session:
            setting = session.exec(text("SELECT current_setting('knopfdruck.tenant', true)"))
            assert setting.scalar() == "bergheim"
    finally:
        ACTING_TENANT.reset(token)
    # Set for the transaction only: the pooled connection does not carry it on.
    with Session(wall_db) as session:
        after = session.exec(text("SELECT current_setting('knopfdruck.tenant', true)")).scalar()
        assert after in (None, "")


def test_a_query_that_forgets_its_filter_returns_nothing_of_another_tenant(
    wall_db: Engine,
) -> None:
    every = set(CASES)
    for query in ("SELECT id FROM cases", "SELECT substr(id, 3) FROM applications"):
        assert _seen(wall_db, "bergheim", query) == {"c-bergheim"}, query
        assert _seen(wall_db, "neuenhaus", query) == {"c-neuenhaus"}, query
        assert _seen(wall_db, "-", query) == {"c-koeln"}, query  # the home tenant's rows
        assert _seen(wall_db, "atlantis", query) == set(), query
        # Outside a clerk's request (workers, citizens) nothing is hidden.
        assert _seen(wall_db, None, query) >= every, query


def test_rows_that_hang_off_a_case_or_draft_follow_its_tenant(wall_db: Engine) -> None:
    by_case = "SELECT case_id FROM case_events"
    by_draft = "SELECT substr(application_id, 3) FROM registry_accesses"
    for query in (by_case, by_draft):
        assert _seen(wall_db, "bergheim", query) == {"c-bergheim"}, query
        assert _seen(wall_db, "-", query) == {"c-koeln"}, query
        assert _seen(wall_db, None, query) >= set(CASES), query


def test_the_wall_binds_the_tables_owner_too(wall_db: Engine) -> None:
    """FORCE: a platform that owns its schema (the production setup) is bound as well."""
    with wall_db.begin() as conn:
        forced = conn.execute(
            text(
                "SELECT relname FROM pg_class WHERE relforcerowsecurity AND relname IN"
                " ('cases', 'applications', 'case_events', 'registry_accesses', 'documents')"
            )
        ).scalars()
        assert set(forced) == {
            "cases", "applications", "case_events", "registry_accesses", "documents"
        }  # fmt: skip
