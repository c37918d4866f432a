"""Durable case processing: DBOS workflows whose steps are each idempotent and retried.

``process_case`` (queue ``cases``, id ``case-<id>``):
    begin → decide → referred: stop (a person decides)
                   → fee due:  open the payment, hand over to ``await_payment``, stop
                   → else:     complete
``await_payment`` (queue ``payments``, id ``case-<id>-payment``): open the payment at the
    provider, wait durably for the 'paid' message (DBOS.recv), remind once, expire at the
    deadline (the application then counts as withdrawn), or complete once paid.
``complete_case`` (queue ``documents``, id ``case-<id>-complete``): write-back (register
    entries, each a child workflow) → documents (notice or certificate with signed QR) →
    decided → notified. The case workflow queues it once the decision is stored, so decisions
    never wait behind other cases' PDFs.
``processing: external`` services are delivered to the department's Fachverfahren instead
    (backend/handover) and decided there.

Waiting for a payment gets its own workflow on its own queue: a case that waits days for
its fee must not hold one of the ``cases`` queue's worker slots.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dbos import DBOS, DBOSClient, EnqueueOptions, SetWorkflowID
from sqlalchemy import update
from sqlmodel import Session, col

from backend.cases.audit import record_event
from backend.cases.closing import close_lapsed_cases
from backend.cases.deciding import decide_case
from backend.cases.incidents import describe_failure, raise_incident, settle_retried, sweep_overdue
from backend.cases.lifecycle import clerk_decided, load_case, message_facts, move_case
from backend.cases.worker import APP_VERSION, DOCUMENTS_QUEUE, WORKFLOW, worker_context
from backend.cases.writeback import refer_or_note, run_writebacks
from backend.console.automation import is_paused
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import ServiceDefinition
from backend.documents.render import local_date
from backend.domain.case_state import Actor, CaseStatus
from backend.domain.decision import Decision
from backend.handover.delivery import handover_step
from backend.models import Case, utcnow
from backend.notices.issue import UncertifiedContent, issue_documents
from backend.notifications.delivery import register_queue as register_notifications_queue
from backend.notifications.messages import payment_reminder, status_changed
from backend.notifications.service import post_message
from backend.payments.provider import ProviderUnavailable, build_provider
from backend.payments.service import (
    PAYMENT_TOPIC,
    close_payment,
    fees_due,
    new_payment,
    open_at_provider,
    payment_of,
    payment_workflow_id,
    provider_state,
    record_paid,
    seconds_until,
    waiting_text,
)

log = logging.getLogger("knopfdruck.processing")

PAYMENT_QUEUE = "payments"
PAYMENT_WORKFLOW = "knopfdruck.await_payment"
COMPLETE_WORKFLOW = "knopfdruck.complete_case"
CLOSE_WORKFLOW = "knopfdruck.close_lapsed_cases"
WATCHDOG_WORKFLOW = "knopfdruck.watchdog"
SYSTEM = Actor.system()
_STEP: dict[str, Any] = {"retries_allowed": True, "max_attempts": 5, "interval_seconds": 0.5}


def register_engine_queues(client: DBOSClient) -> None:
    """Queues and schedules of the engine besides ``cases``; stored in the database, so once
    per deployment start is enough, from any process."""
    # No concurrency cap: a waiting payment workflow only sleeps in DBOS.recv.
    client.register_queue(PAYMENT_QUEUE, polling_interval_sec=0.5, on_conflict="always_update")
    register_notifications_queue(client)
    client.apply_schedules(
        [
            {
                "schedule_name": CLOSE_WORKFLOW,
                "workflow_name": CLOSE_WORKFLOW,
                # Nightly, German time: a deadline ends at midnight in Germany.
                "schedule": "0 15 3 * * *",
                "cron_timezone": "Europe/Berlin",
            },
            {
                # Every minute: cases in a machine state longer than their service allows
                # become incidents (backend/cases/incidents.py).
                "schedule_name": WATCHDOG_WORKFLOW,
                "workflow_name": WATCHDOG_WORKFLOW,
                "schedule": "0 * * * * *",
            },
        ]
    )


def _enqueue_payment_wait(
    client: DBOSClient, session: Session, case_id: str, workflow_id: str
) -> None:
    options: EnqueueOptions = {
        "queue_name": PAYMENT_QUEUE,
        "workflow_name": PAYMENT_WORKFLOW,
        "workflow_id": workflow_id,
        "app_version": APP_VERSION,
    }
    client.enqueue_in_transaction(session, options, case_id)


# --- steps of process_case -------------------------------------------------------------------


@DBOS.step(name="knopfdruck.begin", **_STEP)
def begin_step(case_id: str) -> str:
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        if case.status == CaseStatus.SUBMITTED:
            move_case(
                ctx,
                session,
                case,
                CaseStatus.PROCESSING,
                actor=SYSTEM,
                event_type="processing_started",
                idempotency_key="begin",
            )
        return case.status


def machine_decision(
    session: Session,
    case: Case,
    definition: ServiceDefinition,
    *,
    registry_checked: bool = False,
    qa_sample: bool = True,
) -> Decision:
    """The rules valid at the reference date, then the automation policy (backend.cases.deciding),
    with the department's automation switch read now."""
    return decide_case(
        definition,
        case.data,
        case.id,
        case.reference_date,
        paused=is_paused(session, case.service),
        registry_checked=registry_checked,
        qa_sample=qa_sample,
    )


