"""Tables added by the engine work; imported by backend.all_models for migrations and checks.

Payments and their webhook events, the citizen's mailbox and notification mails, the
department's task queue, and the signed notices with the keys that verify them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.crypto import SensitiveJSON
from backend.models import new_id, utcnow


def _ts(nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


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
    created_at: datetime = _ts()
    remind_at: datetime = _ts()
    due_at: datetime = _ts()
    reminded_at: datetime | None = _ts(nullable=True)
    paid_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
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
    received_at: datetime = _ts()


class MailboxMessage(SQLModel, table=True):
    """A message in the citizen's portal mailbox; one per case and event."""

    __tablename__ = "mailbox_messages"
    __table_args__ = (
        UniqueConstraint("case_id", "key", name="uq_mailbox_case_key"),
        Index("ix_mailbox_citizen_created", "citizen_sub", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    citizen_sub: str = Field(max_length=128)
    case_id: str = Field(foreign_key="cases.id", max_length=32)
    key: str = Field(max_length=80)
    """What the message is about, e.g. 'status:notified'; unique per case, so a retried step
    cannot post it twice."""
    kind: str = Field(max_length=32)
    subject_de: str = Field(max_length=200)
    subject_en: str = Field(max_length=200)
    body_de: str = Field(sa_column=Column(Text, nullable=False))
    body_en: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _ts()
    read_at: datetime | None = _ts(nullable=True)


class NotificationAddress(SQLModel, table=True):
    """Where a citizen wants to be told that their mailbox has news; optional."""

    __tablename__ = "notification_addresses"

    citizen_sub: str = Field(primary_key=True, max_length=128)
    email: str = Field(max_length=254)
    updated_at: datetime = _ts()


class EmailOutbox(SQLModel, table=True):
    """One notification mail per mailbox message, sent at most once."""

    __tablename__ = "email_outbox"
    __table_args__ = (UniqueConstraint("message_id", name="uq_email_outbox_message"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    message_id: str = Field(foreign_key="mailbox_messages.id", max_length=32)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=16)
    """pending · sending · sent · failed · uncertain"""
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)


class CaseTask(SQLModel, table=True):
    """Work for the owning department: a review request, an objection, a citizen's answer."""

    __tablename__ = "case_tasks"
    __table_args__ = (
        UniqueConstraint("case_id", "key", name="uq_case_tasks_case_key"),
        Index("ix_case_tasks_department_status", "department", "status"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    case_id: str = Field(foreign_key="cases.id", index=True, max_length=32)
    department: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    """human_review · objection · answer · refund"""
    key: str = Field(max_length=80)
    status: str = Field(default="open", max_length=16)
    statement: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    legal_basis: str = Field(max_length=200)
    created_by: str = Field(max_length=160)
    created_at: datetime = _ts()
    due_on: date | None = None
    closed_at: datetime | None = _ts(nullable=True)


class NoticeKey(SQLModel, table=True):
    """Public half of a notice signing key; every process publishes its key here for /verify."""

    __tablename__ = "notice_keys"

    kid: str = Field(primary_key=True, max_length=64)
    alg: str = Field(max_length=16)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()
    retired_at: datetime | None = _ts(nullable=True)


class IssuedNotice(SQLModel, table=True):
    """What a document's QR code vouches for: the signed key data and the printed content."""

    __tablename__ = "issued_notices"

    document_id: str = Field(primary_key=True, foreign_key="documents.id", max_length=32)
    case_id: str = Field(foreign_key="cases.id", index=True, max_length=32)
    reference: str = Field(max_length=24)
    kind: str = Field(max_length=16)
    title: str = Field(max_length=200)
    service: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    issued_on: date
    kid: str = Field(max_length=64)
    token: str = Field(sa_column=Column(Text, nullable=False))
    # The printed values (an IBAN, an income) are encrypted at rest like the case's own.
    content: dict[str, Any] = Field(sa_column=Column(SensitiveJSON, nullable=False))
    content_sha256: str = Field(max_length=64)
    pdf_sha256: str = Field(index=True, max_length=64)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)
