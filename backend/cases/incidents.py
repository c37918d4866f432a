"""Incidents: a case that stopped moving goes to a person, never waits where nobody looks.

Two sources raise one: a workflow step that failed for good (its retries exhausted, or an error
no retry can fix) and the watchdog, which finds cases in a machine state longer than their
service allows (``automation.processing_limit_minutes``, default 60). Either way, in one
transaction: an ``incidents`` row with the technical reason (for the department's clerks and
operators only), ``waiting_for`` on the case, an audit event, and a plain mailbox message that
a person is taking over (never the technical reason: it may name internals or the citizen's own
values).

The clerk then either retries (the same workflow runs again under a new id; every step is
idempotent and guarded by the case's state, so what was done is not done twice) or takes the
case over (a case not yet decided is referred to the clerk, who decides it by hand).

Which states count as "the machine is working" for the watchdog, and which do not:
- submitted, processing (not handed over), decided (a notification is seconds away), and
  awaiting_payment once the fee is paid: all should move within seconds;
- awaiting_payment with an open fee waits for the citizen, referred/in_review/awaiting_citizen
  are already with a person, and a case delivered to a Fachverfahren is decided there.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dbos import EnqueueOptions
from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from backend.cases.lifecycle import CaseChanged, load_case, message_facts, move_case
from backend.columns import aware, utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.department.access import department_case
from backend.department.identity import ClerkIdentity, Permission
from backend.department.reasons import required_reason
from backend.domain.case_state import Actor, CaseStatus
from backend.errors import Conflict
from backend.handover.models import Handover
from backend.notifications.messages import incident_taken_over
from backend.notifications.service import post_message
from backend.payments.models import Payment
from backend.records.audit import record_event
from backend.records.models import Case, Incident

log = logging.getLogger("knopfdruck.incidents")

STAGES = ("decide", "payment", "writeback", "documents", "notify", "handover", "overdue")
WORKFLOWS = ("process", "complete", "payment")
PERSON_TAKES_OVER = "Sachbearbeitung: technische Störung, eine Person übernimmt"
"""What the case waits for while an incident is open (the citizen's status page shows it)."""
DEFAULT_LIMIT_MINUTES = 60
WATCHDOG_BATCH = 200
"""At most this many incidents per watchdog run, so one run stays a short transaction."""
_MAX_REASON = 2000
_CONTROL = {"Cc", "Cs", "Co", "Cn"}


def clean_reason(text: str) -> str:
    """A technical reason that any database stores: no lone surrogates, no control characters."""
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8")
    kept = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) not in _CONTROL else f"\\x{ord(ch):02x}"
        for ch in safe
    )
    return kept[:_MAX_REASON]


def describe_failure(exc: BaseException) -> str:
    """The failing step and its last error, as an operator needs it (type and message)."""
    errors = getattr(exc, "errors", None)
    step = getattr(exc, "step_name", None)
    last = errors[-1] if isinstance(errors, list) and errors else None
    if step and isinstance(last, BaseException):
        return clean_reason(f"{step}: {type(last).__name__}: {last}")
    return clean_reason(f"{type(exc).__name__}: {exc}")


def raise_incident(
    ctx: AppContext,
    case_id: str,
    *,
    stage: str,
    workflow: str,
    reason: str,
    key: str,
    raised_by: str = "engine",
) -> str | None:
    """Open the incident once per ``key``; returns its id (None when the case is gone)."""
    with unit_of_work(ctx.engine) as session:
        existing = session.exec(select(Incident).where(Incident.key == key)).first()
        if existing is not None:
            return existing.id
        case = session.get(Case, case_id)
        if case is None:
            return None
        # A retry that failed again: that attempt is over, the new incident carries on.
        session.execute(
            update(Incident)
            .where(col(Incident.case_id) == case_id, col(Incident.status) == "retrying")
            .values(status="resolved", resolution="retry_failed", resolved_at=utcnow())
        )
        incident = Incident(
            key=key,
            case_id=case_id,
            service=case.service,
            department=case.department,
            stage=stage,
            workflow=workflow,
            case_status=str(case.status),
            reason=clean_reason(reason),
            raised_by=raised_by,
        )
        session.add(incident)
        session.flush()
        case.waiting_for = PERSON_TAKES_OVER
        case.updated_at = utcnow()
        session.add(case)
        record_event(
            session,
            case_id,
            "incident_raised",
            actor=Actor.system().label,
            reason=f"Störung im Schritt {stage}; an die Sachbearbeitung übergeben",
            payload={"incident": incident.id, "stage": stage, "raised_by": raised_by},
            idempotency_key=f"incident:{incident.id}",
        )
        post_message(
            ctx,
            session,
            case,
            f"incident:{incident.id}",
            incident_taken_over(message_facts(ctx, session, case)),
        )
        # The case id and the stage only: the reason may carry the citizen's values.
        log.warning("incident %s: case %s stopped at %s", incident.id, case_id, stage)
        return incident.id


