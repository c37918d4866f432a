"""Fees of a case: what is due, opening the payment, recording it as paid, reminding, expiring.

The case workflow waits for the payment durably (see cases/payment_wait.py). Whoever learns
that a payment was made (the webhook, or the workflow asking the provider) records it with
``record_paid`` in one transaction with a DBOS message to the waiting workflow, so the case
moves on exactly once, whichever comes first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.columns import aware, utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import FeeBooking, ServiceDefinition
from backend.documents.render import date_de, local_date, money_de
from backend.errors import NotFound
from backend.payments.factory import build_provider
from backend.payments.models import Payment
from backend.payments.provider import (
    OrderItem,
    PaymentOrder,
    ProviderPayment,
    ProviderUnavailable,
)
from backend.records.audit import record_event
from backend.records.models import Case, CaseTask

log = logging.getLogger("knopfdruck.payments")

PAYMENT_TOPIC = "payment"


def payment_workflow_id(case_id: str) -> str:
    return f"case-{case_id}-payment"


@dataclass(frozen=True)
class FeeItem:
    id: str
    label_de: str
    label_en: str
    amount: Decimal
    legal_reference: str
    booking: FeeBooking | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": {"de": self.label_de, "en": self.label_en},
            "amount": f"{self.amount:.2f}",
            "legal_reference": self.legal_reference,
            **({"booking": self.booking.model_dump(exclude_none=True)} if self.booking else {}),
        }


def fees_due(definition: ServiceDefinition, decision: dict[str, Any]) -> list[FeeItem]:
    """The fees the rules computed for an approval; nothing is due for any other outcome."""
    if decision.get("outcome") != "approved":
        return []
    amounts = decision.get("amounts") or {}
    items = []
    for fee in definition.fees:
        if fee.id in amounts:
            amount = Decimal(str(amounts[fee.id]))
            if amount > 0:
                items.append(
                    FeeItem(
                        fee.id,
                        fee.label.de,
                        fee.label.en,
                        amount,
                        fee.legal_reference,
                        fee.booking,
                    )
                )
    return items


def kassenzeichen_for(case_reference: str, items: list[FeeItem]) -> str:
    """The Kassenzeichen: the first booked fee's prefix and the case reference, or the reference.

    'KD-2026-ABCD-EFGH' with prefix '6620' gives '6620-2026-ABCD-EFGH': at most 27 characters,
    so it fits the Verwendungszweck of a transfer (XBezahldienste ``purpose``) whole.
    """
    prefix = next((item.booking.kassenzeichen_prefix for item in items if item.booking), None)
    if prefix is None:
        return case_reference
    return f"{prefix}-{case_reference.removeprefix('KD-')}"


def new_payment(ctx: AppContext, case: Case, items: list[FeeItem]) -> Payment:
    """The payment row, with reminder and deadline fixed now from the settings."""
    now = utcnow()
    settings = ctx.settings
    return Payment(
        case_id=case.id,
        provider=settings.payment_provider,
        amount=f"{sum((item.amount for item in items), Decimal('0')):.2f}",
        currency="EUR",
        items=[item.as_json() for item in items],
        kassenzeichen=kassenzeichen_for(case.reference, items),
        created_at=now,
        remind_at=now + timedelta(seconds=settings.payment_reminder_after_s),
        due_at=now + timedelta(seconds=settings.payment_deadline_s),
    )


def payment_of(session: Session, case_id: str) -> Payment | None:
    return session.exec(select(Payment).where(Payment.case_id == case_id)).first()


def waiting_text(payment: Payment) -> str:
    """What the case waits for, as the citizen and the console read it."""
    due = local_date(aware(payment.due_at))
    return f"Zahlung der Gebühr von {money_de(Decimal(payment.amount))} bis {date_de(due)}"


def open_at_provider(ctx: AppContext, case_id: str) -> Payment:
    """Create the payment at the provider once (its idempotency key is our payment id).

    An unreachable provider is not an error of the case: the case shows that it waits for
    the provider, and the payment workflow tries again (see cases/payment_wait.py).
    """
    with unit_of_work(ctx.engine) as session:
        payment = payment_of(session, case_id)
        case = session.get(Case, case_id)
        if payment is None or case is None:
            raise LookupError(f"no payment for case {case_id}")
        if payment.provider_ref is not None or payment.status != "open":
            return payment
        definition = ctx.case_definition(case)
        order = PaymentOrder(
            payment_id=payment.id,
            amount=Decimal(payment.amount),
            currency=payment.currency,
            description=f"{definition.title.de}, Aktenzeichen {case.reference}",
            reference=case.reference,
            return_url=f"{ctx.settings.base_url}/cases/{case.id}",
            webhook_url=f"{ctx.settings.base_url}/api/v1/payments/webhooks/{payment.provider}",
            kassenzeichen=payment.kassenzeichen,
            items=tuple(_order_item(item) for item in payment.items),
            status_return_url=f"{ctx.settings.base_url}/api/v1/payments/return/{payment.id}",
            endpoint_id=next(
                (
                    item["booking"]["endpoint_id"]
                    for item in payment.items
                    if item.get("booking", {}).get("endpoint_id")
                ),
                None,
            ),
        )
    # The HTTP call runs outside any transaction; a retry sends the same idempotency key.
    try:
        created = build_provider(ctx.settings, payment.provider).create(order)
    except ProviderUnavailable as exc:
        log.warning("payment of case %s could not be opened: %s", case_id, exc)
        _set_waiting(ctx, case_id, PROVIDER_DOWN)
        return payment
    with unit_of_work(ctx.engine) as session:
        session.execute(
            update(Payment)
            .where(col(Payment.id) == order.payment_id, col(Payment.provider_ref).is_(None))
            .values(provider_ref=created.provider_ref, pay_url=created.pay_url)
        )
        stored = session.get(Payment, order.payment_id)
        assert stored is not None
        session.execute(
            update(Case)
            .where(col(Case.id) == case_id, col(Case.status) == "awaiting_payment")
            .values(waiting_for=waiting_text(stored))
        )
        if created.status == "paid" and stored.status == "open":
            record_paid(ctx, session, stored, paid_at=created.paid_at, source="provider")
        return stored


def _order_item(stored: dict[str, Any]) -> OrderItem:
    booking = stored.get("booking") or {}
    return OrderItem(
        id=str(stored["id"]),
        label=str(stored["label"]["de"]),
        amount=Decimal(str(stored["amount"])),
        booking={
            key: str(booking[key]) for key in ("haushaltsstelle", "sachkonto") if key in booking
        },
    )


PROVIDER_DOWN = "Zahlungsanbieter nicht erreichbar; die Zahlung wird erneut eingerichtet"


def _set_waiting(ctx: AppContext, case_id: str, text: str) -> None:
    with unit_of_work(ctx.engine) as session:
        session.execute(
            update(Case)
            .where(col(Case.id) == case_id, col(Case.status) == "awaiting_payment")
            .values(waiting_for=text)
        )


def record_paid(
    ctx: AppContext,
    session: Session,
    payment: Payment,
    *,
    paid_at: datetime | None,
    source: str,
    event_id: str | None = None,
) -> str:
    """Mark the payment paid (once) and wake the waiting workflow, in the caller's transaction.

    Returns 'paid', 'already_paid', or 'late' (paid after we gave up: a refund task).
    """
    # In UTC: SQLite keeps no offset, and a platform may report local time.
    when = aware(paid_at).astimezone(UTC) if paid_at else utcnow()
    moved = session.execute(
        update(Payment)
        .where(col(Payment.id) == payment.id, col(Payment.status) == "open")
        .values(status="paid", paid_at=when)
    )
    session.refresh(payment)
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        if payment.status == "paid":
            return "already_paid"
        _late_payment(session, payment, source=source)
        return "late"
    record_event(
        session,
        payment.case_id,
        "payment_received",
        actor="system",
        reason=f"Zahlung über {payment.provider} bestätigt ({source})",
        payload={
            "payment": payment.id,
            "amount": payment.amount,
            "currency": payment.currency,
            "source": source,
            **({"webhook_event": event_id} if event_id else {}),
        },
        idempotency_key="payment:paid",
    )
    ctx.dbos_client.send_in_transaction(
        session,
        payment.waiter or payment_workflow_id(payment.case_id),
        {"status": "paid"},
        topic=PAYMENT_TOPIC,
        idempotency_key=f"paid-{payment.id}",
    )
    return "paid"


def _late_payment(session: Session, payment: Payment, *, source: str) -> None:
    """Money arrived for an application that no longer waits: the department refunds it."""
    case = session.get(Case, payment.case_id)
    if case is None:
        return
    record_event(
        session,
        case.id,
        "late_payment_received",
        actor="system",
        reason=f"Zahlung nach Ende des Verfahrens ({payment.status}); Erstattung nötig",
        payload={"payment": payment.id, "amount": payment.amount, "source": source},
        idempotency_key="payment:late",
    )
    _refund_task(
        session,
        case,
        f"{payment.amount} {payment.currency} nach Ende des Verfahrens bezahlt",
    )
    log.warning("late payment for case %s; refund task created", case.id)


def _refund_task(session: Session, case: Case, statement: str) -> None:
    """The department's task to pay money back; one per case, as a case has one payment."""
    if (
        session.exec(
            select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.key == "refund")
        ).first()
        is None
    ):
        session.add(
            CaseTask(
                case_id=case.id,
                department=case.department,
                kind="refund",
                key="refund",
                statement=statement,
                legal_basis="Erstattung überzahlter Gebühren (vgl. § 21 BGebG)",
                created_by="system",
            )
        )


