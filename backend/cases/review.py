"""What a citizen can do with a case in one click: human review, objection, withdrawal, answer.

Review (GDPR Art. 22(3)) and objection (Widerspruch or Einspruch, as the service's procedural
regime gives it: backend/domain/remedy.py) put a task in the owning
department's queue (``case_tasks``); the supervision console shows that queue. Every action is
a status change through ``lifecycle.move_case``: checked against the state machine for the
actor, compare-and-set, logged in the case log, and confirmed in the citizen's mailbox.
Clicking twice is harmless: the second click returns what the first one created.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from backend.auth.tokens import Identity
from backend.cases import queries
from backend.cases.lifecycle import (
    deadline_for,
    decided_automatically,
    load_case,
    message_facts,
    move_case,
)
from backend.cases.receipts import file_statement_receipt
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.documents.render import date_de, local_date
from backend.domain.case_state import Actor, CaseStatus, CitizenOptions, citizen_options
from backend.domain.deadlines import add_months
from backend.domain.remedy import Remedy, remedy_for
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.notifications.messages import review_requested
from backend.payments.factory import build_provider
from backend.payments.models import Payment
from backend.payments.provider import ProviderUnavailable
from backend.payments.service import (
    PAYMENT_TOPIC,
    close_payment,
    payment_of,
    payment_workflow_id,
)
from backend.records.models import Case, CaseEvent, CaseTask

log = logging.getLogger("knopfdruck.review")

MAX_STATEMENT = 5000
CITIZEN = Actor.citizen()


class DeadlinePassed(Conflict):
    """The objection period is over; the message says what the citizen can still do."""

    code = "deadline_passed"


@dataclass(frozen=True)
class TaskView:
    id: str
    kind: str
    status: str
    created_at: str
    due_on: date | None


@dataclass(frozen=True)
class ActionResult:
    """The task an action created (or found from an earlier click) and the case's new status."""

    task: TaskView | None
    status: str
    created: bool


@dataclass(frozen=True)
class CaseActions:
    status: str
    options: CitizenOptions
    tasks: list[TaskView]
    remedy: Remedy | None
    """The remedy of the service's regime, shown on the case page even when the portal cannot
    take it (a Klage goes to the court)."""


def _today() -> date:
    return local_date(utcnow())


def _task_view(task: CaseTask) -> TaskView:
    return TaskView(task.id, task.kind, task.status, task.created_at.isoformat(), task.due_on)


def _task(session: Session, case_id: str, key: str) -> CaseTask | None:
    return session.exec(
        select(CaseTask).where(CaseTask.case_id == case_id, CaseTask.key == key)
    ).first()


def _statement(text: str | None, *, required: bool, what: str) -> str | None:
    value = (text or "").strip()
    if required and not value:
        raise InvalidInput(
            f"Bitte schreiben Sie kurz, {what}. (Please add a short statement.)",
            details=[{"field": "statement", "message": "required"}],
        )
    if len(value) > MAX_STATEMENT:
        raise InvalidInput(
            f"Bitte höchstens {MAX_STATEMENT} Zeichen. (At most {MAX_STATEMENT} characters.)",
            details=[{"field": "statement", "message": f"at most {MAX_STATEMENT} characters"}],
        )
    return value or None


def remedy_of(ctx: AppContext, case: Case) -> Remedy | None:
    """The remedy against the case's decision, from the definition version that decided it."""
    procedure = ctx.case_definition(case).procedure
    return remedy_for(procedure) if procedure is not None else None


def options_for(ctx: AppContext, session: Session, case: Case) -> CitizenOptions:
    payment = payment_of(session, case.id)
    remedy = remedy_of(ctx, case)
    return citizen_options(
        case.status,
        decided=case.decided_at is not None,
        automated=decided_automatically(session, case.id),
        paid=payment is not None and payment.status == "paid",
        review_requested=_task(session, case.id, "human_review") is not None,
        objection_lodged=_task(session, case.id, "objection") is not None,
        objection_deadline=deadline_for(ctx, case),
        today=_today(),
        # A definition without a procedure issues no notice; its objection stays the VwGO's.
        objection_in_portal=remedy is None or remedy.in_portal,
    )


