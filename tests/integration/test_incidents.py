"""No case stuck where nobody looks (issue 14, item 1): a step that fails for good in a real
worker process becomes an incident of the case's department, a clerk retries it once the cause
is fixed or takes the case over, and the watchdog finds cases that stopped without an error.

Each stage of the workflow fails in turn (decide, payment wait, write-back, notice,
notification, handover), injected in a separate worker process (tests/integration/
faulty_worker.py) on this test's own database, SQLite or PostgreSQL.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlmodel import Session, col, select

from backend.cases import incidents
from backend.columns import utcnow
from backend.console import decisions
from backend.console.worklist import WorklistFilter, worklist
from backend.context import AppContext
from backend.db import unit_of_work
from backend.department.identity import ClerkIdentity
from backend.domain.case_state import CaseStatus
from backend.errors import Conflict, NotFound
from backend.handover.models import Handover
from backend.notifications.models import MailboxMessage
from backend.payments.models import Payment
from backend.payments.provider import local_secret
from backend.records.models import Case, CaseEvent, Document, Incident
from knopfdruck.observability import Observability
from tests.conftest import Platform
from tests.integration.casekit import context_for, own_database, submit_cases
from tests.livesrv import process_env

T = TypeVar("T")
DOG = {"hundename": "Rex", "rasse": "Dackel"}
STREET = {"nutzung": "Umzugswagen vor dem Haus, 8 m", "beginn": "2026-05-02"}


@dataclass(frozen=True)
class Stage:
    name: str
    service: str
    answers: dict[str, Any]
    department: str


STAGES = [
    Stage("decide", "meldebescheinigung", {}, "buergeramt"),
    Stage("payment", "beglaubigung", {"anzahl": 1}, "buergeramt"),
    Stage("writeback", "hundeanmeldung", DOG, "steueramt"),
    Stage("documents", "meldebescheinigung", {}, "buergeramt"),
    Stage("notify", "meldebescheinigung", {}, "buergeramt"),
    Stage("handover", "sondernutzung-extern", STREET, "tiefbauamt"),
]


def clerk_of(department: str) -> ClerkIdentity:
    return ClerkIdentity("clerk-incidents", "Clara Klein", department, ("clerk",))


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.1)


@contextmanager
def faulty_worker(
    platform: Platform, ctx: AppContext, stage: str, fault: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A worker process whose ``stage`` fails while ``fault`` exists."""
    settings = ctx.settings
    env = process_env(
        KNOPFDRUCK_DATABASE_URL=settings.database_url,
        KNOPFDRUCK_DATA_DIR=str(settings.data_dir),
        KNOPFDRUCK_SERVICES_DIR=str(settings.services_dir),
        KNOPFDRUCK_BASE_URL=platform.base_url,
        KNOPFDRUCK_REGISTRY_BASE_URL=settings.registry_base_url,
        KNOPFDRUCK_HANDOVER_BASE_URL=settings.handover_base_url,
        KNOPFDRUCK_HANDOVER_CLIENT_ID=settings.handover_client_id,
        KNOPFDRUCK_HANDOVER_CLIENT_SECRET=settings.handover_client_secret,
        KNOPFDRUCK_HANDOVER_TRUST_ANCHORS=settings.handover_trust_anchors,
        # The platform's sandbox payment provider knows the platform's key, not ours.
        KNOPFDRUCK_PAYMENT_API_KEY=local_secret(platform.settings.data_dir, "payment-api-key"),
        KNOPFDRUCK_TEST_FAULT=stage,
        KNOPFDRUCK_TEST_FAULT_FILE=str(fault),
    )
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.faulty_worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield worker
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()


def open_incident(ctx: AppContext, case_id: str) -> Incident | None:
    with Session(ctx.engine) as session:
        return session.exec(
            select(Incident).where(Incident.case_id == case_id, Incident.status == "open")
        ).first()


def case_row(ctx: AppContext, case_id: str) -> Case:
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def event_types(ctx: AppContext, case_id: str) -> list[str]:
    with Session(ctx.engine) as session:
        return [
            e.type
            for e in session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
            ).all()
        ]