def refund_after_new_decision(session: Session, case: Case, outcome: str) -> bool:
    """A paid approval was replaced (Abhilfe after an objection, or a review) by a decision
    that costs nothing: the fee is no longer owed and goes back, under its Kassenzeichen."""
    payment = payment_of(session, case.id)
    if outcome == "approved" or payment is None or payment.status != "paid":
        return False
    record_event(
        session,
        case.id,
        "refund_requested",
        actor="system",
        reason="Gebühr nach neuer Entscheidung nicht mehr geschuldet; Erstattung nötig",
        payload={
            "payment": payment.id,
            "amount": payment.amount,
            "currency": payment.currency,
            "kassenzeichen": payment.kassenzeichen,
        },
        idempotency_key="payment:refund",
    )
    _refund_task(
        session,
        case,
        f"{payment.amount} {payment.currency} unter Kassenzeichen {payment.kassenzeichen} "
        "erstatten: die Gebühr ist nach der neuen Entscheidung nicht mehr geschuldet",
    )
    return True


def provider_state(ctx: AppContext, payment: Payment) -> ProviderPayment | None:
    """Ask the provider, for when a webhook did not arrive; None when it cannot say."""
    if payment.provider_ref is None:
        return None
    return build_provider(ctx.settings, payment.provider).fetch(payment.provider_ref)


