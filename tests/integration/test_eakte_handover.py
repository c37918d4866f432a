"""The E-Akte hand-over (issue 16, item 1): the DBOS schedule of a real worker delivers closed
cases to the sandbox E-Akte over HTTP, which checks them and answers with a 0630; each case
version goes once; failures that persist show in the console; retention waits for the receipt.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.cases import eakte
from backend.cases.xdomea import build_package
from backend.cases.xdomea_check import SUCCESS, parse_acknowledgement
from backend.columns import utcnow
from backend.context import AppContext, build_context
from backend.db import unit_of_work
from backend.records.audit import record_event
from backend.records.models import Case, EAkteHandover, RetentionRecord
from backend.retention import run_retention
from tests.conftest import Platform
from tests.integration.casekit import context_for, own_database, submit_cases
from tests.integration.enginekit import engine, notified_case, wait_until
from tests.integration.test_console_isolation import Browser, console_api
from tests.livesrv import free_port, process_env

SERVICE = "meldebescheinigung"  # retention: 365 days


def _sandbox(platform: Platform) -> str:
    return f"{platform.base_url}/sandbox/eakte/messages"


def _filed(platform: Platform) -> dict[str, dict[str, object]]:
    return {m["process_id"]: m for m in httpx.get(_sandbox(platform)).json()}


@pytest.fixture
def ctx(platform: Platform, database_url: str, tmp_path: Path) -> Iterator[AppContext]:
    with own_database(database_url, tmp_path, "eakte") as url:
        context = context_for(platform, url, tmp_path / "data", eakte_url=_sandbox(platform))
        yield context
        context.close()


def _close(ctx: AppContext, case_id: str, days_ago: int = 0) -> None:
    """Where time would leave a case: closed, its workflow over (no worker ran it here)."""
    ctx.dbos_client.cancel_workflow(f"case-{case_id}")
    with unit_of_work(ctx.engine) as session:
        session.exec(
            update(Case)
            .where(col(Case.id) == case_id)
            .values(status="closed", updated_at=utcnow() - timedelta(days=days_ago))
        )


def _rows(ctx: AppContext) -> list[EAkteHandover]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(EAkteHandover).order_by(col(EAkteHandover.version))).all())


def test_a_worker_schedule_hands_closed_cases_over_once_per_version(
    platform: Platform, ctx: AppContext
) -> None:
    closed, withdrawn, still_open = submit_cases(ctx, SERVICE, [{}] * 3)
    _close(ctx, closed)
    _close(ctx, withdrawn)
    with unit_of_work(ctx.engine) as session:
        session.exec(update(Case).where(col(Case.id) == withdrawn).values(status="withdrawn"))
    ctx.dbos_client.cancel_workflow(f"case-{still_open}")
    with Session(ctx.engine) as session:
        assert sorted(eakte.due_case_ids(session, 10)) == sorted([closed, withdrawn])

    env = process_env(
        KNOPFDRUCK_DATABASE_URL=ctx.settings.database_url,
        KNOPFDRUCK_DATA_DIR=str(ctx.settings.data_dir),
        KNOPFDRUCK_SERVICES_DIR=str(ctx.settings.services_dir),
        KNOPFDRUCK_BASE_URL=platform.base_url,
        KNOPFDRUCK_REGISTRY_BASE_URL=ctx.settings.registry_base_url,
        KNOPFDRUCK_HANDOVER_BASE_URL=ctx.settings.handover_base_url,
        KNOPFDRUCK_EAKTE_URL=_sandbox(platform),
        KNOPFDRUCK_EAKTE_SCHEDULE="* * * * * *",  # every second, so the test sees several runs
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "knopfdruck.cli", "worker", "--concurrency", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def both_filed() -> bool:
            assert worker.poll() is None, worker.stdout.read().decode() if worker.stdout else ""
            rows = _rows(ctx)
            return len(rows) == 2 and all(r.status == "acknowledged" for r in rows)

        wait_until(both_filed, "the schedule to hand over both closed cases", timeout=90)
        time.sleep(4)  # more scheduled runs: nothing is sent again
    finally:
        worker.terminate()
        worker.wait(timeout=60)

    rows = _rows(ctx)
    assert sorted(r.case_id for r in rows) == sorted([closed, withdrawn])
    filed = _filed(platform)
    for row in rows:
        assert filed[row.process_id]["deliveries"] == 1
        assert filed[row.process_id]["case_id"] == row.case_id
        assert row.attempts == 1 and row.ack_codes == SUCCESS
        assert row.ack_xml is not None
        receipt = parse_acknowledgement(row.ack_xml.encode())  # the stored 0630, schema-valid
        assert receipt.process_id == row.process_id and receipt.filed
    with Session(ctx.engine) as session:
        assert eakte.due_case_ids(session, 10) == []
        assert eakte.acknowledged(session, closed)

    # Asked again (a clerk, or another worker): the acknowledged version is not resent.
    again = eakte.hand_over(ctx, closed)
    assert again.status == "acknowledged"
    assert _filed(platform)[again.process_id]["deliveries"] == 1

    # The case changes after filing: a new version, a new message, filed alongside.
    with unit_of_work(ctx.engine) as session:
        record_event(session, closed, "note_added", actor="system", reason="Nachtrag")
    with Session(ctx.engine) as session:
        assert not eakte.acknowledged(session, closed)
        assert eakte.due_case_ids(session, 10) == [closed]
    newer = eakte.hand_over(ctx, closed)
    assert newer.status == "acknowledged" and newer.process_id != again.process_id
    assert len(_rows(ctx)) == 3

    # A lost answer: the same message sent again is recognised by its ProzessID (0000009).
    package = build_package(ctx, closed, created_at=utcnow())
    ack, _raw = eakte.deliver(ctx.settings, package)
    assert ack.codes == ["0000009"] and ack.filed
    assert _filed(platform)[package.process_id]["deliveries"] == 2


def test_a_lasting_failure_shows_in_the_console_and_a_clerk_hands_over_again(
    platform: Platform,
) -> None:
    _api, case_id = notified_case(platform)
    with unit_of_work(engine(platform)) as session:
        session.exec(update(Case).where(col(Case.id) == case_id).values(status="closed"))
    down = f"http://127.0.0.1:{free_port()}/messages"  # nothing listens there
    failing = build_context(
        platform.settings.model_copy(update={"eakte_url": down, "eakte_attempts": 2})
    )
    try:
        first = eakte.hand_over(failing, case_id)
        assert first.status == "pending" and "nicht erreichbar" in (first.error or "")
        with Session(failing.engine) as session:
            assert case_id in eakte.due_case_ids(session, 1000)
        second = eakte.hand_over(failing, case_id)
        assert second.status == "failed"
        with Session(failing.engine) as session:
            assert case_id not in eakte.due_case_ids(session, 1000)  # no endless retries
    finally:
        failing.close()

    clerk = Browser(platform, "clerk-buergeramt")
    page = clerk.get("/console/eakte")
    assert page.status_code == 200
    assert "Fehlgeschlagen, bitte prüfen" in page.text and "nicht erreichbar" in page.text
    listed = console_api(platform, "clerk-buergeramt").get("/eakte").json()
    [row] = [r for r in listed if r["case_id"] == case_id]
    assert row["status"] == "failed" and row["attempts"] == 2
    # Another department sees nothing of it.
    other = console_api(platform, "clerk-ordnungsamt").get("/eakte").json()
    assert case_id not in {r["case_id"] for r in other}

    file = clerk.get(f"/console/cases/{case_id}")
    assert f'action="/console/cases/{case_id}/eakte"' in file.text  # closed: the action is there
    # Without an E-Akte configured, the clerk is told so and nothing changes.
    refused = clerk.post(f"/console/eakte/cases/{case_id}", {})
    assert refused.status_code == 409 and "keine E-Akte angebunden" in refused.text
    no_csrf = clerk.client.post(f"/console/eakte/cases/{case_id}", data={})
    assert no_csrf.status_code in (400, 403)

    # The E-Akte is back: the clerk hands the case over again from the case file.
    settings = platform.settings
    saved = settings.eakte_url
    settings.eakte_url = _sandbox(platform)
    try:
        done = clerk.post(f"/console/cases/{case_id}/eakte", {})
        assert done.status_code == 303, done.text
        assert done.headers["location"] == f"/console/cases/{case_id}?done=eakte_filed"
        api = console_api(platform, "clerk-buergeramt")
        [row] = [r for r in api.get("/eakte").json() if r["case_id"] == case_id]
        assert row["status"] == "acknowledged" and row["attempts"] == 3
        assert _filed(platform)[row["process_id"]]["deliveries"] == 1
        assert api.post(f"/cases/{case_id}/eakte").json()["status"] == "acknowledged"
        foreign = console_api(platform, "clerk-ordnungsamt").post(f"/cases/{case_id}/eakte")
        assert foreign.status_code == 404
    finally:
        settings.eakte_url = saved


def test_retention_waits_for_the_e_akte_and_says_so(platform: Platform, ctx: AppContext) -> None:
    [due] = submit_cases(ctx, SERVICE, [{}])
    _close(ctx, due, days_ago=400)

    env = process_env(
        KNOPFDRUCK_DATABASE_URL=ctx.settings.database_url,
        KNOPFDRUCK_DATA_DIR=str(ctx.settings.data_dir),
        KNOPFDRUCK_SERVICES_DIR=str(ctx.settings.services_dir),
        KNOPFDRUCK_BASE_URL=ctx.settings.base_url,
        KNOPFDRUCK_EAKTE_URL=_sandbox(platform),
    )
    kept = subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", "retention", "run"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert kept.returncode == 0, kept.stderr
    assert "deleted 0 case(s)" in kept.stdout
    assert f"kept 1 due case(s) until the E-Akte acknowledges their xdomea hand-over: {due}" in (
        kept.stdout
    )
    with Session(ctx.engine) as session:
        assert session.get(Case, due) is not None

    assert eakte.hand_over(ctx, due).status == "acknowledged"
    report = run_retention(ctx)
    assert report.case_ids == [due] and report.waiting_for_eakte == [], report
    with Session(ctx.engine) as session:
        assert session.get(Case, due) is None
        assert session.exec(select(RetentionRecord.case_id)).all() == [due]
        # The receipt outlives the case: the proof that the record is in the E-Akte.
        [row] = session.exec(select(EAkteHandover)).all()
        assert row.case_id == due and row.status == "acknowledged"


def test_a_case_that_cannot_be_handed_over_does_not_hold_up_the_others(
    platform: Platform, ctx: AppContext
) -> None:
    broken, fine = submit_cases(ctx, SERVICE, [{}] * 2)
    for case_id in (broken, fine):
        _close(ctx, case_id)
    with unit_of_work(ctx.engine) as session:  # its service definition was removed meanwhile
        session.exec(update(Case).where(col(Case.id) == broken).values(service="entfernt"))
    settings = ctx.settings
    for attempt in range(1, settings.eakte_attempts + 1):
        results = eakte.run_scheduled(ctx)
        assert [r.case_id for r in results if r.status == "acknowledged"] == (
            [fine] if attempt == 1 else []
        )
        [row] = [r for r in _rows(ctx) if r.case_id == broken]
        assert row.attempts == attempt and row.last_error == "Dienstdefinition nicht gefunden"
    assert row.status == "failed"  # shown in the console, no longer retried by the schedule
    with Session(ctx.engine) as session:
        assert eakte.due_case_ids(session, 10) == []
