"""One completion for every way a case gets its decision: register, notice, decided, notified.

The machine (``completion_workflow.complete_case``), a clerk's decision, a re-run, a review,
an objection remedied and a QA overturn all end here, in this order:

1. a changed decision (round > 0) cancels the register entries earlier rounds made;
2. the entries due for the outcome are written (``backend/cases/writeback.py``, with the
   provenance of every value), each once per round;
3. only when every entry of the round is in its register: the notice (or certificate) with its
   reasons, under a document id of its own per round;
4. decided (by the person who decided, or the system) and notified (the platform's job).

Each stage is idempotent and guarded by the case's state and log, so the durable workflow and
the console's inline call run the same code, and a retry after an incident (the clerk's
"erneut versuchen" enqueues the ``complete`` workflow) finishes what the first run began.

Decision (the issue is silent on the order when a register fails after a person decided): the
person's decision is stored, no notice goes out, and an incident tells the department; a notice
that claims an entry the register does not hold is the defect this module exists to prevent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from backend.cases.incidents import raise_incident
from backend.cases.lifecycle import load_case, move_case, refer_or_note
from backend.cases.writeback import (
    cancel_stale_entries,
    event_key,
    perform_writebacks,
    planned_writebacks,
    standing_entries,
)
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.domain.case_state import Actor, CaseStatus
from backend.notices.content import UncertifiedContent
from backend.notices.issue import issue_documents
from backend.records.models import Case, CaseEvent, CaseTask

SYSTEM = Actor.system()
PERSON_STATES = (
    CaseStatus.REFERRED,
    CaseStatus.IN_REVIEW,
    CaseStatus.OBJECTION,
    CaseStatus.AWAITING_CITIZEN,
)
"""States in which a person's decision waits for its completion."""
MACHINE_STATES = (CaseStatus.PROCESSING, CaseStatus.AWAITING_PAYMENT)
"""States in which the machine's (or a fee-bound clerk's) decision waits for its completion."""


@dataclass(frozen=True)
class DecisionRound:
    """Which decision of the case is being completed: 0 the first, n the n-th change."""

    number: int
    actor: Actor
    automated: bool
    reason: str | None
    kind: str | None
    withdrawal: dict[str, Any] | None = None
    """Set when the round takes a favourable decision back (backend/console/withdrawal.py)."""

    def key(self, stage: str) -> str:
        """The case log's idempotency key of a stage in this round."""
        return stage if self.number == 0 else f"{stage}:r{self.number}"


def decision_round(session: Session, case_id: str) -> DecisionRound:
    """The round of the case's latest decision, read from its log."""
    latest = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.type == "clerk_decision")
        .order_by(col(CaseEvent.seq).desc())
    ).first()
    if latest is None:
        return DecisionRound(0, SYSTEM, automated=True, reason=None, kind=None)
    payload = latest.payload or {}
    return DecisionRound(
        int(payload.get("round") or 0),
        Actor.parse(latest.actor),
        automated=False,
        reason=latest.reason,
        kind=payload.get("kind"),
        withdrawal=payload.get("withdrawal") or None,
    )


def awaits_completion(session: Session, case_id: str) -> bool:
    """Whether the case holds a decision whose completion has not run through yet."""
    case = load_case(session, case_id)
    if case.outcome not in ("approved", "rejected"):
        return False
    if case.status in MACHINE_STATES:
        return True
    if case.status not in PERSON_STATES:
        return False
    latest = session.exec(
        select(CaseEvent)
        .where(
            CaseEvent.case_id == case_id,
            col(CaseEvent.type).in_(["clerk_decision", "case_decided"]),
        )
        .order_by(col(CaseEvent.seq).desc())
    ).first()
    return latest is not None and latest.type == "clerk_decision"


def register_gap(ctx: AppContext, session: Session, case_id: str, rnd: DecisionRound) -> bool:
    """True while an entry of this round is missing or an earlier round's still stands."""
    case = load_case(session, case_id)
    definition = ctx.case_definition(case)
    written = {
        e.idempotency_key
        for e in session.exec(
            select(CaseEvent).where(
                CaseEvent.case_id == case_id, CaseEvent.type == "registry_written"
            )
        ).all()
    }
    missing = [
        i
        for i in planned_writebacks(definition, case.outcome)
        if event_key(i, rnd.number) not in written
    ]
    if missing:
        return True
    return rnd.number > 0 and bool(standing_entries(session, case_id, rnd.number))


