"""Waiting durably for a case's fee, on its own workflow and queue.

``await_payment`` (queue ``payments``, id ``case-<id>-payment``): open the payment at the
provider, wait durably for the 'paid' message (DBOS.recv), remind once, expire at the deadline
(the application then counts as withdrawn), or complete once paid. A case that waits days for
its fee must not hold one of the ``cases`` queue's worker slots.
"""

from __future__ import annotations

import logging
from typing import Any

from dbos import DBOS, DBOSClient, EnqueueOptions
from sqlmodel import Session

from backend.cases.completion_workflow import (
    STEP_RETRIES,
    complete_case,
    guarded,
    retry_run,
    settle_retried_step,
)
from backend.cases.lifecycle import load_case, message_facts, move_case
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.domain.case_state import Actor, CaseStatus
from backend.engine import APP_VERSION, PAYMENT_QUEUE, PAYMENT_WORKFLOW, worker_context
from backend.notifications.messages import payment_reminder, status_changed
from backend.notifications.service import post_message
from backend.payments.factory import build_provider
from backend.payments.provider import ProviderUnavailable
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
from backend.records.audit import record_event
from backend.records.models import Case

log = logging.getLogger("knopfdruck.processing")

SYSTEM = Actor.system()


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


def request_fee(
    ctx: AppContext, session: Session, case: Case, *, actor: Actor, idempotency_key: str
) -> bool:
    """If the stored decision costs a fee: the payment row, the durable wait for it and the
    move to awaiting_payment, in the caller's transaction. False when nothing is due.

    Used by the engine after an automated approval and by the console after a clerk's."""
    items = fees_due(ctx.case_definition(case), case.decision or {})
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
        for name in (
            "provider",
            "amount",
            "items",
            "kassenzeichen",
            "created_at",
            "remind_at",
            "due_at",
        ):
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


@DBOS.step(name="knopfdruck.payment.open", **STEP_RETRIES)
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


@DBOS.step(name="knopfdruck.payment.check", **STEP_RETRIES)
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


@DBOS.step(name="knopfdruck.payment.seconds_left", **STEP_RETRIES)
def seconds_left_step(case_id: str) -> float:
    with Session(worker_context().engine) as session:
        payment = payment_of(session, case_id)
        return seconds_until(payment.due_at) if payment is not None else 0.0


@DBOS.step(name="knopfdruck.payment.remind", **STEP_RETRIES)
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


@DBOS.step(name="knopfdruck.payment.expire", **STEP_RETRIES)
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
            remote = build_provider(ctx.settings, payment.provider).cancel(payment.provider_ref)
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
    return guarded(case_id, "payment", "payment", lambda at: _await_payment(case_id, at))


def _await_payment(case_id: str, at: list[str]) -> str:
    state = open_payment_step(case_id)
    while state["status"] == "open" and not state["opened"] and state["due_in"] > 0:
        # The provider is down: the case says so (waiting_for), and we try again, durably.
        DBOS.sleep(min(state["retry_in"], state["due_in"]))
        state = open_payment_step(case_id)
    if retry_run():
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