def refer(
    ctx: AppContext, session: Session, case: Case, decision: Decision, *, idempotency_key: str
) -> None:
    """Hand the case to a person with the machine's reasons and proposal."""
    move_case(
        ctx,
        session,
        case,
        CaseStatus.REFERRED,
        actor=SYSTEM,
        event_type="referred",
        reason=", ".join(decision.referral_reasons),
        payload={
            "referral_reasons": decision.referral_reasons,
            "proposed_outcome": decision.proposed_outcome,
        },
        idempotency_key=idempotency_key,
        decision=decision.to_json(),
        outcome=decision.outcome,
        waiting_for="Prüfung durch die Sachbearbeitung",
    )


@DBOS.step(name="knopfdruck.decide", **_STEP)
def decide_step(case_id: str) -> str:
    """Apply the rules valid at the reference date; refer when the policy says a person decides."""
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        if case.outcome is not None or case.status != CaseStatus.PROCESSING:
            return case.outcome or case.status
        definition = ctx.catalogue.get(case.service, case.service_version)
        decision = machine_decision(session, case, definition, qa_sample=ctx.settings.qa_sampling)
        stored: dict[str, Any] = decision.to_json()
        if decision.outcome == "referred":
            refer(ctx, session, case, decision, idempotency_key="decide")
            return decision.outcome
        stamped = session.execute(
            update(Case)
            .where(
                col(Case.id) == case_id,
                col(Case.status) == CaseStatus.PROCESSING,
                col(Case.outcome).is_(None),
            )
            .values(decision=stored, outcome=decision.outcome, updated_at=utcnow())
        )
        if stamped.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return load_case(session, case_id).status
        record_event(
            session,
            case_id,
            "decided",
            actor=SYSTEM.label,
            payload={"outcome": decision.outcome, "rule_version": decision.rule_version},
            idempotency_key="decide",
        )
        return decision.outcome


@DBOS.step(name="knopfdruck.request_payment", **_STEP)
def request_payment_step(case_id: str) -> str:
    """When a fee is due: the payment row, the waiting workflow and the status, in one commit."""
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        if case.status == CaseStatus.AWAITING_PAYMENT:
            return "awaiting_payment"
        if case.status != CaseStatus.PROCESSING:
            return case.status
        if not request_fee(ctx, session, case, actor=SYSTEM, idempotency_key="payment:requested"):
            return "no_fee"
        return "awaiting_payment"