def correct_register(ctx: AppContext, case_id: str, rnd: DecisionRound) -> str | None:
    """Cancel what earlier rounds entered; the failure's reason, or None when all is cancelled."""
    if rnd.number == 0:
        return None
    reason = rnd.reason or "Entscheidung geändert"
    outcomes = cancel_stale_entries(
        ctx, case_id, rnd.number, f"Entscheidung geändert: {reason}", actor=rnd.actor.label
    )
    failed = [o for o in outcomes if o.status == "failed"]
    return f"{failed[0].registry}: {failed[0].reason}" if failed else None


def issue_notice(ctx: AppContext, case_id: str, rnd: DecisionRound) -> list[str]:
    """The round's documents: the first decision's under their own ids, a changed one's as
    ``<id>-r<n>`` after the standing notice is revoked (``backend/notices/clerk.py``)."""
    from backend.notices.clerk import issue_clerk_documents, issue_withdrawal_notice

    if rnd.withdrawal is not None:
        # Taking a favourable decision back is its own notice (Rücknahme, Widerruf, or the
        # cancellation of a certificate), never the service's rejection of an application.
        return issue_withdrawal_notice(ctx, case_id, round_no=rnd.number, withdrawal=rnd.withdrawal)
    if rnd.number == 0:
        return issue_or_refer(ctx, case_id, automated=rnd.automated)
    return issue_clerk_documents(ctx, case_id, round_no=rnd.number)


def finish(ctx: AppContext, case_id: str, rnd: DecisionRound) -> str:
    """Decided, by whoever decided; the person's tasks on the case are done."""
    with unit_of_work(ctx.engine) as session:
        return finish_in(ctx, session, load_case(session, case_id), rnd)


def finish_in(ctx: AppContext, session: Session, case: Case, rnd: DecisionRound) -> str:
    """``finish`` inside the caller's transaction, on the case it loaded."""
    case_id = case.id
    if not awaits_completion(session, case_id):
        return str(case.status)
    if case.status == CaseStatus.AWAITING_PAYMENT:
        from backend.payments.service import payment_of

        payment = payment_of(session, case_id)
        if payment is None or payment.status != "paid":
            return str(case.status)
    if not rnd.automated:
        for task_kind, closed_as in (
            ("human_review", "done"),
            ("answer", "done"),
            ("objection", "remedied"),
        ):
            for task in session.exec(
                select(CaseTask).where(
                    CaseTask.case_id == case_id,
                    CaseTask.kind == task_kind,
                    CaseTask.status == "open",
                )
            ).all():
                task.status, task.closed_at = closed_as, utcnow()
                session.add(task)
    if case.status == CaseStatus.AWAITING_CITIZEN:
        move_case(ctx, session, case, CaseStatus.IN_REVIEW, actor=rnd.actor, event_type="resumed")
    by_machine = case.status in MACHINE_STATES
    payload: dict[str, Any] = {"outcome": case.outcome}
    if rnd.kind is not None and not by_machine:
        payload["kind"] = rnd.kind
    move_case(
        ctx,
        session,
        case,
        CaseStatus.DECIDED,
        actor=SYSTEM if by_machine else rnd.actor,
        event_type="case_decided",
        reason=None if by_machine else rnd.reason,
        payload=payload,
        idempotency_key=rnd.key("finish"),
        decided_at=utcnow(),
        waiting_for=None,
    )
    return str(case.status)


def notify(ctx: AppContext, case_id: str, rnd: DecisionRound) -> str:
    """Announcing the notice is the platform's job, whoever decided."""
    with unit_of_work(ctx.engine) as session:
        return notify_in(ctx, session, load_case(session, case_id), rnd)


def notify_in(ctx: AppContext, session: Session, case: Case, rnd: DecisionRound) -> str:
    """``notify`` inside the caller's transaction, on the case it loaded."""
    if case.status == CaseStatus.DECIDED:
        move_case(
            ctx,
            session,
            case,
            CaseStatus.NOTIFIED,
            actor=SYSTEM,
            event_type="citizen_notified",
            idempotency_key=rnd.key("notify"),
        )
    return str(case.status)