def case_actions(ctx: AppContext, identity: Identity, case_id: str) -> CaseActions:
    """The buttons the case page may show, and the department tasks the citizen started."""
    with Session(ctx.engine) as session:
        case = queries.get_case(session, identity, case_id)
        tasks = session.exec(
            select(CaseTask)
            .where(CaseTask.case_id == case.id, col(CaseTask.kind) != "refund")
            .order_by(col(CaseTask.created_at))
        ).all()
        return CaseActions(
            case.status,
            options_for(ctx, session, case),
            [_task_view(t) for t in tasks],
            remedy_of(ctx, case),
        )


def request_review(
    ctx: AppContext, identity: Identity, case_id: str, statement: str | None = None
) -> ActionResult:
    """GDPR Art. 22(3): a person reviews the automated decision; the department gets a task."""
    text = _statement(statement, required=False, what="was geprüft werden soll")
    with unit_of_work(ctx.engine) as session:
        case = queries.get_case(session, identity, case_id)
        existing = _task(session, case.id, "human_review")
        if existing is not None:
            return ActionResult(_task_view(existing), case.status, created=False)
        options = options_for(ctx, session, case)
        if not options.request_review:
            raise Conflict(_why_no_review(session, case))
        task = CaseTask(
            case_id=case.id,
            department=case.department,
            kind="human_review",
            key="human_review",
            statement=text,
            legal_basis="Art. 22 Abs. 3 DSGVO",
            created_by=CITIZEN.label,
        )
        session.add(task)
        session.flush()
        move_case(
            ctx,
            session,
            case,
            CaseStatus.IN_REVIEW,
            actor=CITIZEN,
            event_type="review_requested",
            reason="Überprüfung durch eine Person verlangt (Art. 22 Abs. 3 DSGVO)",
            payload={"task": task.id},
            idempotency_key="review_requested",
            message=review_requested(message_facts(ctx, session, case)),
        )
        result = ActionResult(_task_view(task), case.status, created=True)
    file_statement_receipt(ctx, case_id, "human_review")
    return result


def _why_no_review(session: Session, case: Case) -> str:
    if case.decided_at is None:
        return (
            "Über Ihren Antrag ist noch nicht entschieden; eine Person prüft ihn ohnehin, "
            "wenn die Maschine nicht entscheiden darf. (The application is not decided yet.)"
        )
    if _task(session, case.id, "objection") is not None:
        return (
            "Ihr Widerspruch wird bereits von einer Person geprüft. "
            "(Your objection is already being reviewed by a person.)"
        )
    if not decided_automatically(session, case.id):
        return (
            "Dieser Bescheid wurde von einer Person erlassen. Sie können Widerspruch einlegen. "
            "(A person issued this notice; you can lodge an objection.)"
        )
    return (
        "Eine Überprüfung ist in diesem Stand des Vorgangs nicht möglich. "
        "(A review is not possible at this stage of the case.)"
    )