def request_fee(
    ctx: AppContext, session: Session, case: Case, *, actor: Actor, idempotency_key: str
) -> bool:
    """If the stored decision costs a fee: the payment row, the durable wait for it and the
    move to awaiting_payment, in the caller's transaction. False when nothing is due.

    Used by the engine after an automated approval and by the console after a clerk's."""
    items = fees_due(ctx.catalogue.get(case.service, case.service_version), case.decision or {})
    if not items:
        return False
    earlier = payment_of(session, case.id)
    if earlier is not None and earlier.status == "paid":
        # Paid before a step failed and a clerk took the case over: never charged twice.
        return False
    fresh = new_payment(ctx, case, items)
    if earlier is None:
        payment = fresh
        wait_id = payment_workflow_id(case.id)
    else:
        # Cancelled when a clerk took the case over (one payment row per case): asked afresh.
        payment = earlier
        for name in ("provider", "amount", "items", "created_at", "remind_at", "due_at"):
            setattr(payment, name, getattr(fresh, name))
        payment.status, payment.provider_ref, payment.closed_at = "open", None, None
        payment.reminded_at = None
        wait_id = f"{payment_workflow_id(case.id)}-{utcnow().strftime('%Y%m%d%H%M%S%f')}"
        payment.waiter = wait_id
    session.add(payment)
    session.flush()
    _enqueue_payment_wait(ctx.dbos_client, session, case.id, wait_id)
    move_case(
        ctx,
        session,
        case,
        CaseStatus.AWAITING_PAYMENT,
        actor=actor,
        event_type="payment_requested",
        payload={"payment": payment.id, "amount": payment.amount, "currency": "EUR"},
        idempotency_key=idempotency_key,
        waiting_for=waiting_text(payment),
    )
    return True


# --- steps of completion -------------------------------------------------------------------


@DBOS.step(name="knopfdruck.status", **_STEP)
def status_step(case_id: str) -> str:
    """The case's status now, read once and checkpointed (workflow code must not read the DB)."""
    with Session(worker_context().engine) as session:
        return str(load_case(session, case_id).status)


@DBOS.step(name="knopfdruck.documents", **_STEP)
def documents_step(case_id: str) -> list[str]:
    """Render every document the definition issues for this outcome, once per case."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        case = load_case(session, case_id)
        if case.status not in (CaseStatus.PROCESSING, CaseStatus.AWAITING_PAYMENT):
            return []
        # Decided by the rules without a person: the § 35a VwVfG statement goes on the notice;
        # a clerk's approval that waited for its fee is the clerk's notice.
        automated = not clerk_decided(session, case_id)
    return issue_or_refer(ctx, case_id, automated=automated)


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


@DBOS.step(name="knopfdruck.finish", **_STEP)
def finish_step(case_id: str) -> str:
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        if case.status == CaseStatus.AWAITING_PAYMENT:
            payment = payment_of(session, case_id)
            if payment is None or payment.status != "paid":
                return case.status
        if case.status in (CaseStatus.PROCESSING, CaseStatus.AWAITING_PAYMENT):
            move_case(
                ctx,
                session,
                case,
                CaseStatus.DECIDED,
                actor=SYSTEM,
                event_type="case_decided",
                payload={"outcome": case.outcome},
                idempotency_key="finish",
                decided_at=utcnow(),
                waiting_for=None,
            )
        return case.status


@DBOS.step(name="knopfdruck.notify", **_STEP)
def notify_step(case_id: str) -> str:
    """Tell the citizen (mailbox, and a mail if they asked for one) that the notice is there."""
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        if case.status == CaseStatus.DECIDED:
            move_case(
                ctx,
                session,
                case,
                CaseStatus.NOTIFIED,
                actor=SYSTEM,
                event_type="citizen_notified",
                idempotency_key="notify",
            )
        return case.status


@DBOS.step(name="knopfdruck.route", **_STEP)
def route_step(case_id: str) -> str:
    """``external`` when the service's Fachverfahren decides, else ``automated``."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        case = load_case(session, case_id)
    return ctx.catalogue.get(case.service).processing