def finish_and_notify(ctx: AppContext, case_id: str, rnd: DecisionRound) -> str:
    """Decided and notified in one transaction (issue 22): one load of the case, one commit.

    A rerun finds the case decided (nothing awaits completion) and announces it, or notified.
    """
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        if finish_in(ctx, session, case, rnd) == CaseStatus.DECIDED:
            try:
                notify_in(ctx, session, case, rnd)
            except Exception as exc:
                # The incident names the stage that failed; the whole transaction rolls back,
                # so a retry finds the documents issued and decides and announces again.
                setattr(exc, FAILED_STAGE, "notify")
                raise
        return str(case.status)


FAILED_STAGE = "knopfdruck_stage"
"""An exception's attribute naming the completion stage that failed inside a combined step
(kept when DBOS records the error: an exception's attributes are pickled with it)."""


def failed_stage(exc: BaseException, default: str) -> str:
    """The stage an exception (or the last error of a step's retries) names, else ``default``."""
    errors = getattr(exc, "errors", None)
    for candidate in (exc, errors[-1] if isinstance(errors, list) and errors else None):
        stage = getattr(candidate, FAILED_STAGE, None)
        if isinstance(stage, str):
            return stage
    return default


def complete_now(ctx: AppContext, case_id: str) -> str:
    """The completion inline (console: a clerk's decision, a re-run), the same stages as the
    durable workflow; a stage that fails for good becomes an incident, never a half-issued case.
    """
    with Session(ctx.engine) as session:
        rnd = decision_round(session, case_id)
        status = load_case(session, case_id).status
        pending = awaits_completion(session, case_id)
    if not pending:
        # Decided but not yet announced (an earlier notify failed): announce; else nothing.
        return notify(ctx, case_id, rnd) if status == CaseStatus.DECIDED else str(status)
    stage = "writeback"
    try:
        failure = correct_register(ctx, case_id, rnd)
        if failure is None:
            outcomes = perform_writebacks(ctx, case_id, rnd.number)
            failed = [o for o in outcomes if o.status == "failed"]
            if failed:
                failure = f"{failed[0].registry}: {failed[0].reason}"
        with Session(ctx.engine) as session:
            if load_case(session, case_id).status == CaseStatus.REFERRED and rnd.automated:
                # The machine's write-back failed and referred the case: a person decides.
                return CaseStatus.REFERRED
            if failure is None and register_gap(ctx, session, case_id, rnd):
                failure = "register entry missing"
        if failure is not None:
            return _incident(ctx, case_id, rnd, stage, failure)
        stage = "documents"
        issue_notice(ctx, case_id, rnd)
        status = finish(ctx, case_id, rnd)
        if status != CaseStatus.DECIDED:
            return status
        stage = "notify"
        return notify(ctx, case_id, rnd)
    except Exception as exc:
        # Whatever failed, a person takes over as for the workflow (completion_workflow.guarded).
        from backend.cases.incidents import describe_failure

        return _incident(ctx, case_id, rnd, stage, describe_failure(exc))


def _incident(ctx: AppContext, case_id: str, rnd: DecisionRound, stage: str, reason: str) -> str:
    """The stage failed for good: an incident (retry runs the ``complete`` workflow)."""
    key = f"case-{case_id}-complete-inline:{rnd.number}:{stage}"
    raise_incident(ctx, case_id, stage=stage, workflow="complete", reason=reason, key=key)
    with Session(ctx.engine) as session:
        return str(load_case(session, case_id).status)


def issue_or_refer(ctx: AppContext, case_id: str, *, automated: bool) -> list[str]:
    """Issue the documents; a certificate of register content that would print typed values
    (a definition changed since the decision, say) refers the case instead of failing for
    good: no PDF, and a person decides."""
    try:
        return issue_documents(ctx, case_id, automated=automated)
    except UncertifiedContent as exc:
        refer_or_note(
            ctx,
            case_id,
            exc.message,
            {"referral_reasons": ["unverified_register_fact"]},
            "Prüfung durch die Sachbearbeitung",
            "documents:uncertified",
        )
        return []