def check_raised(ctx: AppContext, stage: Stage, case_id: str, incident: Incident) -> None:
    """What the department, the citizen, the audit trail and the metrics see of one incident."""
    assert incident.stage == stage.name
    assert incident.raised_by == "engine"
    # The technical reason, stored even with the lone surrogate the fault carried.
    assert "InjectedFault" in incident.reason and "\\ud800" in incident.reason
    case = case_row(ctx, case_id)
    assert case.waiting_for == incidents.PERSON_TAKES_OVER
    assert "incident_raised" in event_types(ctx, case_id)
    with Session(ctx.engine) as session:
        [message] = session.exec(
            select(MailboxMessage).where(
                MailboxMessage.case_id == case_id, MailboxMessage.kind == "incident"
            )
        ).all()
        page = worklist(session, clerk_of(stage.department), WorklistFilter(reason="incident"))
        elsewhere = worklist(session, clerk_of("ordnungsamt"), WorklistFilter(reason="incident"))
        counts = incidents.open_counts(session, stage.department)
    # The citizen learns that a person takes over, never the technical reason.
    assert "Person" in message.subject_de and "member of staff" in message.body_en
    for text in (message.subject_de, message.body_de, message.subject_en, message.body_en):
        assert "InjectedFault" not in text and "Bello" not in text
    [item] = [i for i in page.items if i.case_id == case_id]
    assert "incident" in item.reasons
    assert all(i.case_id != case_id for i in elsewhere.items)
    assert counts.get(stage.service, 0) >= 1
    metrics = Observability(ctx.engine).exposition().decode()
    assert (
        f'knopfdruck_incidents_open{{service="{stage.service}",stage="{stage.name}"}} 1.0'
        in metrics
    )


def check_completed(ctx: AppContext, platform: Platform, stage: Stage, case_id: str) -> None:
    """After the retry the case went on from where it stopped, nothing done twice."""
    if stage.name == "payment":
        with Session(ctx.engine) as session:
            payment = session.exec(select(Payment).where(Payment.case_id == case_id)).one()
        assert payment.status == "open" and payment.provider_ref is not None
        assert case_row(ctx, case_id).status == CaseStatus.AWAITING_PAYMENT
        return
    if stage.name == "handover":
        with Session(ctx.engine) as session:
            handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
        assert handover.status == "delivered"
        return
    wait_for(
        lambda: case_row(ctx, case_id).status == CaseStatus.NOTIFIED,
        f"case notified after the retry of {stage.name}",
    )
    with Session(ctx.engine) as session:
        documents = session.exec(select(Document).where(Document.case_id == case_id)).all()
    assert documents, "the notice exists"
    assert event_types(ctx, case_id).count("case_decided") == 1
    assert event_types(ctx, case_id).count("citizen_notified") == 1
    if stage.name == "writeback":
        entries = httpx.get(
            f"{platform.settings.registry_base_url}/hundesteuerregister/v1/_eintraege"
        ).json()["eintraege"]
        assert [e["case_id"] for e in entries].count(case_id) == 1


