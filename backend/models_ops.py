"""Tables of operations: the retention log (what was deleted, when, why; never the content)
and the incidents (cases that stopped moving and need a person).

Imported by backend.all_models for migrations and checks.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Integer
from sqlmodel import Field, SQLModel

from backend.models import utcnow


class RetentionRecord(SQLModel, table=True):
    """One case deleted after its retention period: a tombstone in a hash chain of its own.

    It keeps the head hash of the deleted case log, so a copy of that log (an E-Akte export, a
    backup) can still be checked against what was deleted, and the chain of tombstones makes a
    removed or altered deletion record detectable (`knopfdruck audit verify`).
    """

    __tablename__ = "retention_log"

    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    case_id: str = Field(unique=True, max_length=32)
    reference: str = Field(max_length=24)
    service: str = Field(max_length=64)
    service_version: str = Field(max_length=32)
    retention_days: int
    legal_basis: str = Field(max_length=300)
    closed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    deleted_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    events: int
    documents: int
    chain_head: str = Field(max_length=64)
    """Hash of the last event of the deleted case log (its seal)."""
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class Incident(SQLModel, table=True):
    """A case that stopped moving and needs a person: a step failed for good, or the watchdog
    found it in a machine state longer than its service allows (issue 14, item 1).

    The technical ``reason`` is for the department's clerks and operators only; the citizen is
    told in plain words that a person is taking over. ``key`` makes raising idempotent: a
    recovered workflow or a second watchdog run never opens the same incident twice.
    """

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_department_status", "department", "status"),)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True, max_length=32)
    key: str = Field(unique=True, max_length=200)
    case_id: str = Field(foreign_key="cases.id", index=True, max_length=32)
    service: str = Field(max_length=64)
    department: str = Field(max_length=64)
    stage: str = Field(max_length=32)
    """Where the case stopped: decide, payment, writeback, documents, notify, handover, overdue."""
    workflow: str = Field(max_length=32)
    """What a retry starts again: process, complete or payment."""
    case_status: str = Field(max_length=32)
    reason: str = Field(max_length=2000)
    raised_by: str = Field(max_length=16)
    """engine (a step failed for good) or watchdog (overdue)."""
    status: str = Field(default="open", max_length=16)
    """open → retrying → (resolved | open again when the retry fails) | resolved (taken over)."""
    retries: int = 0
    raised_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    resolved_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    resolved_by: str | None = Field(default=None, max_length=200)
    resolution: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=2000)