def close_payment(session: Session, payment: Payment, status: str) -> bool:
    """open → expired/cancelled; False when it was paid (or closed) meanwhile."""
    moved = session.execute(
        update(Payment)
        .where(col(Payment.id) == payment.id, col(Payment.status) == "open")
        .values(status=status, closed_at=utcnow())
    )
    session.refresh(payment)
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


def seconds_until(moment: datetime) -> float:
    return max(0.0, (aware(moment) - utcnow()).total_seconds())


def confirm_return(ctx: AppContext, payment_id: str) -> str:
    """The citizen is back from the payment platform: ask it (a return proves nothing), record
    a payment it confirms, and name the case to show. Raises NotFound for an unknown payment."""
    with Session(ctx.engine) as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise NotFound("Diese Zahlung gibt es nicht. (No such payment.)")
    if payment.status != "open" or payment.provider_ref is None:
        return payment.case_id
    try:
        remote = provider_state(ctx, payment)
    except ProviderUnavailable as exc:
        # The waiting workflow asks again at the reminder and at the deadline.
        log.warning("payment %s: state not available on return (%s)", payment.id, exc)
        return payment.case_id
    if remote is None or remote.status != "paid":
        return payment.case_id
    if remote.amount != Decimal(payment.amount) or remote.currency != payment.currency:
        log.warning("payment %s: the platform reports another amount or currency", payment.id)
        return payment.case_id
    with unit_of_work(ctx.engine) as session:
        fresh = session.get(Payment, payment_id)
        if fresh is None:  # deleted by retention meanwhile: nothing left to mark paid
            return payment.case_id
        record_paid(ctx, session, fresh, paid_at=remote.paid_at, source="return")
    return payment.case_id