def settle_retried(ctx: AppContext, case_id: str) -> int:
    """A retried workflow ran through: its incident is resolved and the case waits no more."""
    with unit_of_work(ctx.engine) as session:
        rows = session.exec(
            select(Incident).where(Incident.case_id == case_id, Incident.status == "retrying")
        ).all()
        for row in rows:
            row.status = "resolved"
            row.resolution = "retried"
            row.resolved_at = utcnow()
            session.add(row)
            record_event(
                session,
                case_id,
                "incident_resolved",
                actor=Actor.system().label,
                payload={"incident": row.id, "resolution": "retried"},
                idempotency_key=f"incident:{row.id}:resolved",
            )
        if rows:
            case = session.get(Case, case_id)
            if case is not None and case.waiting_for == PERSON_TAKES_OVER:
                case.waiting_for = None
                session.add(case)
        return len(rows)


# --- the clerk's two ways out ----------------------------------------------------------------


def _open_incident(session: Session, clerk: ClerkIdentity, incident_id: str) -> Incident:
    incident = session.get(Incident, incident_id) if len(incident_id) <= 32 else None
    if incident is None:
        # Same answer as for another department's incident: its existence is not disclosed.
        department_case(session, clerk, "")
        raise AssertionError("unreachable")
    department_case(session, clerk, incident.case_id)
    if incident.status != "open":
        raise Conflict("Diese Störung ist nicht mehr offen. (This incident is no longer open.)")
    return incident


def retry_workflow_id(incident: Incident) -> str:
    """A fresh id per retry: the failed run keeps its own record, the retry gets its own."""
    run = f"{incident.id[:12]}-{incident.retries}"
    return f"case-{incident.case_id}-{incident.workflow}-retry-{run}"


def _retry_options(incident: Incident, case: Case) -> EnqueueOptions:
    from backend.engine import (
        APP_VERSION,
        COMPLETE_WORKFLOW,
        DOCUMENTS_QUEUE,
        PAYMENT_QUEUE,
        PAYMENT_WORKFLOW,
        QUEUE,
        WORKFLOW,
    )

    workflow_id = retry_workflow_id(incident)
    if incident.workflow == "complete":
        return {
            "queue_name": DOCUMENTS_QUEUE,
            "workflow_name": COMPLETE_WORKFLOW,
            "workflow_id": workflow_id,
            "app_version": APP_VERSION,
        }
    if incident.workflow == "payment":
        return {
            "queue_name": PAYMENT_QUEUE,
            "workflow_name": PAYMENT_WORKFLOW,
            "workflow_id": workflow_id,
            "app_version": APP_VERSION,
        }
    return {
        "queue_name": QUEUE,
        "workflow_name": WORKFLOW,
        "workflow_id": workflow_id,
        "app_version": APP_VERSION,
        "queue_partition_key": case.service,
    }


def retry_incident(ctx: AppContext, clerk: ClerkIdentity, incident_id: str) -> Incident:
    """Run the failed workflow again once its cause is fixed; it resolves the incident when it
    gets through, or raises a new one when it fails again."""
    clerk.require(Permission.WORK_CASES)
    with unit_of_work(ctx.engine) as session:
        incident = _open_incident(session, clerk, incident_id)
        case = load_case(session, incident.case_id)
        if case.status != incident.case_status and not (
            incident.case_status == CaseStatus.SUBMITTED and case.status == CaseStatus.PROCESSING
        ):
            raise Conflict(
                "Der Antrag hat sich seit der Störung verändert; bitte selbst übernehmen. "
                "(The case changed since the incident; please take it over.)"
            )
        incident.status = "retrying"
        incident.retries += 1
        session.add(incident)
        session.flush()
        ctx.dbos_client.enqueue_in_transaction(session, _retry_options(incident, case), case.id)
        record_event(
            session,
            case.id,
            "incident_retried",
            actor=clerk.actor.label,
            payload={"incident": incident.id, "stage": incident.stage, "run": incident.retries},
            idempotency_key=f"incident:{incident.id}:retry:{incident.retries}",
        )
        session.refresh(incident)
        return incident


