"""Tables of notifying the citizen: mailbox messages, e-mail addresses and the e-mail outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.columns import new_id, optional_time, stamped


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
    created_at: datetime = stamped(nullable=False)
    read_at: datetime | None = optional_time()


class NotificationAddress(SQLModel, table=True):
    """Where a citizen wants to be told that their mailbox has news; optional."""

    __tablename__ = "notification_addresses"

    citizen_sub: str = Field(primary_key=True, max_length=128)
    email: str = Field(max_length=254)
    updated_at: datetime = stamped(nullable=False)


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
    created_at: datetime = stamped(nullable=False)
    sent_at: datetime | None = optional_time()