@pytest.mark.parametrize("stage", STAGES, ids=[s.name for s in STAGES])
def test_a_step_that_fails_for_good_becomes_an_incident_and_a_clerk_retries_it(
    platform: Platform, database_url: str, tmp_path: Path, stage: Stage
) -> None:
    fault = tmp_path / "fault"
    fault.touch()
    with own_database(database_url, tmp_path, f"incident_{stage.name}") as url:
        ctx = context_for(platform, url, tmp_path)
        log = tmp_path / "worker.log"
        try:
            with faulty_worker(platform, ctx, stage.name, fault, log) as worker:
                [case_id] = submit_cases(ctx, stage.service, [stage.answers])
                try:
                    incident = wait_for(
                        lambda: open_incident(ctx, case_id), f"incident at {stage.name}", 90
                    )
                except AssertionError:
                    raise AssertionError(log.read_text(errors="replace")[-3000:]) from None
                check_raised(ctx, stage, case_id, incident)

                # Another department neither sees nor retries it.
                with pytest.raises(NotFound):
                    incidents.retry_incident(ctx, clerk_of("ordnungsamt"), incident.id)

                fault.unlink()  # the cause is fixed
                retried = incidents.retry_incident(ctx, clerk_of(stage.department), incident.id)
                assert retried.status == "retrying" and retried.retries == 1
                with pytest.raises(Conflict):
                    incidents.retry_incident(ctx, clerk_of(stage.department), incident.id)

                def resolved() -> Incident | None:
                    with Session(ctx.engine) as session:
                        row = session.get(Incident, incident.id)
                    return row if row is not None and row.status == "resolved" else None

                done = wait_for(resolved, f"retry of {stage.name} resolved", 90)
                assert done.resolution == "retried"
                # The retried decision queues the completion: the worker must still run for it.
                check_completed(ctx, platform, stage, case_id)
                assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
            types = event_types(ctx, case_id)
            assert types.count("incident_raised") == 1
            assert "incident_retried" in types and "incident_resolved" in types
            assert case_row(ctx, case_id).waiting_for != incidents.PERSON_TAKES_OVER
            with Session(ctx.engine) as session:
                assert incidents.open_counts(session) == {}
        finally:
            ctx.close()


