"""Tables of fee payments: one payment per case and every provider webhook received."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.columns import new_id, optional_time, stamped


class Payment(SQLModel, table=True):
    """The fee of one case at the payment provider; one per case."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("case_id", name="uq_payments_case"),
        UniqueConstraint("provider", "provider_ref", name="uq_payments_provider_ref"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    case_id: str = Field(foreign_key="cases.id", max_length=32)
    provider: str = Field(max_length=32)
    provider_ref: str | None = Field(default=None, max_length=64)
    status: str = Field(default="open", max_length=16)
    """open · paid · expired · cancelled"""
    # Exact decimal string ("36.00"): SQLite has no exact decimal type.
    amount: str = Field(max_length=16)
    currency: str = Field(default="EUR", max_length=3)
    items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    pay_url: str | None = Field(default=None, max_length=500)
    kassenzeichen: str | None = Field(default=None, max_length=36, index=True)
    """The cash office's reference the fee is booked under (the fee's booking scheme, or the
    case reference); sent to the payment platform and written to the booking export."""
    created_at: datetime = stamped(nullable=False)
    remind_at: datetime = stamped(nullable=False)
    due_at: datetime = stamped(nullable=False)
    reminded_at: datetime | None = optional_time()
    paid_at: datetime | None = optional_time()
    closed_at: datetime | None = optional_time()
    waiter: str | None = Field(default=None, max_length=200)
    """Id of the workflow waiting for this payment, when it is not the first one (a clerk's
    retry after an incident, or a fee asked for afresh): 'paid' is sent there."""


class PaymentWebhookEvent(SQLModel, table=True):
    """Every webhook event id seen once: a replayed or redelivered event changes nothing."""

    __tablename__ = "payment_webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_payment_webhook_event"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    event_id: str = Field(max_length=80)
    type: str = Field(max_length=48)
    provider_ref: str | None = Field(default=None, max_length=64)
    result: str = Field(max_length=24)
    received_at: datetime = stamped(nullable=False)


class PaymentBankCredit(SQLModel, table=True):
    """Every credit of an imported camt.053 statement, once, with what it did to a payment."""

    __tablename__ = "payment_bank_credits"
    __table_args__ = (UniqueConstraint("entry_key", name="uq_payment_bank_credits_entry"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_key: str = Field(max_length=64)
    """SHA-256 of account, bank reference (or statement id and position) and transfer index."""
    statement_id: str = Field(max_length=35)
    booked_on: str = Field(max_length=10)
    amount: str = Field(max_length=24)
    currency: str = Field(max_length=3)
    remittance: str = Field(max_length=140)
    kassenzeichen: str | None = Field(default=None, max_length=36)
    payment_id: str | None = Field(default=None, max_length=32)
    case_id: str | None = Field(default=None, max_length=32)
    department: str | None = Field(default=None, max_length=64, index=True)
    result: str = Field(max_length=24)
    """paid · duplicate · amount_mismatch · unknown_kassenzeichen · late"""
    imported_at: datetime = stamped(nullable=False)
