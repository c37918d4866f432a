"""Receiving payment webhooks: verified, idempotent and replay-safe.

1. The provider checks the signature and its age (PaymentProvider.parse_webhook).
2. The event id is stored once (unique per provider): a redelivered or replayed event is
   answered 'duplicate' and changes nothing.
3. The payment moves open → paid with a compare-and-set, in the same transaction as the event
   id, the case-log entry and the message that wakes the waiting workflow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.context import AppContext
from backend.db import unit_of_work
from backend.errors import NotFound
from backend.payments.factory import PROVIDERS, build_provider
from backend.payments.models import Payment, PaymentWebhookEvent
from backend.payments.provider import WebhookEvent
from backend.payments.service import record_paid

log = logging.getLogger("knopfdruck.payments")

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    result: str
    """paid · already_paid · late · duplicate · ignored · unknown_payment · amount_mismatch"""


def _seen(session: Session, provider: str, event_id: str) -> bool:
    return (
        session.exec(
            select(PaymentWebhookEvent).where(
                PaymentWebhookEvent.provider == provider, PaymentWebhookEvent.event_id == event_id
            )
        ).first()
        is not None
    )


def _apply(ctx: AppContext, session: Session, provider: str, event: WebhookEvent) -> str:
    payment = session.exec(
        select(Payment).where(
            Payment.provider == provider, Payment.provider_ref == event.provider_ref
        )
    ).first()
    if payment is None:
        return "unknown_payment"
    if event.type != "payment.paid" or event.status != "paid":
        # Only 'paid' changes anything; an aborted attempt leaves the payment open to retry.
        return "ignored"
    if event.amount != Decimal(payment.amount) or event.currency != payment.currency:
        log.warning("webhook %s: amount or currency differs from payment %s", event.event_id,
                    payment.id)  # fmt: skip
        return "amount_mismatch"
    return record_paid(
        ctx, session, payment, paid_at=event.occurred_at, source="webhook", event_id=event.event_id
    )


def handle_webhook(
    ctx: AppContext, provider_name: str, headers: Mapping[str, str], body: bytes
) -> WebhookResult:
    """Verify, deduplicate and apply one webhook; raises WebhookRejected or NotFound."""
    if provider_name not in PROVIDERS:
        raise NotFound("Unbekannter Zahlungsanbieter. (Unknown payment provider.)")
    provider = build_provider(ctx.settings, provider_name)
    event = provider.parse_webhook(headers, body, now=time.time())
    try:
        with unit_of_work(ctx.engine) as session:
            if _seen(session, provider.name, event.event_id):
                return WebhookResult(event.event_id, "duplicate")
            result = _apply(ctx, session, provider.name, event)
            session.add(
                PaymentWebhookEvent(
                    provider=provider.name,
                    event_id=event.event_id,
                    type=event.type,
                    provider_ref=event.provider_ref,
                    result=result,
                )
            )
            session.flush()
    except IntegrityError:
        # The same event arrived twice at once; the other delivery applied it.
        return WebhookResult(event.event_id, "duplicate")
    return WebhookResult(event.event_id, result)
