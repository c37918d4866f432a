"""Tables of a case's life: the application, the case, its log and documents, its tasks and
worker claims, drafts, incidents, E-Akte hand-overs, retention records and the decision facts
the dashboard counts.

Ids that appear in URLs are random UUIDs, never sequential, so nobody can walk them.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from backend.columns import SensitiveJSON, new_id, optional_time, stamped, utcnow

# Crockford-like alphabet without 0/O and 1/I/L, so a reference can be read out on the phone.
_REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference(now: datetime | None = None) -> str:
    year = (now or utcnow()).year
    tail = "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))
    return f"KD-{year}-{tail[:4]}-{tail[4:]}"


class Application(SQLModel, table=True):
    """A citizen's draft: prefilled values with provenance plus what only the citizen can answer."""

    __tablename__ = "applications"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    service: str = Field(index=True, max_length=64)
    service_version: str = Field(max_length=32)
    tenant: str | None = Field(default=None, max_length=40)
    """The authority (tenants/) the application is made to; None: the home authority, or the
    one body a service without local parameters names (docs/tenants.md)."""
    citizen_sub: str = Field(index=True, max_length=128)
    status: str = Field(default="draft", max_length=16)
    prefill: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(SensitiveJSON, nullable=False)
    )
    answers: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(SensitiveJSON, nullable=False)
    )
    disputes: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(SensitiveJSON, nullable=False)
    )
    remark: str | None = Field(default=None, max_length=2000)
    created_at: datetime = stamped(nullable=False)
    updated_at: datetime = stamped(nullable=False)
    submitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Case(SQLModel, table=True):
    """A submitted application under processing; holds the frozen inputs and the decision value."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("application_id", name="uq_cases_application"),
        Index("ix_cases_department_status", "department", "status"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    reference: str = Field(default_factory=new_reference, unique=True, max_length=24)
    application_id: str = Field(foreign_key="applications.id", max_length=32)
    service: str = Field(index=True, max_length=64)
    service_version: str = Field(max_length=32)
    tenant: str | None = Field(default=None, index=True, max_length=40)
    """The authority that decides the case, kept for life (a citizen who moves keeps their
    cases where they were decided); None: the home authority or a non-local service's body."""
    department: str = Field(max_length=64)
    citizen_sub: str = Field(index=True, max_length=128)
    status: str = Field(default="submitted", max_length=24)
    reference_date: date
    data: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(SensitiveJSON, nullable=False)
    )
    decision: dict[str, Any] | None = Field(
        default=None, sa_column=Column(SensitiveJSON, nullable=True)
    )
    outcome: str | None = Field(default=None, max_length=16)
    waiting_for: str | None = Field(default=None, max_length=200)
    submitted_at: datetime = stamped(nullable=False)
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    updated_at: datetime = stamped(nullable=False)
    due_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    """The service's target time to decision from submission, moved on by every pause
    (backend/cases/deadlines.py); ``None`` only for cases submitted before it existed."""
    clock_paused_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    """Set while the case waits on the citizen: the target clock stands still."""