TAKE_OVER_STATES = (CaseStatus.SUBMITTED, CaseStatus.PROCESSING, CaseStatus.AWAITING_PAYMENT)
"""Before a decision stands, taking over refers the case to the clerk, who decides by hand."""


def take_over(
    ctx: AppContext, clerk: ClerkIdentity, incident_id: str, note: str | None
) -> Incident:
    """The clerk handles the case by hand: referred when undecided, otherwise done outside
    (the note says how, e.g. the notice was sent by post)."""
    clerk.require(Permission.WORK_CASES)
    text = required_reason(note, "note")
    with unit_of_work(ctx.engine) as session:
        incident = _open_incident(session, clerk, incident_id)
        case = load_case(session, incident.case_id)
        if case.status in TAKE_OVER_STATES:
            payment = session.exec(select(Payment).where(Payment.case_id == case.id)).first()
            if payment is not None and payment.status == "open":
                # The clerk decides afresh; a fee the decision needs is asked for again then.
                payment.status = "cancelled"
                payment.closed_at = utcnow()
                session.add(payment)
            try:
                move_case(
                    ctx,
                    session,
                    case,
                    CaseStatus.REFERRED,
                    actor=clerk.actor,
                    event_type="referred",
                    reason=text,
                    payload={"referral_reasons": ["incident"], "incident": incident.id},
                    idempotency_key=f"incident:{incident.id}:taken_over",
                    waiting_for="Prüfung durch die Sachbearbeitung",
                    decision={
                        **(case.decision or {}),
                        "referral_reasons": ["incident"],
                    },
                )
            except CaseChanged as exc:
                raise Conflict(str(exc)) from exc
        else:
            if case.waiting_for == PERSON_TAKES_OVER:
                case.waiting_for = None
                session.add(case)
        incident.status = "resolved"
        incident.resolution = "taken_over"
        incident.resolved_at = utcnow()
        incident.resolved_by = clerk.actor.label
        incident.note = text
        session.add(incident)
        record_event(
            session,
            case.id,
            "incident_resolved",
            actor=clerk.actor.label,
            reason=text,
            payload={"incident": incident.id, "resolution": "taken_over"},
            idempotency_key=f"incident:{incident.id}:resolved",
        )
        session.refresh(incident)
        return incident


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentView:
    id: str
    case_id: str
    reference: str
    service: str
    stage: str
    case_status: str
    reason: str
    raised_by: str
    raised_at: datetime
    status: str
    retries: int
    resolution: str | None
    resolved_by: str | None
    note: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "reference": self.reference,
            "service": self.service,
            "stage": self.stage,
            "case_status": self.case_status,
            "reason": self.reason,
            "raised_by": self.raised_by,
            "raised_at": self.raised_at.isoformat(),
            "status": self.status,
            "retries": self.retries,
            "resolution": self.resolution,
            "resolved_by": self.resolved_by,
            "note": self.note,
        }


def _view(incident: Incident, reference: str) -> IncidentView:
    return IncidentView(
        id=incident.id,
        case_id=incident.case_id,
        reference=reference,
        service=incident.service,
        stage=incident.stage,
        case_status=incident.case_status,
        reason=incident.reason,
        raised_by=incident.raised_by,
        raised_at=aware(incident.raised_at),
        status=incident.status,
        retries=incident.retries,
        resolution=incident.resolution,
        resolved_by=incident.resolved_by,
        note=incident.note,
    )


def department_incidents(
    session: Session, clerk: ClerkIdentity, *, open_only: bool = True, limit: int = 200
) -> list[IncidentView]:
    """The department's incidents, newest first (open and retrying ones by default)."""
    query = (
        select(Incident, Case.reference)
        .join(Case, col(Case.id) == col(Incident.case_id))
        .where(Incident.department == clerk.department)
    )
    if open_only:
        query = query.where(col(Incident.status).in_(["open", "retrying"]))
    rows = session.exec(query.order_by(col(Incident.raised_at).desc()).limit(limit)).all()
    return [_view(incident, reference) for incident, reference in rows]