def lodge_objection(
    ctx: AppContext, identity: Identity, case_id: str, statement: str
) -> ActionResult:
    """Widerspruch or Einspruch within the period; the department re-examines it (§ 72 VwGO,
    § 85 Abs. 1 SGG, § 367 AO)."""
    text = _statement(statement, required=True, what="warum Sie widersprechen")
    with unit_of_work(ctx.engine) as session:
        case = queries.get_case(session, identity, case_id)
        existing = _task(session, case.id, "objection")
        if existing is not None:
            return ActionResult(_task_view(existing), case.status, created=False)
        if case.decided_at is None:
            raise Conflict(
                "Über Ihren Antrag ist noch nicht entschieden; ein Widerspruch ist erst gegen "
                "den Bescheid möglich. (There is no notice to object to yet.)"
            )
        remedy = remedy_of(ctx, case)
        if remedy is not None and not remedy.in_portal:
            raise Conflict(_no_objection_in_law(remedy))
        deadline = deadline_for(ctx, case)
        today = _today()
        if deadline is not None and today > deadline:
            raise DeadlinePassed(_period_over(remedy, deadline))
        options = options_for(ctx, session, case)
        if not options.object:
            raise Conflict(
                "In diesem Stand des Vorgangs ist kein Widerspruch möglich. "
                "(An objection is not possible at this stage of the case.)"
            )
        task = CaseTask(
            case_id=case.id,
            department=case.department,
            kind="objection",
            key="objection",
            statement=text,
            legal_basis=remedy.legal_basis if remedy else "§§ 68 ff. VwGO",
            created_by=CITIZEN.label,
            # § 75 VwGO: after three months without a decision the citizen may sue.
            due_on=add_months(today, 3),
        )
        session.add(task)
        session.flush()
        move_case(
            ctx,
            session,
            case,
            CaseStatus.OBJECTION,
            actor=CITIZEN,
            event_type="objection_lodged",
            reason=(
                f"{remedy.name('de')} erhoben ({remedy.legal_basis})"
                if remedy
                else "Widerspruch erhoben (§ 70 VwGO)"
            ),
            payload={"task": task.id, "deadline": deadline.isoformat() if deadline else None},
            idempotency_key="objection_lodged",
        )
        result = ActionResult(_task_view(task), case.status, created=True)
    file_statement_receipt(ctx, case_id, "objection")
    return result


def _no_objection_in_law(remedy: Remedy) -> str:
    """Why the portal takes no objection, and where the citizen can turn instead."""
    if remedy.kind == "klage" and remedy.lodge_with is not None:
        court = remedy.lodge_with
        return (
            "Gegen diesen Bescheid gibt es keinen Widerspruch; Sie können innerhalb eines Monats "
            f"nach Bekanntgabe Klage {court.at}, {court.address}, erheben ({remedy.legal_basis}). "
            "(There is no objection against this notice; you may bring an action before "
            f"{court.name}, {court.address}, within one month of notification.)"
        )
    return (
        "Gegen dieses Dokument gibt es keinen Rechtsbehelf; es ist kein Verwaltungsakt. "
        "(There is no legal remedy against this document; it is not an administrative act.)"
    )


def _period_over(remedy: Remedy | None, deadline: date) -> str:
    """The period is over: say so, and where to ask for reinstatement under the regime's law."""
    name = remedy.name("de") if remedy else "Widerspruch"
    period = remedy.period_name_de if remedy else "Widerspruchsfrist"
    body = remedy.lodge_with if remedy else None
    where = f" {body.at}, {body.address}," if body else " bei der Behörde"
    basis = remedy.reinstatement_basis if remedy else "§ 70 Abs. 2, § 60 VwGO"
    # § 60 Abs. 2 VwGO: two weeks; § 110 Abs. 2 AO and § 67 Abs. 2 SGG: one month.
    within = "eines Monats" if basis in ("§ 110 AO", "§ 67 SGG") else "von zwei Wochen"
    return (
        f"Die {period} ist am {date_de(deadline)} abgelaufen; ein {name} ist hier nicht mehr "
        "möglich. Waren Sie ohne Ihr Verschulden verhindert, die Frist einzuhalten, können Sie "
        f"innerhalb {within} nach Wegfall "
        f"des Hindernisses{where} Wiedereinsetzung in den vorigen Stand beantragen ({basis}). "
        f"(The period ended on {deadline.isoformat()}; you may apply for reinstatement.)"
    )