def complete_case(case_id: str, at: list[str] | None = None) -> str:
    """Register entries, the decided case's documents, the decision itself, the notification.

    The write-back comes first: after the payment, before any notice exists, so an entry that
    fails for good refers the case to a person without a notice that claims it was made.
    ``at`` names the stage reached, for the incident if a step fails for good.
    """
    stage = at if at is not None else [""]
    stage[0] = "writeback"
    run_writebacks(case_id, _retry_run())
    if status_step(case_id) == CaseStatus.REFERRED:
        return CaseStatus.REFERRED
    stage[0] = "documents"
    documents_step(case_id)
    status = finish_step(case_id)
    if status != CaseStatus.DECIDED:
        return status
    stage[0] = "notify"
    return notify_step(case_id)


def _retry_run() -> str:
    """``-retry-…`` inside a clerk's retry after an incident, else empty: children of a retry
    get ids of their own, so the failed first run's records do not answer for them."""
    _, sep, rest = (DBOS.workflow_id or "").partition("-retry-")
    return f"-retry-{rest}" if sep else ""


@DBOS.step(name="knopfdruck.incident", **_STEP)
def incident_step(case_id: str, stage: str, workflow: str, reason: str, key: str) -> str:
    """A step failed for good: the case goes to its department as an incident."""
    raise_incident(
        worker_context(), case_id, stage=stage, workflow=workflow, reason=reason, key=key
    )
    return "incident"


@DBOS.step(name="knopfdruck.incident.settle", **_STEP)
def settle_retried_step(case_id: str) -> int:
    return settle_retried(worker_context(), case_id)


def _guarded(
    case_id: str, workflow: str, first_stage: str, body: Callable[[list[str]], str]
) -> str:
    """Run a workflow body; a step that fails for good becomes an incident, not a stuck case.

    DBOS's own control flow (cancellation, a lost ownership) derives from BaseException and
    passes through. On replay the failed step's recorded error takes the same path, and the
    incident step's recorded result is returned: one incident per run.
    """
    at = [first_stage]
    try:
        result = body(at)
    except Exception as exc:
        key = f"{DBOS.workflow_id}:{at[0]}"
        return incident_step(case_id, at[0], workflow, describe_failure(exc), key)
    if _retry_run():
        settle_retried_step(case_id)
    return result


@DBOS.workflow(name=COMPLETE_WORKFLOW)
def complete_case_workflow(case_id: str) -> str:
    """The decided case's completion as its own workflow on the ``documents`` queue."""
    return _guarded(case_id, "complete", "writeback", lambda at: complete_case(case_id, at))


def complete_later(case_id: str) -> str:
    """Hand the completion to the ``documents`` queue (from inside the case workflow).

    The decision is stored and shown to the citizen at once; rendering the notice takes most
    of a case's CPU time and must not hold a ``cases`` slot that the next decision needs.
    The child's id is fixed, so a recovered workflow enqueues it once.
    """
    queue = DBOS.retrieve_queue(DOCUMENTS_QUEUE)
    if queue is None:
        raise RuntimeError(f"queue {DOCUMENTS_QUEUE!r} is not registered")
    with SetWorkflowID(complete_workflow_id(case_id) + _retry_run()):
        queue.enqueue(complete_case_workflow, case_id)
    return "completing"


def complete_workflow_id(case_id: str) -> str:
    return f"case-{case_id}-complete"


