"""A clerk decides: a referred case, a human review, an objection (remedy or forward).

Every decision needs a reason, which becomes the notice's stated reason (§ 39 VwVfG). The
notice comes from the same machinery as automated decisions (backend/notices). A decision
that departs from the machine's needs a second person when the service's definition says so
(``automation.four_eyes_on_overturn``): it is stored as a proposal until a supervisor
confirms it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlmodel import Session, col, select

from backend.cases.lifecycle import decided_automatically, load_case, message_facts, move_case
from backend.columns import utcnow
from backend.console.models import PendingDecision
from backend.console.qa import (
    OBJECTION_FINDING,
    REVIEW_FINDING,
    record_finding,
    record_overturn,
)
from backend.console.withdrawal import HearingStarted, WithdrawalTerms, takes_back
from backend.console.withdrawal import prepare as prepare_withdrawal
from backend.context import AppContext
from backend.db import unit_of_work
from backend.department.access import department_case
from backend.department.identity import ClerkIdentity, Permission
from backend.department.reasons import required_reason
from backend.domain.case_state import Actor, CaseStatus
from backend.domain.decision import CLERK_RULE
from backend.domain.provenance import CONFIRMATIONS_KEY, confirm_typed
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.notices.clerk import revoke_standing_notices
from backend.notices.content import not_from_register
from backend.notifications.messages import Bilingual, MessageText
from backend.payments.service import fees_due, refund_after_new_decision
from backend.records.audit import record_event
from backend.records.models import Case, CaseEvent, CaseTask

SYSTEM = Actor.system()
Outcome = Literal["approved", "rejected"]
OUTCOMES: tuple[str, ...] = ("approved", "rejected")
UNDECIDED = (CaseStatus.REFERRED, CaseStatus.IN_REVIEW, CaseStatus.AWAITING_CITIZEN)


@dataclass(frozen=True)
class DecisionResult:
    """Either decided (status notified) or waiting for a second person (pending id)."""

    status: str
    pending_id: str | None = None
    hearing_until: date | None = None
    """A favourable decision is to be taken back: the citizen is heard until then (§ 28 VwVfG)."""


def _outcome(value: str | None) -> Outcome:
    if value not in OUTCOMES:
        raise InvalidInput(
            "Bitte wählen Sie Bewilligen oder Ablehnen. (Choose approve or reject.)",
            details=[{"field": "outcome", "message": "approved or rejected"}],
        )
    return value  # type: ignore[return-value]


def open_pending(session: Session, case_id: str) -> PendingDecision | None:
    return session.exec(
        select(PendingDecision).where(
            PendingDecision.case_id == case_id, PendingDecision.status == "pending"
        )
    ).first()


def _open_task(session: Session, case_id: str, kind: str) -> CaseTask | None:
    return session.exec(
        select(CaseTask).where(
            CaseTask.case_id == case_id, CaseTask.kind == kind, CaseTask.status == "open"
        )
    ).first()


def machine_outcome(session: Session, case: Case) -> str | None:
    """What the machine decided or proposed; None when a person took the standing decision."""
    if case.decided_at is not None:
        return case.outcome if decided_automatically(session, case.id) else None
    proposed = (case.decision or {}).get("proposed_outcome")
    return proposed if proposed in OUTCOMES else None


def _needs_second_person(ctx: AppContext, session: Session, case: Case, outcome: str) -> bool:
    definition = ctx.case_definition(case)
    machine = machine_outcome(session, case)
    # A value a clerk confirmed on evidence or corrected departs from what the registers said:
    # where the service wants four eyes, a second person confirms that decision too.
    # (Entries without an evidence kind are the decision's own record, see execute_decision.)
    amended = any(
        (entry or {}).get("evidence_kind")
        for entry in ((case.data or {}).get(CONFIRMATIONS_KEY) or {}).values()
    )
    return bool(
        definition.automation.four_eyes_on_overturn
        and ((machine is not None and machine != outcome) or amended)
    )


def _refuse_uncertifiable(ctx: AppContext, case: Case, outcome: str) -> None:
    """A certificate of register content for values the register did not deliver cannot be
    approved by anyone (issue 20): the clerk re-reads the register, or rejects with reasons
    (for a person the register does not know: register first, § 17 BMG)."""
    definition = ctx.case_definition(case)
    if not any(d.certifies_register and outcome in d.on for d in definition.documents):
        return
    typed = not_from_register(definition, case.data or {})
    if typed:
        labels = ", ".join(f.label.de for f in definition.fields if f.id in typed)
        raise Conflict(
            "Diese Bescheinigung bestätigt nur, was im Register steht; diese Angaben stammen "
            f"nicht aus dem Register: {labels}. Fragen Sie das Register erneut ab oder lehnen "
            "Sie mit Begründung ab. (This certificate states register content only; these "
            "values did not come from the register. Read it again, or reject with reasons.)"
        )


def decide_case(
    ctx: AppContext,
    clerk: ClerkIdentity,
    case_id: str,
    outcome: str | None,
    reason: str | None,
    terms: WithdrawalTerms | None = None,
) -> DecisionResult:
    """Approve or reject a referred case, or the case under a person's review (Art. 22(3)
    DSGVO: confirm or change the automated decision). Taking a favourable decision back
    follows §§ 28, 48, 49 VwVfG (``terms``; backend/console/withdrawal.py)."""
    clerk.require(Permission.WORK_CASES)
    chosen = _outcome(outcome)
    text = required_reason(reason)
    with unit_of_work(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        if case.status not in UNDECIDED:
            raise Conflict(
                "Dieser Vorgang wartet auf keine Entscheidung. (This case awaits no decision.)"
            )
        if open_pending(session, case.id) is not None:
            raise Conflict(
                "Eine Entscheidung wartet bereits auf die Bestätigung durch eine zweite Person. "
                "(A decision already awaits a second person's confirmation.)"
            )
        _refuse_uncertifiable(ctx, case, chosen)
        record = _withdrawal(ctx, session, clerk, case, chosen, text, terms)
        if isinstance(record, HearingStarted):
            return DecisionResult(case.status, hearing_until=record.until)
        if _needs_second_person(ctx, session, case, chosen):
            return _propose(session, clerk, case, "decide", chosen, text, record)
    return execute_decision(
        ctx, clerk.actor, case_id, chosen, text, kind="decide", withdrawal=record
    )


def _withdrawal(
    ctx: AppContext,
    session: Session,
    clerk: ClerkIdentity,
    case: Case,
    outcome: str,
    reason: str,
    terms: WithdrawalTerms | None,
) -> HearingStarted | dict[str, Any] | None:
    """None for an ordinary decision; else the hearing just started, or the withdrawal's record."""
    definition = ctx.case_definition(case)
    if not takes_back(definition, case, outcome):
        return None
    return prepare_withdrawal(
        ctx, session, clerk, definition, case, terms or WithdrawalTerms(), reason
    )


