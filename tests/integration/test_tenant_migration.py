"""A database from before tenancy upgrades in place to one tenant (issue 13, item 7).

Revision 0020 adds `tenant` to cases and applications and rewrites nothing: a row without a
tenant is the home tenant's (Köln here, `home: true` in tenants/koeln/tenant.yaml), so every
case from before keeps running under the same values, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect
from sqlmodel import Session, select

from backend.db import build_engine
from backend.migrate import alembic_config, upgrade_database
from backend.records.models import Application, Case
from tests.conftest import Platform
from tests.integration.casekit import context_for, identity, own_database, submit_cases

BEFORE_TENANCY = "0019_service_designer"


def _columns(url: str, table: str) -> set[str]:
    engine = build_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_a_database_from_before_tenancy_keeps_every_case_with_the_home_tenant(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "pretenancy") as url:
        ctx = context_for(
            platform, url, tmp_path / "data", tenants_dir=platform.settings.tenants_dir
        )
        try:
            (case_id,) = submit_cases(ctx, "anwohnerparkausweis", [{}], who=identity("katrin"))
            with Session(ctx.engine) as session:
                before = session.get(Case, case_id)
                assert before is not None
                snapshot = before.model_dump()
                draft = session.get(Application, before.application_id)
                assert draft is not None
                draft_snapshot = draft.model_dump()
        finally:
            ctx.close()
        # Back to the schema of a platform that never had tenants, with the data in it.
        command.downgrade(alembic_config(url), BEFORE_TENANCY)
        assert "tenant" not in _columns(url, "cases")
        assert "tenant" not in _columns(url, "applications")

        upgrade_database(url)
        assert "tenant" in _columns(url, "cases") and "tenant" in _columns(url, "applications")
        ctx = context_for(
            platform, url, tmp_path / "data", tenants_dir=platform.settings.tenants_dir
        )
        try:
            with Session(ctx.engine) as session:
                after = session.get(Case, case_id)
                assert after is not None
                assert after.model_dump() == snapshot  # nothing lost, nothing rewritten
                assert after.tenant is None
                again = session.get(Application, after.application_id)
                assert again is not None and again.model_dump() == draft_snapshot
                assert session.exec(select(Case)).all() == [after]
            # A row without a tenant is the home tenant's: Köln's activation decides it.
            definition = ctx.case_definition(after)
            home = ctx.tenancy.home
            assert home is not None and home.id == "koeln"
            assert definition == ctx.tenancy.catalogue_of("koeln").get(
                "anwohnerparkausweis", after.service_version
            )
            assert definition.department == "strassenverkehrsamt"  # the clerks of before
        finally:
            ctx.close()