def _process(case_id: str, at: list[str]) -> str:
    status = begin_step(case_id)
    if status != CaseStatus.PROCESSING:
        return status
    if route_step(case_id) == "external":
        # The department's Fachverfahren decides; its signed status callbacks move the case on
        # (backend/api/handover_callbacks.py).
        at[0] = "handover"
        return str(handover_step(case_id)["status"])
    outcome = decide_step(case_id)
    if outcome not in ("approved", "rejected"):
        return outcome
    at[0] = "payment"
    if request_payment_step(case_id) == "awaiting_payment":
        return "awaiting_payment"
    at[0] = "documents"
    return complete_later(case_id)


@DBOS.workflow(name=WORKFLOW)
def process_case(case_id: str) -> str:
    """Submitted → processing → decided (completion queued), referred, or waiting for the fee."""
    return _guarded(case_id, "process", "decide", lambda at: _process(case_id, at))


# --- waiting for the fee ---------------------------------------------------------------------


@DBOS.step(name="knopfdruck.payment.open", **_STEP)
def open_payment_step(case_id: str) -> dict[str, Any]:
    """Open the payment at the provider; returns its status and how long to wait."""
    ctx = worker_context()
    waiter = DBOS.workflow_id
    if waiter and waiter != payment_workflow_id(case_id):
        _wait_here(ctx, case_id, waiter)
    payment = open_at_provider(ctx, case_id)
    return {
        "retry_in": ctx.settings.payment_provider_retry_s,
        "status": payment.status,
        "opened": payment.provider_ref is not None,
        "remind_in": seconds_until(payment.remind_at),
        "due_in": seconds_until(payment.due_at),
    }


def _wait_here(ctx: AppContext, case_id: str, waiter: str) -> None:
    """A retried wait: the payment's 'paid' message must reach this workflow, not the first."""
    with unit_of_work(ctx.engine) as session:
        payment = payment_of(session, case_id)
        if payment is not None and payment.waiter != waiter:
            payment.waiter = waiter
            session.add(payment)


@DBOS.step(name="knopfdruck.payment.check", **_STEP)
def check_payment_step(case_id: str) -> str:
    """Our record of the payment, reconciled with the provider in case a webhook got lost."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        payment = payment_of(session, case_id)
        if payment is None:
            return "missing"
        if payment.status != "open":
            return payment.status
    try:
        remote = provider_state(ctx, payment)
    except ProviderUnavailable as exc:
        log.warning("payment of case %s: provider not reachable (%s)", case_id, exc)
        return "open"
    if remote is not None and remote.status == "paid":
        with unit_of_work(ctx.engine) as session:
            fresh = payment_of(session, case_id)
            assert fresh is not None
            record_paid(ctx, session, fresh, paid_at=remote.paid_at, source="reconciliation")
            return fresh.status
    return "open"


@DBOS.step(name="knopfdruck.payment.seconds_left", **_STEP)
def seconds_left_step(case_id: str) -> float:
    with Session(worker_context().engine) as session:
        payment = payment_of(session, case_id)
        return seconds_until(payment.due_at) if payment is not None else 0.0


@DBOS.step(name="knopfdruck.payment.remind", **_STEP)
def remind_step(case_id: str) -> None:
    """One reminder, in the mailbox and (if wanted) by mail."""
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        payment = payment_of(session, case_id)
        if payment is None or payment.status != "open" or payment.reminded_at is not None:
            return
        if case.status != CaseStatus.AWAITING_PAYMENT:
            return
        payment.reminded_at = utcnow()
        session.add(payment)
        post_message(
            ctx,
            session,
            case,
            "payment_reminder",
            payment_reminder(message_facts(ctx, session, case)),
        )
        record_event(
            session,
            case_id,
            "payment_reminder_sent",
            actor=SYSTEM.label,
            payload={"payment": payment.id},
            idempotency_key="payment:reminder",
        )


@DBOS.step(name="knopfdruck.payment.expire", **_STEP)
def expire_step(case_id: str) -> str:
    """The deadline passed: cancel at the provider; unless it was paid, the application counts
    as withdrawn (cf. § 15 Abs. 2 BGebG, advance payment not made in time)."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        payment = payment_of(session, case_id)
        if payment is None:
            return "missing"
        if payment.status != "open":
            return payment.status
    remote = None
    if payment.provider_ref is not None:
        try:
            remote = build_provider(ctx.settings).cancel(payment.provider_ref)
        except ProviderUnavailable as exc:
            # Expire anyway: money that still arrives is recorded as late and refunded.
            log.warning("payment of case %s: could not cancel at provider (%s)", case_id, exc)
    with unit_of_work(ctx.engine) as session:
        fresh = payment_of(session, case_id)
        assert fresh is not None
        if remote is not None and remote.status == "paid":
            record_paid(ctx, session, fresh, paid_at=remote.paid_at, source="reconciliation")
            return fresh.status
        if not close_payment(session, fresh, "expired"):
            return fresh.status
        case = load_case(session, case_id)
        if case.status != CaseStatus.AWAITING_PAYMENT:
            return "expired"
        facts = message_facts(ctx, session, case, withdrawn_by_system=True)
        move_case(
            ctx,
            session,
            case,
            CaseStatus.WITHDRAWN,
            actor=SYSTEM,
            event_type="payment_expired",
            reason="Gebühr nicht fristgerecht bezahlt; der Antrag gilt als zurückgenommen "
            "(vgl. § 15 Abs. 2 BGebG)",
            payload={"payment": fresh.id},
            idempotency_key="payment:expired",
            message=status_changed("withdrawn", facts),
            waiting_for=None,
        )
        return "expired"