def decide_objection(
    ctx: AppContext,
    clerk: ClerkIdentity,
    case_id: str,
    action: str | None,
    reason: str | None,
    outcome: str | None = None,
    terms: WithdrawalTerms | None = None,
) -> DecisionResult:
    """§ 72 VwGO: remedy the objection (Abhilfe, a new decision) or forward it to the
    objection authority (§ 73 VwGO), which decides outside this platform."""
    clerk.require(Permission.WORK_CASES)
    text = required_reason(reason)
    if action not in ("remedy", "forward"):
        raise InvalidInput(
            "Bitte wählen Sie Abhilfe oder Weiterleitung. (Choose remedy or forward.)",
            details=[{"field": "action", "message": "remedy or forward"}],
        )
    with unit_of_work(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        task = _open_task(session, case.id, "objection")
        if case.status != CaseStatus.OBJECTION or task is None:
            raise Conflict("Zu diesem Vorgang ist kein Widerspruch offen. (No open objection.)")
        if open_pending(session, case.id) is not None:
            raise Conflict(
                "Eine Entscheidung wartet bereits auf die Bestätigung durch eine zweite Person. "
                "(A decision already awaits a second person's confirmation.)"
            )
        if action == "forward":
            task.status, task.closed_at = "forwarded", utcnow()
            session.add(task)
            record_event(
                session,
                case.id,
                "objection_forwarded",
                actor=clerk.actor.label,
                reason=text,
                payload={"task": task.id, "legal_basis": "§ 73 VwGO"},
            )
            case.waiting_for = "Entscheidung der Widerspruchsbehörde"
            session.add(case)
            facts = message_facts(ctx, session, case)
            from backend.notifications.service import post_message

            post_message(ctx, session, case, f"objection_forwarded:{task.id}", _forwarded(facts))
            return DecisionResult(case.status)
        # Abhilfe (§ 72 VwGO): the department itself issues a new decision, usually the
        # opposite of the one objected to; the same outcome with a corrected notice is possible.
        chosen = _outcome(outcome or ("approved" if case.outcome == "rejected" else "rejected"))
        _refuse_uncertifiable(ctx, case, chosen)
        record = _withdrawal(ctx, session, clerk, case, chosen, text, terms)
        if isinstance(record, HearingStarted):
            return DecisionResult(case.status, hearing_until=record.until)
        if _needs_second_person(ctx, session, case, chosen):
            return _propose(session, clerk, case, "remedy", chosen, text, record)
    return execute_decision(
        ctx, clerk.actor, case_id, chosen, text, kind="remedy", withdrawal=record
    )


def _forwarded(facts: Any) -> MessageText:
    return MessageText(
        "objection",
        Bilingual(
            f"Ihr Widerspruch zum Antrag {facts.reference} wurde weitergeleitet",
            f"Your objection on application {facts.reference} has been forwarded",
        ),
        Bilingual(
            "Die Behörde hat den Bescheid erneut geprüft und hilft Ihrem Widerspruch nicht ab. "
            "Sie hat ihn der Widerspruchsbehörde vorgelegt, die darüber entscheidet "
            "(§ 73 VwGO). Sie erhalten deren Widerspruchsbescheid.",
            "The authority reviewed the notice again and does not remedy your objection. It has "
            "passed the objection to the objection authority, which decides on it. You will "
            "receive its decision.",
        ),
    )


def _propose(
    session: Session,
    clerk: ClerkIdentity,
    case: Case,
    action: str,
    outcome: str,
    reason: str,
    withdrawal: dict[str, Any] | None = None,
) -> DecisionResult:
    machine = machine_outcome(session, case)
    pending = PendingDecision(
        case_id=case.id,
        department=case.department,
        action=action,
        outcome=outcome,
        reason=reason,
        machine_outcome=machine,
        proposed_by=clerk.sub,
        proposed_by_name=clerk.name,
    )
    session.add(pending)
    session.flush()
    record_event(
        session,
        case.id,
        "decision_proposed",
        actor=clerk.actor.label,
        reason=reason,
        payload={
            "pending": pending.id,
            "action": action,
            "outcome": outcome,
            "machine_outcome": machine,
            "four_eyes": True,
            "withdrawal": withdrawal,
        },
    )
    return DecisionResult(case.status, pending_id=pending.id)


def _proposed_withdrawal(session: Session, case_id: str, pending_id: str) -> dict[str, Any] | None:
    """The withdrawal terms stored with a four-eyes proposal (its decision_proposed event)."""
    for event in session.exec(
        select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.type == "decision_proposed")
    ).all():
        if (event.payload or {}).get("pending") == pending_id:
            found = event.payload.get("withdrawal")
            return found if isinstance(found, dict) else None
    return None