def withdraw(ctx: AppContext, identity: Identity, case_id: str, reason: str | None = None) -> Case:
    """Take the application back before it is decided; an open fee payment is cancelled."""
    text = _statement(reason, required=False, what="warum")
    with Session(ctx.engine) as session:
        case = queries.get_case(session, identity, case_id)
        payment = payment_of(session, case.id)
        if case.status == CaseStatus.WITHDRAWN:
            return case
        options = options_for(ctx, session, case)
        if not options.withdraw:
            raise Conflict(_why_no_withdrawal(case, payment))
    if payment is not None and payment.status == "open" and payment.provider_ref:
        try:
            build_provider(ctx.settings, payment.provider).cancel(payment.provider_ref)
        except ProviderUnavailable as exc:
            # Withdrawal is the citizen's right; money still arriving is refunded (late payment).
            log.warning("withdrawal of case %s: could not cancel payment (%s)", case_id, exc)
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        payment = payment_of(session, case.id)
        if payment is not None and payment.status == "open":
            close_payment(session, payment, "cancelled")
        if payment is not None and payment.status == "paid":
            raise Conflict(_why_no_withdrawal(case, payment))
        move_case(
            ctx,
            session,
            case,
            CaseStatus.WITHDRAWN,
            actor=CITIZEN,
            event_type="withdrawn",
            reason=text or "Antrag zurückgenommen",
            idempotency_key="withdrawn",
            waiting_for=None,
        )
        if payment is not None:
            ctx.dbos_client.send_in_transaction(
                session,
                payment_workflow_id(case.id),
                {"status": "withdrawn"},
                topic=PAYMENT_TOPIC,
                idempotency_key=f"withdrawn-{payment.id}",
            )
        return case


def _why_no_withdrawal(case: Case, payment: Payment | None) -> str:
    if payment is not None and payment.status == "paid" and case.decided_at is None:
        return (
            "Die Gebühr ist bezahlt und der Bescheid wird gerade erstellt; eine Rücknahme ist "
            "nicht mehr möglich. (The fee is paid and the notice is being issued.)"
        )
    if case.decided_at is not None:
        return (
            "Über Ihren Antrag ist bereits entschieden; Sie können gegen den Bescheid "
            "Widerspruch einlegen. (The application is decided; you can object to the notice.)"
        )
    return "Der Vorgang ist abgeschlossen. (The case is closed.)"


def answer_question(ctx: AppContext, identity: Identity, case_id: str, answer: str) -> ActionResult:
    """The citizen answers the department's question; the case goes back to the clerk."""
    text = _statement(answer, required=True, what="Ihre Antwort")
    with unit_of_work(ctx.engine) as session:
        case = queries.get_case(session, identity, case_id)
        question = session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.type == "question_asked")
            .order_by(col(CaseEvent.seq).desc())
        ).first()
        key = f"answer:{question.seq}" if question is not None else "answer"
        existing = _task(session, case.id, key)
        if existing is not None:
            return ActionResult(_task_view(existing), case.status, created=False)
        if case.status != CaseStatus.AWAITING_CITIZEN or question is None:
            raise Conflict("Zu Ihrem Antrag ist keine Frage offen. (There is no open question.)")
        task = CaseTask(
            case_id=case.id,
            department=case.department,
            kind="answer",
            key=key,
            statement=text,
            legal_basis="§ 26 Abs. 2 VwVfG",
            created_by=CITIZEN.label,
        )
        session.add(task)
        session.flush()
        move_case(
            ctx,
            session,
            case,
            CaseStatus.IN_REVIEW,
            actor=CITIZEN,
            event_type="question_answered",
            payload={"task": task.id, "question": question.seq},
            idempotency_key=key,
        )
        return ActionResult(_task_view(task), case.status, created=True)


def ask_citizen(ctx: AppContext, clerk: Identity, case_id: str, question: str) -> Case:
    """A clerk of the owning department asks the citizen something (for the console)."""
    text = (question or "").strip()
    if not text or len(text) > 2000:
        raise InvalidInput(
            "Bitte eine Frage mit höchstens 2000 Zeichen. (A question of up to 2000 characters.)"
        )
    with unit_of_work(ctx.engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound("Diesen Vorgang gibt es nicht. (Case not found.)")
        if not clerk.is_clerk or clerk.department != case.department:
            raise Forbidden("Nur die zuständige Stelle kann nachfragen. (Wrong department.)")
        if case.status not in (CaseStatus.REFERRED, CaseStatus.IN_REVIEW):
            raise Conflict("Nachfragen sind nur während der Prüfung möglich.")
        return move_case(
            ctx,
            session,
            case,
            CaseStatus.AWAITING_CITIZEN,
            actor=Actor.clerk(clerk.sub),
            event_type="question_asked",
            payload={"question": text},
            facts={"question": text},
            waiting_for="Ihre Antwort auf eine Rückfrage",
        )