def case_incidents(session: Session, case_id: str) -> list[IncidentView]:
    """Every incident of one case (the caller has checked the clerk may see the case)."""
    rows = session.exec(
        select(Incident, Case.reference)
        .join(Case, col(Case.id) == col(Incident.case_id))
        .where(Incident.case_id == case_id)
        .order_by(col(Incident.raised_at).desc())
    ).all()
    return [_view(incident, reference) for incident, reference in rows]


def open_counts(session: Session, department: str | None = None) -> dict[str, int]:
    """Open (and retrying) incidents per service: the console overview and /metrics."""
    query = select(Incident.service, func.count()).where(
        col(Incident.status).in_(["open", "retrying"])
    )
    if department is not None:
        query = query.where(Incident.department == department)
    return {str(s): int(n) for s, n in session.exec(query.group_by(Incident.service)).all()}


def has_open_incident() -> Any:
    """SQL: the case has an open incident (the worklist's clause).

    An uncorrelated ``IN``: PostgreSQL hashes the few open incidents once, where a correlated
    ``EXISTS`` inside the worklist's ``OR`` was probed for every case of the department."""
    return col(Case.id).in_(
        select(Incident.case_id).where(col(Incident.status).in_(["open", "retrying"]))
    )


# --- the watchdog ----------------------------------------------------------------------------


def _limit_minutes(ctx: AppContext, service: str) -> int:
    try:
        return int(ctx.catalogue.get(service).automation.processing_limit_minutes)
    except LookupError:
        return DEFAULT_LIMIT_MINUTES


def overdue_cases(ctx: AppContext, now: datetime) -> list[tuple[Case, datetime, int]]:
    """Cases in a machine state for longer than their service allows, with no open incident:
    (case, since when, limit in minutes). Oldest first, at most ``WATCHDOG_BATCH``."""
    shortest = min(
        [DEFAULT_LIMIT_MINUTES]
        + [d.automation.processing_limit_minutes for d in ctx.catalogue.all()]
    )
    horizon = now - timedelta(minutes=shortest)
    handed_over = select(Handover.case_id).where(
        col(Handover.status).in_(["delivered", "accepted", "rejected"])
    )
    paid = select(Payment.case_id).where(Payment.status == "paid")
    open_incident = select(Incident.case_id).where(col(Incident.status).in_(["open", "retrying"]))
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(Case)
            .where(
                col(Case.updated_at) < horizon,
                or_(
                    col(Case.status).in_(
                        [CaseStatus.SUBMITTED, CaseStatus.PROCESSING, CaseStatus.DECIDED]
                    ),
                    and_(
                        col(Case.status) == CaseStatus.AWAITING_PAYMENT,
                        col(Case.id).in_(paid),
                    ),
                ),
                col(Case.id).not_in(handed_over),
                col(Case.id).not_in(open_incident),
            )
            .order_by(col(Case.updated_at))
            .limit(WATCHDOG_BATCH)
        ).all()
    found = []
    for case in rows:
        since = aware(case.updated_at)
        limit = _limit_minutes(ctx, case.service)
        if since < now - timedelta(minutes=limit):
            found.append((case, since, limit))
    return found


_WORKFLOW_OF_STATE = {
    CaseStatus.SUBMITTED: "process",
    CaseStatus.PROCESSING: "process",
    CaseStatus.AWAITING_PAYMENT: "complete",
    CaseStatus.DECIDED: "complete",
}


def sweep_overdue(ctx: AppContext, now: datetime | None = None) -> list[str]:
    """Raise an incident for every overdue case; safe to run on many workers at once."""
    moment = now or utcnow()
    raised = []
    for case, since, limit in overdue_cases(ctx, moment):
        status = CaseStatus(case.status)
        incident = raise_incident(
            ctx,
            case.id,
            stage="overdue",
            workflow=_WORKFLOW_OF_STATE[status],
            reason=(
                f"Seit {since.isoformat(timespec='seconds')} im Zustand {status} "
                f"(erlaubt: {limit} Minuten); kein Bearbeitungsschritt hat ihn weiterbewegt."
            ),
            key=f"overdue:{case.id}:{status}:{since.isoformat()}",
            raised_by="watchdog",
        )
        if incident is not None:
            raised.append(incident)
    return raised
