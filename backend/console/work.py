"""The clerk's other actions on a case: assign, ask the citizen, hand back to the machine,
discontinue. Each needs a reason and lands in the case's hash-chained log with the clerk."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.auth.tokens import Identity
from backend.cases import review
from backend.cases.audit import record_event
from backend.cases.lifecycle import load_case, message_facts, move_case
from backend.console.access import department_case
from backend.console.decisions import UNDECIDED, DecisionResult, open_pending
from backend.console.identity import ClerkIdentity, Permission
from backend.console.reasons import required_reason
from backend.context import AppContext
from backend.db import unit_of_work
from backend.domain.case_state import Actor, CaseStatus
from backend.errors import Conflict, InvalidInput
from backend.models import Case, CaseEvent, utcnow
from backend.models_console import CaseAssignment, ConsoleClerk
from backend.models_engine import CaseTask
from backend.notices.issue import issue_documents
from backend.notifications.messages import Bilingual, MessageText

SYSTEM = Actor.system()


def assign(
    ctx: AppContext,
    clerk: ClerkIdentity,
    case_id: str,
    assignee: str | None,
    reason: str | None = None,
) -> CaseAssignment:
    """To me (any clerk) or to a colleague of the department (supervisors); the reason is
    optional for taking a case oneself and required for handing it to someone else."""
    clerk.require(
        Permission.WORK_CASES if not assignee or assignee == clerk.sub else Permission.ASSIGN_OTHERS
    )
    target = assignee or clerk.sub
    text = (reason or "").strip() or None
    # Optional when taking the case oneself, but a reason given is checked like any other: it
    # goes into the audit log, whose column holds MAX_REASON characters.
    if target != clerk.sub or text is not None:
        text = required_reason(reason)
    with unit_of_work(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        if target == clerk.sub:
            name = clerk.name
        else:
            colleague = session.get(ConsoleClerk, target)
            if colleague is None or colleague.department != clerk.department:
                raise InvalidInput(
                    "Diese Person gibt es in Ihrem Fachbereich nicht. (Unknown colleague.)",
                    details=[{"field": "assignee", "message": "unknown colleague"}],
                )
            name = colleague.name
        row = session.get(CaseAssignment, case.id) or CaseAssignment(
            case_id=case.id,
            department=case.department,
            assignee=target,
            assignee_name=name,
            assigned_by=clerk.sub,
        )
        row.assignee, row.assignee_name, row.assigned_by, row.assigned_at = (
            target,
            name,
            clerk.sub,
            utcnow(),
        )
        session.add(row)
        record_event(
            session,
            case.id,
            "assigned",
            actor=clerk.actor.label,
            reason=text,
            payload={"assignee": f"clerk:{target}"},
        )
        return row


def ask_citizen(ctx: AppContext, clerk: ClerkIdentity, case_id: str, question: str | None) -> str:
    """§ 24, § 26 Abs. 2 VwVfG: the case waits for the citizen's answer; they are notified.
    The question is the action's reason."""
    clerk.require(Permission.WORK_CASES)
    text = required_reason(question, field="question")
    with Session(ctx.engine) as session:
        department_case(session, clerk, case_id)
        if open_pending(session, case_id) is not None:
            raise Conflict(
                "Eine Entscheidung wartet auf die zweite Person. (A decision awaits confirmation.)"
            )
    identity = Identity(
        sub=clerk.sub,
        name=clerk.name,
        trust_level="substanziell",
        department=clerk.department,
        roles=clerk.roles,
    )
    case = review.ask_citizen(ctx, identity, case_id, text)
    return case.status


def cancel(ctx: AppContext, clerk: ClerkIdentity, case_id: str, reason: str | None) -> str:
    """Discontinue proceedings before a decision (e.g. a duplicate application); supervisors
    only, and the citizen is told why."""
    clerk.require(Permission.CANCEL)
    text = required_reason(reason)
    with unit_of_work(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        if case.status not in UNDECIDED or case.decided_at is not None:
            raise Conflict(
                "Nur ein noch nicht entschiedener Antrag kann eingestellt werden. "
                "(Only an undecided application can be discontinued.)"
            )
        for task in session.exec(
            select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.status == "open")
        ).all():
            task.status, task.closed_at = "cancelled", utcnow()
            session.add(task)
        pending = open_pending(session, case.id)
        if pending is not None:
            pending.status = "refused"
            session.add(pending)
        facts = message_facts(ctx, session, case)
        move_case(
            ctx,
            session,
            case,
            CaseStatus.CLOSED,
            actor=clerk.actor,
            event_type="cancelled",
            reason=text,
            message=MessageText(
                "closed",
                Bilingual(
                    f"Ihr Antrag {facts.reference} wird nicht weiter bearbeitet",
                    f"Your application {facts.reference} will not be processed further",
                ),
                Bilingual(
                    f"Das Verfahren zu Ihrem Antrag auf {facts.service_title.de} wurde "
                    f"eingestellt. Begründung: {text}",
                    f"The proceedings on your application for {facts.service_title.en} have "
                    f"been discontinued. Reason given (in German): {text}",
                ),
            ),
            waiting_for=None,
        )
        return case.status