def test_a_retry_that_fails_again_opens_a_new_incident_and_a_clerk_decides_by_hand(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    fault = tmp_path / "fault"
    fault.touch()
    with own_database(database_url, tmp_path, "incident_takeover") as url:
        ctx = context_for(platform, url, tmp_path)
        clerk = clerk_of("buergeramt")
        try:
            with faulty_worker(platform, ctx, "decide", fault, tmp_path / "worker.log"):
                [case_id] = submit_cases(ctx, "meldebescheinigung", [{}])
                first = wait_for(lambda: open_incident(ctx, case_id), "first incident", 90)
                incidents.retry_incident(ctx, clerk, first.id)  # the cause is not fixed

                def second() -> Incident | None:
                    found = open_incident(ctx, case_id)
                    return found if found is not None and found.id != first.id else None

                again = wait_for(second, "a new incident after the failed retry", 90)
            with Session(ctx.engine) as session:
                old = session.get(Incident, first.id)
            assert old is not None and old.resolution == "retry_failed"
            assert again.stage == "decide"

            with pytest.raises(Exception, match="Begründung"):
                incidents.take_over(ctx, clerk, again.id, "  ")
            incidents.take_over(ctx, clerk, again.id, "Entscheide von Hand nach Aktenlage.")
            case = case_row(ctx, case_id)
            assert case.status == CaseStatus.REFERRED
            result = decisions.decide_case(
                ctx, clerk, case_id, "approved", "Voraussetzungen geprüft, bewilligt."
            )
            assert result.status in (CaseStatus.DECIDED, CaseStatus.NOTIFIED)
            with Session(ctx.engine) as session:
                taken = session.get(Incident, again.id)
                assert incidents.open_counts(session) == {}
            assert taken is not None and taken.resolution == "taken_over"
            assert taken.resolved_by == "clerk:clerk-incidents"
        finally:
            ctx.close()


def test_a_paid_case_whose_notice_fails_is_taken_over_and_never_charged_twice(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    """The first case the probe found: paid, the notice step failed five times, and the case
    stayed 'awaiting payment' with no task for anyone."""
    fault = tmp_path / "fault"
    fault.touch()
    with own_database(database_url, tmp_path, "incident_paid") as url:
        ctx = context_for(platform, url, tmp_path)
        clerk = clerk_of("buergeramt")
        try:
            with faulty_worker(platform, ctx, "documents", fault, tmp_path / "worker.log"):
                [case_id] = submit_cases(ctx, "beglaubigung", [{"anzahl": 2}])

                def opened() -> Payment | None:
                    with Session(ctx.engine) as session:
                        row = session.exec(
                            select(Payment).where(Payment.case_id == case_id)
                        ).first()
                    return row if row is not None and row.provider_ref else None

                payment = wait_for(opened, "payment opened")
                from backend.payments.service import record_paid

                with unit_of_work(ctx.engine) as session:
                    fresh = session.get(Payment, payment.id)
                    assert fresh is not None
                    record_paid(ctx, session, fresh, paid_at=None, source="test")
                incident = wait_for(lambda: open_incident(ctx, case_id), "incident", 90)
            assert incident.stage == "documents"
            assert incident.case_status == CaseStatus.AWAITING_PAYMENT
            incidents.take_over(ctx, clerk, incident.id, "Bescheid wird von Hand erstellt.")
            assert case_row(ctx, case_id).status == CaseStatus.REFERRED
            result = decisions.decide_case(ctx, clerk, case_id, "approved", "Gebühr ist bezahlt.")
            assert result.status in (CaseStatus.DECIDED, CaseStatus.NOTIFIED)
            with Session(ctx.engine) as session:
                payments = session.exec(select(Payment).where(Payment.case_id == case_id)).all()
            assert [p.status for p in payments] == ["paid"]
        finally:
            ctx.close()


def test_the_watchdog_refers_cases_that_stopped_without_an_error(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "watchdog") as url:
        ctx = context_for(platform, url, tmp_path)
        try:
            # No worker runs here: the cases stay where intake left them.
            stuck, waiting, fresh = submit_cases(ctx, "meldebescheinigung", [{}, {}, {}])
            [unpaid] = submit_cases(ctx, "beglaubigung", [{"anzahl": 1}])
            long_ago = utcnow() - timedelta(minutes=61)
            with unit_of_work(ctx.engine) as session:
                for case_id, status in (
                    (stuck, CaseStatus.PROCESSING),
                    (waiting, CaseStatus.REFERRED),
                    (unpaid, CaseStatus.AWAITING_PAYMENT),
                ):
                    case = session.get(Case, case_id)
                    assert case is not None
                    case.status = status
                    case.updated_at = long_ago
                    session.add(case)
            now = utcnow()
            raised = incidents.sweep_overdue(ctx, now)
            assert len(raised) == 1
            with Session(ctx.engine) as session:
                row = session.get(Incident, raised[0])
            assert row is not None and row.case_id == stuck
            assert row.stage == "overdue" and row.raised_by == "watchdog"
            assert row.workflow == "process" and "60 Minuten" in row.reason
            # Run again (or on a second worker at once): no second incident.
            assert incidents.sweep_overdue(ctx, now) == []
            # Within the limit nothing is raised; a paid fee that stopped moving is.
            assert fresh not in [r for r in incidents.sweep_overdue(ctx, now)]
            with unit_of_work(ctx.engine) as session:
                session.add(
                    Payment(
                        case_id=unpaid,
                        provider="sandbox",
                        amount="10.00",
                        currency="EUR",
                        items=[],
                        status="paid",
                        remind_at=now,
                        due_at=now,
                    )
                )
                case = session.get(Case, unpaid)
                assert case is not None
                case.updated_at = long_ago
                session.add(case)
            [paid] = incidents.sweep_overdue(ctx, now)
            with Session(ctx.engine) as session:
                row = session.get(Incident, paid)
            assert row is not None and row.case_id == unpaid and row.workflow == "complete"
        finally:
            ctx.close()


def test_the_watchdog_runs_every_minute_as_a_durable_schedule(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    from backend.cases.processing import register_engine_queues
    from backend.engine import WATCHDOG_WORKFLOW

    with own_database(database_url, tmp_path, "watchdog_schedule") as url:
        ctx = context_for(platform, url, tmp_path)
        try:
            register_engine_queues(ctx.dbos_client)
            schedules = {s["schedule_name"]: s for s in ctx.dbos_client.list_schedules()}
            assert schedules[WATCHDOG_WORKFLOW]["schedule"] == "0 * * * * *"
            assert schedules[WATCHDOG_WORKFLOW]["workflow_name"] == WATCHDOG_WORKFLOW
        finally:
            ctx.close()