def _paid(message: Any) -> str | None:
    if isinstance(message, dict) and isinstance(message.get("status"), str):
        return str(message["status"])
    return None


@DBOS.workflow(name=PAYMENT_WORKFLOW)
def await_payment(case_id: str) -> str:
    """Wait for the fee: reminder once, cancellation at the deadline, completion when paid."""
    return _guarded(case_id, "payment", "payment", lambda at: _await_payment(case_id, at))


def _await_payment(case_id: str, at: list[str]) -> str:
    state = open_payment_step(case_id)
    while state["status"] == "open" and not state["opened"] and state["due_in"] > 0:
        # The provider is down: the case says so (waiting_for), and we try again, durably.
        DBOS.sleep(min(state["retry_in"], state["due_in"]))
        state = open_payment_step(case_id)
    if _retry_run():
        # The retried step got through; waiting for the citizen's money is no incident.
        settle_retried_step(case_id)
    status: str = state["status"]
    if status == "open":
        status = _paid(DBOS.recv(PAYMENT_TOPIC, timeout_seconds=state["remind_in"])) or (
            check_payment_step(case_id)
        )
    if status == "open":
        remind_step(case_id)
        wait = seconds_left_step(case_id)
        status = _paid(DBOS.recv(PAYMENT_TOPIC, timeout_seconds=wait)) or check_payment_step(
            case_id
        )
    if status == "open":
        status = expire_step(case_id)
    if status == "paid":
        return complete_case(case_id, at)
    return status


# --- closing final decisions -----------------------------------------------------------------


@DBOS.step(name="knopfdruck.close_lapsed", **_STEP)
def close_lapsed_step() -> int:
    return len(close_lapsed_cases(worker_context(), local_date(utcnow())))


@DBOS.step(name="knopfdruck.watchdog.sweep", **_STEP)
def watchdog_step() -> int:
    return len(sweep_overdue(worker_context()))


@DBOS.workflow(name=WATCHDOG_WORKFLOW)
def watchdog(scheduled_time: datetime, context: Any) -> None:
    """Every minute: cases that stopped moving without an error become incidents too."""
    watchdog_step()


@DBOS.workflow(name=CLOSE_WORKFLOW)
def close_lapsed(scheduled_time: datetime, context: Any) -> None:
    """Nightly: decided cases whose objection period is over become 'closed'."""
    while close_lapsed_step() > 0:
        pass
