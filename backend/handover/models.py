"""Tables of the hand-over to Fachverfahren: deliveries and their callbacks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.columns import new_id, stamped


class Handover(SQLModel, table=True):
    """One case delivered to a department's own system; exactly one per case."""

    __tablename__ = "handovers"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    case_id: str = Field(foreign_key="cases.id", unique=True, max_length=32)
    submission_id: str = Field(default_factory=new_id, unique=True, max_length=32)
    """A placeholder until the Submission API assigns the id at announcement (``announced_at``);
    from then on the Zustelldienst's id (32 hex digits), so a retry never announces twice."""
    destination_id: str = Field(max_length=64)
    status: str = Field(default="pending", max_length=16)
    """pending → delivered → accepted | rejected; failed while delivery keeps failing."""
    key_id: str | None = Field(default=None, max_length=128)
    data_sha512: str | None = Field(default=None, max_length=128)
    attachments: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    """Id, filename, media type and SHA-512 of every attachment, never the content."""
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = stamped(nullable=False)
    announced_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    """When ``POST /v1/submissions`` created the submission whose id ``submission_id`` holds."""
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    updated_at: datetime = stamped(nullable=False)


class HandoverCallback(SQLModel, table=True):
    """The handover's event log: every verified callback once, in order, applied or ignored.

    The unique event id makes a replay a no-op; ``sequence`` numbers a submission's callbacks
    in the order they were received, ``sent_at`` is the sender's time of the event.
    """

    __tablename__ = "handover_callbacks"
    __table_args__ = (
        UniqueConstraint("submission_id", "sequence", name="uq_handover_callbacks_sequence"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=64)
    submission_id: str = Field(index=True, max_length=32)
    sequence: int
    status: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    sent_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    received_at: datetime = stamped(nullable=False)
    outcome: str = Field(max_length=16)
    """applied, or ignored (the state machine in backend.domain.handover_state refused it)."""
    handover_status: str = Field(max_length=16)
    """The handover's status when the callback arrived."""
    ignored_reason: str | None = Field(default=None, max_length=200)