def rerun_automation(
    ctx: AppContext,
    clerk: ClerkIdentity,
    case_id: str,
    reason: str | None,
    *,
    registry_checked: bool = False,
) -> DecisionResult:
    """Hand a referred case back to the machine once its cause is gone (automation resumed,
    rules corrected, a registry reachable again). The engine's own rules and policy decide;
    if they still refer, the case comes back with the current reasons.

    Re-reading a register needs the citizen's identifier from their login, which the platform
    deliberately does not keep; after an outage the clerk checks the typed values against the
    register and says so (``registry_checked``), which lifts the registry-failure referral. The
    tick turns no typed value into a register value: a register fact or a certificate of
    register content typed by the citizen still refers the case, and the clerk decides it by
    hand (a human decision, without the § 35a statement)."""
    clerk.require(Permission.WORK_CASES)
    text = required_reason(reason)
    with unit_of_work(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        if case.status != CaseStatus.REFERRED:
            raise Conflict(
                "Nur ein an die Sachbearbeitung verwiesener Antrag kann erneut automatisch "
                "bearbeitet werden. (Only a referred case can be handed back to the machine.)"
            )
        if open_pending(session, case.id) is not None:
            raise Conflict(
                "Eine Entscheidung wartet auf die zweite Person. (A decision awaits confirmation.)"
            )
        runs = session.exec(
            select(CaseEvent).where(
                CaseEvent.case_id == case.id, CaseEvent.type == "automation_rerun"
            )
        ).all()
        run_no = len(runs) + 1
        if registry_checked:
            case.data = {**case.data, "registry_checked_by": clerk.actor.label}
            session.add(case)
        move_case(
            ctx,
            session,
            case,
            CaseStatus.PROCESSING,
            actor=clerk.actor,
            event_type="automation_rerun",
            reason=text,
            payload={"run": run_no, "registry_checked": registry_checked},
            outcome=None,
            waiting_for=None,
        )
        from backend.cases.processing import machine_decision, refer

        definition = ctx.catalogue.get(case.service, case.service_version)
        decision = machine_decision(
            session,
            case,
            definition,
            registry_checked=registry_checked,
            qa_sample=ctx.settings.qa_sampling,
        )
        stored: dict[str, Any] = decision.to_json()
        key = f"rerun:{run_no}"
        if decision.outcome == "referred":
            refer(ctx, session, case, decision, idempotency_key=f"{key}:decide")
            return DecisionResult(case.status)
        session.execute(
            update(Case)
            .where(col(Case.id) == case.id)
            .values(decision=stored, outcome=decision.outcome, updated_at=utcnow())
        )
        session.refresh(case)
        record_event(
            session,
            case.id,
            "decided",
            actor=SYSTEM.label,
            payload={"outcome": decision.outcome, "rule_version": decision.rule_version},
            idempotency_key=f"{key}:decide",
        )
        from backend.cases.processing import request_fee

        if request_fee(ctx, session, case, actor=SYSTEM, idempotency_key=f"{key}:payment"):
            return DecisionResult(case.status)
    # Decided by the rules, no person: the notice carries the § 35a VwVfG statement.
    issue_documents(ctx, case_id, automated=True)
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        move_case(
            ctx,
            session,
            case,
            CaseStatus.DECIDED,
            actor=SYSTEM,
            event_type="case_decided",
            payload={"outcome": case.outcome},
            idempotency_key=f"{key}:finish",
            decided_at=utcnow(),
            waiting_for=None,
        )
        move_case(
            ctx,
            session,
            case,
            CaseStatus.NOTIFIED,
            actor=SYSTEM,
            event_type="citizen_notified",
            idempotency_key=f"{key}:notify",
        )
        return DecisionResult(case.status)
