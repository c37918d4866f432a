"""Moving a case along its lifecycle: checked, compare-and-set, logged, and told to the citizen.

Every status change goes through ``move_case``: the pure state machine approves the edge for
the actor, one UPDATE ... WHERE status = <what we read> changes the row (so a worker and a
citizen acting at the same moment cannot both win), the move is appended to the hash-chained
case log, and a citizen-relevant move puts a message in the mailbox. All in the caller's
transaction.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.cases.deadlines import clock_fields
from backend.columns import aware, utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.documents.render import local_date
from backend.domain.case_state import (
    CITIZEN_RELEVANT,
    Actor,
    CaseStatus,
    InvalidTransition,
    StatusChange,
)
from backend.domain.deadlines import objection_deadline
from backend.domain.remedy import remedy_for
from backend.errors import Conflict, NotFound
from backend.notifications.messages import Bilingual, MessageFacts, MessageText, status_changed
from backend.notifications.service import post_message
from backend.payments.models import Payment
from backend.records.audit import record_event
from backend.records.models import Case, CaseEvent


class CaseChanged(Conflict):
    """Someone else moved the case between our read and our write."""


_CHANGED = (
    "Ihr Vorgang hat sich gerade geändert. Bitte laden Sie die Seite neu. "
    "(The case has just changed; reload the page.)"
)


def load_case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise LookupError(f"case {case_id} vanished")
    return case


def decided_on(case: Case) -> date | None:
    """The German calendar day the decision was issued (sent to the mailbox)."""
    return local_date(aware(case.decided_at)) if case.decided_at else None


def deadline_for(ctx: AppContext, case: Case) -> date | None:
    """Last day to object (§ 70 VwGO), or None while nothing is decided."""
    sent = decided_on(case)
    if sent is None:
        return None
    return objection_deadline(
        sent,
        deemed_delivery_days=ctx.settings.notice_deemed_delivery_days,
        region=ctx.settings.holiday_region,
    )


def clerk_decided(session: Session, case_id: str) -> bool:
    """Whether a person decided the case (console), even if the platform completed it later,
    e.g. after the fee was paid."""
    event = session.exec(
        select(CaseEvent.id).where(CaseEvent.case_id == case_id, CaseEvent.type == "clerk_decision")
    ).first()
    return event is not None


def decided_automatically(session: Session, case_id: str) -> bool:
    """Whether the machine issued the standing decision (what GDPR Art. 22(3) is about)."""
    event = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.type == "case_decided")
        .order_by(col(CaseEvent.seq).desc())
    ).first()
    return (
        event is not None
        and event.actor == Actor.system().label
        and not clerk_decided(session, case_id)
    )


def _reasons_without_document(ctx: AppContext, case: Case) -> Bilingual | None:
    """A decided outcome for which the service issues no document (e.g. a Meldebescheinigung
    refused for a person the register does not know): its reasons go into the message."""
    if case.outcome not in ("approved", "rejected"):
        return None
    try:
        definition = ctx.case_definition(case)
    except NotFound:
        return None
    if any(case.outcome in d.on for d in definition.documents):
        return None
    reasons = [r.get("text") or {} for r in (case.decision or {}).get("reasons") or []]
    wanted = "approve" if case.outcome == "approved" else "reject"
    chosen = [
        t
        for t, r in zip(reasons, (case.decision or {}).get("reasons") or [], strict=True)
        if r.get("outcome_effect") == wanted
    ] or reasons
    if not chosen:
        return None
    return Bilingual(
        " ".join(str(t.get("de", "")) for t in chosen),
        " ".join(str(t.get("en") or t.get("de", "")) for t in chosen),
    )


def message_facts(ctx: AppContext, session: Session, case: Case, **overrides: Any) -> MessageFacts:
    """Everything a mailbox message may say about the case."""
    remedy_kind: str | None = None
    decision_kind = "application"
    try:
        definition = ctx.case_definition(case)
        service_title = Bilingual(definition.title.de, definition.title.en)
        decision_kind = definition.decision_kind
        if definition.procedure is not None:
            remedy_kind = remedy_for(definition.procedure).kind
    except NotFound:
        service_title = Bilingual(case.service, case.service)
    payment = session.exec(select(Payment).where(Payment.case_id == case.id)).first()
    facts: dict[str, Any] = {
        "service_title": service_title,
        "reference": case.reference,
        "amount": Decimal(payment.amount) if payment else None,
        "due_on": local_date(aware(payment.due_at)) if payment else None,
        "outcome": case.outcome,
        "objection_deadline": deadline_for(ctx, case),
        "automated": decided_automatically(session, case.id),
        "remedy_kind": remedy_kind,
        "reasons_without_document": _reasons_without_document(ctx, case),
        "decision_kind": decision_kind,
    }
    facts.update(overrides)
    return MessageFacts(**facts)


def move_case(
    ctx: AppContext,
    session: Session,
    case: Case,
    target: CaseStatus,
    *,
    actor: Actor,
    event_type: str,
    reason: str | None = None,
    payload: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    message: MessageText | None = None,
    facts: dict[str, Any] | None = None,
    **fields: Any,
) -> Case:
    """Change the status (and ``fields``) if nobody changed the case since it was read."""
    now = utcnow()
    try:
        change = StatusChange.plan(case.id, case.status, target, actor=actor, reason=reason, at=now)
    except InvalidTransition as exc:
        # The citizen acted on a page older than the case (it moved on meanwhile).
        raise CaseChanged(_CHANGED) from exc
    moved = session.execute(
        update(Case)
        .where(col(Case.id) == case.id, col(Case.status) == case.status)
        # Waiting on the citizen pauses the target clock (backend/cases/deadlines.py).
        .values(status=str(target), updated_at=now, **{**clock_fields(case, target, now), **fields})
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise CaseChanged(_CHANGED)
    event = record_event(
        session,
        case.id,
        event_type,
        actor=actor.label,
        reason=reason,
        payload={**change.payload, **(payload or {})},
        idempotency_key=idempotency_key,
    )
    session.refresh(case)
    if message is None and target in CITIZEN_RELEVANT:
        message = status_changed(str(target), message_facts(ctx, session, case, **(facts or {})))
    if message is not None:
        post_message(ctx, session, case, f"status:{target}:{event.seq}", message)
    return case


def refer_or_note(
    ctx: AppContext,
    case_id: str,
    reason: str,
    payload: dict[str, Any],
    waiting_for: str,
    key: str,
) -> None:
    """Refer a case not yet decided (processing, or paid and awaiting completion) to a person;
    otherwise log the failure on the case.

    Either way ``waiting_for`` names what is missing, so the case never waits silently.
    """
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        if case.status in (CaseStatus.PROCESSING, CaseStatus.AWAITING_PAYMENT):
            try:
                move_case(
                    ctx,
                    session,
                    case,
                    CaseStatus.REFERRED,
                    actor=Actor.system(),
                    event_type="referred",
                    reason=reason,
                    payload=payload,
                    idempotency_key=f"{key}:failed",
                    waiting_for=waiting_for,
                )
                return
            except CaseChanged:
                case = load_case(session, case_id)
        case.waiting_for = waiting_for
        case.updated_at = utcnow()
        session.add(case)
        record_event(
            session,
            case_id,
            f"{key.split(':')[0]}_failed",
            actor=Actor.system().label,
            reason=reason,
            payload=payload,
            idempotency_key=f"{key}:failed",
        )