def confirm_pending(
    ctx: AppContext, clerk: ClerkIdentity, case_id: str, confirm: bool, reason: str | None
) -> DecisionResult:
    """The second person confirms (the decision then takes effect) or refuses the proposal."""
    clerk.require(Permission.SECOND_APPROVAL)
    text = required_reason(reason)
    with unit_of_work(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        pending = open_pending(session, case.id)
        if pending is None:
            raise NotFound("Hier wartet keine Entscheidung auf Bestätigung. (Nothing pending.)")
        if pending.proposed_by == clerk.sub:
            raise Forbidden(
                "Die zweite Person muss eine andere sein als die, die entschieden hat "
                "(Vier-Augen-Prinzip). (The second person must be someone else.)"
            )
        pending.status = "confirmed" if confirm else "refused"
        pending.second_by, pending.second_reason, pending.second_at = clerk.sub, text, utcnow()
        session.add(pending)
        record_event(
            session,
            case.id,
            "decision_confirmed" if confirm else "decision_refused",
            actor=clerk.actor.label,
            reason=text,
            payload={"pending": pending.id, "outcome": pending.outcome},
        )
        if not confirm:
            return DecisionResult(case.status)
        proposer, outcome, action, first_reason = (
            Actor.clerk(pending.proposed_by),
            pending.outcome,
            pending.action,
            pending.reason,
        )
        withdrawal = _proposed_withdrawal(session, case.id, pending.id)
    return execute_decision(
        ctx, proposer, case_id, outcome, first_reason, kind=action, withdrawal=withdrawal
    )


def _clerk_decision(ctx: AppContext, case: Case, outcome: str, reason: str) -> dict[str, Any]:
    """The stored decision value with the clerk's outcome and reason; the machine's proposal,
    inputs and rule version stay, so the file shows both."""
    definition = ctx.case_definition(case)
    stored = dict(case.decision or {})
    machine = stored.get("proposed_outcome") or (
        stored.get("outcome") if stored.get("outcome") in OUTCOMES else None
    )
    stored.setdefault("reasons", [])
    stored.setdefault("amounts", {})
    stored.setdefault("rule_version", case.service_version)
    stored.setdefault("inputs", dict(case.data.get("values") or {}))
    stored.setdefault("reference_date", case.reference_date.isoformat())
    stored["outcome"] = outcome
    stored["proposed_outcome"] = machine
    stored["reasons"] = [r for r in stored["reasons"] if r.get("rule_id") != CLERK_RULE] + [
        {
            "rule_id": CLERK_RULE,
            "legal_reference": definition.legal_basis,
            "outcome_effect": "approve" if outcome == "approved" else "reject",
            "text": {"de": reason, "en": reason},
        }
    ]
    return stored


def _already_paid(session: Session, case_id: str) -> bool:
    from backend.payments.service import payment_of

    payment = payment_of(session, case_id)
    return payment is not None and payment.status == "paid"


def execute_decision(
    ctx: AppContext,
    actor: Actor,
    case_id: str,
    outcome: str,
    reason: str,
    *,
    kind: str,
    withdrawal: dict[str, Any] | None = None,
) -> DecisionResult:
    """Store the decision, issue its notice, and move the case to decided and notified."""
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        definition = ctx.case_definition(case)
        decision = _clerk_decision(ctx, case, outcome, reason)
        decision.pop("withdrawal", None)
        if withdrawal is not None:
            decision["withdrawal"] = withdrawal
        replacing = case.decided_at is not None
        fee_due = outcome == "approved" and bool(fees_due(definition, decision))
        if fee_due and _already_paid(session, case.id):
            # Paid before a step failed and the clerk took the case over (an incident): the
            # fee is settled, the clerk's notice follows at once.
            fee_due = False
        if fee_due and replacing:
            # A remedy that now costs a fee would need the standing notice revoked and a
            # payment taken before the new one: a procedure of its own, not built.
            raise Conflict(
                "Eine Abhilfe mit Gebühr kann die Konsole nicht erlassen; bitte im "
                "Fachverfahren entscheiden. (A remedy that costs a fee cannot be issued from "
                "the console.)"
            )
        rounds = session.exec(
            select(CaseEvent).where(
                CaseEvent.case_id == case.id, CaseEvent.type == "clerk_decision"
            )
        ).all()
        round_no = len(rounds) + 1 if replacing else 0
        if replacing:
            revoke_standing_notices(session, case.id)
        standing = case.outcome
        case.decision, case.outcome = decision, outcome
        # A person decides: they stand behind the values no register delivered, and the notice
        # says so ("Von der Behörde bestätigt") instead of naming a register.
        case.data = confirm_typed(case.data or {}, by=actor.label, at=utcnow(), evidence=reason)
        session.add(case)
        record_event(
            session,
            case.id,
            "clerk_decision",
            actor=actor.label,
            reason=reason,
            payload={
                "kind": kind,
                "outcome": outcome,
                "machine_outcome": decision.get("proposed_outcome"),
                "replaces_notice": replacing,
                "round": round_no,
                "withdrawal": withdrawal,
            },
        )
        if replacing:
            refund_after_new_decision(session, case, outcome)
        if actor.id is not None:
            record_finding(session, case, clerk_sub=actor.id, final_outcome=outcome, reason=reason)
        if replacing and actor.id is not None and not rounds and standing is not None:
            # No clerk decided before: the standing decision was the machine's.
            record_overturn(
                session,
                case,
                machine_outcome=standing,
                clerk_sub=actor.id,
                final_outcome=outcome,
                reason=reason,
                via=OBJECTION_FINDING if kind == "remedy" else REVIEW_FINDING,
            )
        if fee_due:
            # The clerk's approval costs a fee: the same durable wait as for automated cases;
            # once paid, the platform issues the clerk's notice (without the § 35a statement).
            from backend.cases.payment_wait import request_fee

            if case.status == CaseStatus.AWAITING_CITIZEN:
                move_case(
                    ctx, session, case, CaseStatus.IN_REVIEW, actor=actor, event_type="resumed"
                )
            request_fee(ctx, session, case, actor=actor, idempotency_key="clerk:payment")
            return DecisionResult(case.status)
    # The same completion as every other path: register (cancel what the standing decision
    # entered, enter what this one needs), notice, decided, notified (backend/cases/completion).
    from backend.cases.completion import complete_now

    return DecisionResult(complete_now(ctx, case_id))


def pending_for_department(session: Session, department: str) -> list[PendingDecision]:
    return list(
        session.exec(
            select(PendingDecision)
            .where(PendingDecision.department == department, PendingDecision.status == "pending")
            .order_by(col(PendingDecision.proposed_at))
        ).all()
    )
