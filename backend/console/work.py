"""The clerk's other actions on a case: assign, ask the citizen, hand back to the machine,
discontinue. Each needs a reason and lands in the case's hash-chained log with the clerk."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.auth.tokens import Identity
from backend.cases import review
from backend.cases.lifecycle import message_facts, move_case
from backend.columns import utcnow
from backend.console.decisions import UNDECIDED, DecisionResult, open_pending
from backend.console.models import CaseAssignment
from backend.context import AppContext
from backend.db import unit_of_work
from backend.department.access import department_case
from backend.department.identity import ClerkIdentity, Permission
from backend.department.models import ConsoleClerk
from backend.department.reasons import required_reason
from backend.domain.case_state import Actor, CaseStatus
from backend.domain.provenance import CONFIRMATIONS_KEY
from backend.errors import Conflict, InvalidInput
from backend.notifications.messages import Bilingual, MessageText
from backend.records.audit import record_event
from backend.records.models import Case, CaseEvent, CaseTask

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
) -> DecisionResult:
    """Hand a referred case back to the machine once its cause is gone (automation resumed,
    rules corrected, a registry reachable again). The engine's own rules and policy decide;
    if they still refer, the case comes back with the current reasons.

    Callers re-read the register first (``backend.console.reread.rerun_with_reread``): what a
    register delivers now replaces the typed value, what it still cannot deliver keeps the
    case with a person. Nobody's say-so turns a typed value into a register value."""
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
        if any(
            (entry or {}).get("evidence_kind")
            for entry in ((case.data or {}).get(CONFIRMATIONS_KEY) or {}).values()
        ):
            # A person stood behind or corrected a value: the decision is theirs to take, and
            # its notice must not say "automatisiert" (§ 35a VwVfG).
            raise Conflict(
                "Sie haben Angaben bestätigt oder berichtigt; entscheiden Sie den Antrag bitte "
                "selbst. (You confirmed or corrected values; please decide the case yourself.)"
            )
        runs = session.exec(
            select(CaseEvent).where(
                CaseEvent.case_id == case.id, CaseEvent.type == "automation_rerun"
            )
        ).all()
        run_no = len(runs) + 1
        move_case(
            ctx,
            session,
            case,
            CaseStatus.PROCESSING,
            actor=clerk.actor,
            event_type="automation_rerun",
            reason=text,
            payload={"run": run_no},
            outcome=None,
            waiting_for=None,
        )
        from backend.cases.processing import machine_decision, refer

        definition = ctx.case_definition(case)
        decision = machine_decision(
            session,
            case,
            definition,
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
        from backend.cases.payment_wait import request_fee

        if request_fee(ctx, session, case, actor=SYSTEM, idempotency_key=f"{key}:payment"):
            return DecisionResult(case.status)
    # Decided by the rules, no person: the notice carries the § 35a VwVfG statement; the same
    # completion as the worker's (register, notice, decided, notified).
    from backend.cases.completion import complete_now

    return DecisionResult(complete_now(ctx, case_id))
