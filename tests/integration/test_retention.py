"""Retention: cases past their service's period are deleted with everything attached, a
tombstone without content is kept, and `knopfdruck audit verify` still verifies."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.notifications.models import MailboxMessage
from backend.records.audit import verify_all_chains
from backend.records.models import (
    Application,
    Case,
    CaseEvent,
    Document,
    RegistryAccess,
    RetentionRecord,
)
from backend.retention import run_retention
from tests.conftest import Platform
from tests.integration.casekit import context_for, identity, own_database, submit_cases
from tests.livesrv import process_env

SERVICE = "meldebescheinigung"  # retention: 365 days
LONG_KEPT = "hundeanmeldung"  # retention: 3650 days


@pytest.fixture
def ctx(platform: Platform, database_url: str, tmp_path: Path) -> Iterator[AppContext]:
    with own_database(database_url, tmp_path, "retention") as url:
        context = context_for(platform, url, tmp_path / "data")
        yield context
        context.close()


def _age(ctx: AppContext, case_id: str, status: str, days: int) -> None:
    """Put a case where time would have left it: closed (or not) ``days`` ago, its workflow
    finished (cancelled here, since no worker runs in this test)."""
    ctx.dbos_client.cancel_workflow(f"case-{case_id}")
    with unit_of_work(ctx.engine) as session:
        session.exec(
            update(Case)
            .where(col(Case.id) == case_id)
            .values(status=status, updated_at=utcnow() - timedelta(days=days))
        )
        session.add(
            Document(
                case_id=case_id,
                definition_id="bescheinigung",
                kind="certificate",
                title="Meldebescheinigung",
                filename="meldebescheinigung.pdf",
                sha256="0" * 64,
                size=4,
                content=b"%PDF",
            )
        )


def _cli(ctx: AppContext, *args: str) -> subprocess.CompletedProcess[str]:
    env = process_env(
        KNOPFDRUCK_DATABASE_URL=ctx.settings.database_url,
        KNOPFDRUCK_DATA_DIR=str(ctx.settings.data_dir),
        KNOPFDRUCK_SERVICES_DIR=str(ctx.settings.services_dir),
        KNOPFDRUCK_BASE_URL=ctx.settings.base_url,
    )
    return subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_retention_deletes_due_cases_only_and_keeps_the_audit_verifiable(
    ctx: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    due, recent, still_open, withdrawn = submit_cases(ctx, SERVICE, [{}] * 4)
    [long_kept] = submit_cases(ctx, LONG_KEPT, [{"hundename": "Bello", "rasse": "Labrador"}])
    _age(ctx, due, "closed", 400)
    _age(ctx, recent, "closed", 100)
    _age(ctx, still_open, "decided", 400)  # objection period running: not closed
    _age(ctx, withdrawn, "withdrawn", 366)
    _age(ctx, long_kept, "closed", 400)
    with Session(ctx.engine) as session:
        applications = {c.id: c.application_id for c in session.exec(select(Case)).all()}
        heads = {
            cid: session.exec(
                select(CaseEvent.hash)
                .where(col(CaseEvent.case_id) == cid)
                .order_by(col(CaseEvent.seq).desc())
            ).first()
            for cid in (due, withdrawn)
        }
        accesses_before = session.exec(select(func.count()).select_from(RegistryAccess)).one()

    dry = _cli(ctx, "retention", "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"{SERVICE}: would delete 2 case(s)" in dry.stdout
    with Session(ctx.engine) as session:
        assert session.exec(select(func.count()).select_from(Case)).one() == 5

    caplog.set_level(logging.INFO, logger="knopfdruck.retention")
    report = run_retention(ctx)
    assert sorted(report.case_ids) == sorted([due, withdrawn])
    assert report.documents == 2

    with Session(ctx.engine) as session:
        left = set(session.exec(select(Case.id)).all())
        assert left == {recent, still_open, long_kept}
        for gone in (due, withdrawn):
            assert session.get(Application, applications[gone]) is None
            for table in (CaseEvent, Document, MailboxMessage):
                assert (
                    session.exec(select(func.count()).where(col(table.case_id) == gone)).one() == 0
                )
        for kept in left:
            assert session.get(Application, applications[kept]) is not None
        # The data cockpit protocol (§ 10 OZG) is a record of its own and stays.
        assert session.exec(select(func.count()).select_from(RegistryAccess)).one() == (
            accesses_before
        )
        records = session.exec(select(RetentionRecord).order_by(col(RetentionRecord.seq))).all()
        assert [r.seq for r in records] == [1, 2]
        assert {r.case_id: r.chain_head for r in records} == heads
        assert all(r.retention_days == 365 and "DSGVO" in r.legal_basis for r in records)
        assert all(r.ok for r in verify_all_chains(session))
    # Ids and counts in the log, never content.
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert due in logged and "Mustermann" not in logged and "Erika" not in logged
    assert [
        wf
        for wf in ctx.dbos_client.list_workflows(workflow_id_prefix=f"case-{due}", load_input=False)
    ] == []

    verified = _cli(ctx, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "3 case(s) checked" in verified.stdout
    assert "retention log: 2 deletion(s), chain intact" in verified.stdout
    about = _cli(ctx, "audit", "verify", "--case", due)
    assert about.returncode == 0, about.stderr
    assert f"case {due} was deleted on" in about.stdout and heads[due] in about.stdout  # type: ignore[operator]

    # A second run finds nothing; the schedule may run on every worker.
    assert run_retention(ctx).cases == 0

    # Removing or altering a tombstone shows.
    with unit_of_work(ctx.engine) as session:
        session.exec(update(RetentionRecord).where(col(RetentionRecord.seq) == 1).values(events=0))
    tampered = _cli(ctx, "audit", "verify")
    assert tampered.returncode == 1
    assert "retention log: chain broken at record 1: content altered" in tampered.stderr


def test_a_citizen_keeps_nothing_else_of_a_deleted_case(ctx: AppContext) -> None:
    """The citizen's own views no longer list the case; other citizens' cases are untouched."""
    erika = identity("erika")
    [mine] = submit_cases(ctx, SERVICE, [{}], erika)
    _age(ctx, mine, "closed", 500)
    assert run_retention(ctx, dry_run=True).case_ids == [mine]
    assert run_retention(ctx).case_ids == [mine]
    with Session(ctx.engine) as session:
        assert (
            session.exec(select(func.count()).where(col(Case.citizen_sub) == erika.sub)).one() == 0
        )


def test_each_town_keeps_its_cases_for_its_own_period(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    """Bergheim keeps certificate cases 180 days, Köln (the home tenant) the template's 365."""
    from backend.retention import due_cases

    with own_database(database_url, tmp_path, "retention_tenants") as url:
        context = context_for(
            platform, url, tmp_path / "data", tenants_dir=platform.settings.tenants_dir
        )
        try:
            (bergheim,) = submit_cases(context, SERVICE, [{}], who=identity("stefan"))
            (koeln,) = submit_cases(context, SERVICE, [{}], who=identity("erika"))
            with Session(context.engine) as session:
                tenants = {c.id: c.tenant for c in session.exec(select(Case)).all()}
            assert tenants == {bergheim: "bergheim", koeln: None}
            for case_id in (bergheim, koeln):
                _age(context, case_id, "closed", 200)
            with Session(context.engine) as session:
                due = [c.id for c in due_cases(context, session, utcnow(), 100)]
            assert due == [bergheim]
        finally:
            context.close()