class CaseEvent(SQLModel, table=True):
    """One entry of the append-only, hash-chained case log (the audit trail)."""

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_case_events_seq"),
        UniqueConstraint("case_id", "idempotency_key", name="uq_case_events_idem"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="cases.id", index=True, max_length=32)
    seq: int
    at: datetime = stamped(nullable=False)
    type: str = Field(max_length=48)
    actor: str = Field(max_length=160)
    reason: str | None = Field(default=None, max_length=2000)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    idempotency_key: str | None = Field(default=None, max_length=120)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class Document(SQLModel, table=True):
    """A rendered notice, certificate or receipt; stored once per case and document kind."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("case_id", "definition_id", name="uq_documents_case_def"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    case_id: str = Field(foreign_key="cases.id", index=True, max_length=32)
    definition_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    title: str = Field(max_length=200)
    filename: str = Field(max_length=200)
    media_type: str = Field(default="application/pdf", max_length=64)
    sha256: str = Field(max_length=64)
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = stamped(nullable=False)


class RegistryAccess(SQLModel, table=True):
    """One registry read, for the data cockpit (§ 10 OZG): names of attributes, never values."""

    __tablename__ = "registry_accesses"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = stamped(nullable=False)
    subject_sub: str = Field(index=True, max_length=128)
    registry_id: str = Field(max_length=64)
    attributes_requested: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    attributes_returned: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    purpose: str = Field(max_length=300)
    legal_basis: str = Field(max_length=300)
    service: str = Field(max_length=64)
    application_id: str | None = Field(default=None, max_length=32)
    case_id: str | None = Field(default=None, max_length=32)
    actor: str = Field(max_length=160)
    outcome: str = Field(max_length=16)
    duration_ms: int = 0


class CaseSearchTerm(SQLModel, table=True):
    """A keyed hash of one word of a case's applicant (name part, birth date), so a clerk finds
    "the case of Frau Mustermann" without names stored in clear or a decrypting table scan."""

    __tablename__ = "case_search_terms"
    __table_args__ = (
        UniqueConstraint("case_id", "digest", name="uq_case_search_terms"),
        Index("ix_case_search_terms_department_digest", "department", "digest"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="cases.id", index=True, max_length=32)
    department: str = Field(max_length=64)
    digest: str = Field(max_length=64)


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
    created_at: datetime = stamped(nullable=False)
    due_on: date | None = None
    closed_at: datetime | None = optional_time()


class WorkerHeartbeat(SQLModel, table=True):
    """A live worker process; a stale row means its claimed cases must be recovered."""

    __tablename__ = "worker_heartbeats"

    executor_id: str = Field(primary_key=True, max_length=128)
    hostname: str = Field(max_length=128)
    pid: int
    started_at: datetime = stamped(nullable=False)
    last_seen: datetime = stamped(nullable=False)


class KpiDecision(SQLModel, table=True):
    """One issued decision as the dashboard counts it, kept right as the case changes.

    Written in the transaction that issues a decision or records a person's hand in it
    (backend/cases/kpi_facts.py), so the dashboard reads a narrow index range instead of
    joining the window's cases to their case logs (issue 17, item 9). No personal data.
    """

    __tablename__ = "kpi_decisions"
    __table_args__ = (Index("ix_kpi_decisions_department_issued_at", "department", "issued_at"),)

    case_id: str = Field(primary_key=True, foreign_key="cases.id", max_length=32)
    """Retention deletes the fact with its case (it follows the foreign keys)."""
    department: str = Field(max_length=64)
    service: str = Field(max_length=64)
    issued_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    seconds: float
    """Submit → decision: until the engine decided (automated) or the notice was issued."""
    automated: bool


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


class EAkteHandover(SQLModel, table=True):
    """One version of a case handed to the E-Akte as xdomea 0605, and the E-Akte's receipt.

    One row per case and version (the case log's length), so the schedule hands each version
    over once; the ProzessID is derived from both, so a resent message is the same message.
    No foreign key: the receipt outlives the case (retention deletes the case only after the
    hand-over was acknowledged, and this row is the proof that it was). No content of the
    case: reference, counts, hashes and the E-Akte's answer only.
    """

    __tablename__ = "eakte_handovers"
    __table_args__ = (
        UniqueConstraint("case_id", "version", name="uq_eakte_handovers_case_version"),
        Index("ix_eakte_handovers_department_status", "department", "status"),
    )

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True, max_length=32)
    case_id: str = Field(index=True, max_length=32)
    reference: str = Field(max_length=24)
    service: str = Field(max_length=64)
    department: str = Field(max_length=64)
    version: int
    process_id: str = Field(unique=True, max_length=36)
    status: str = Field(default="pending", max_length=16)
    """pending (not yet acknowledged; retried) → acknowledged | failed (attempts used up)."""
    target: str = Field(default="", max_length=500)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    package_sha256: str = Field(default="", max_length=64)
    package_size: int = 0
    documents: int = 0
    ack_codes: str = Field(default="", max_length=200)
    ack_note: str = Field(default="", max_length=500)
    ack_xml: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    requested_by: str = Field(default="schedule", max_length=200)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    acknowledged_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class DraftProgress(SQLModel, table=True):
    """Which steps of a draft the citizen has finished, for the task list and returning later."""

    __tablename__ = "draft_progress"

    application_id: str = Field(foreign_key="applications.id", primary_key=True, max_length=32)
    steps: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = stamped(nullable=False)
