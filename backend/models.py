"""Persistent tables: applications, cases, the append-only case log, documents, sessions,
access log.

Ids that appear in URLs are random UUIDs, never sequential, so nobody can walk them.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.crypto import SensitiveJSON  # income, IBAN, tax id encrypted at rest (issue 9)


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# Crockford-like alphabet without 0/O and 1/I/L, so a reference can be read out on the phone.
_REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference(now: datetime | None = None) -> str:
    year = (now or utcnow()).year
    tail = "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))
    return f"KD-{year}-{tail[:4]}-{tail[4:]}"


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), **kw))


class Application(SQLModel, table=True):
    """A citizen's draft: prefilled values with provenance plus what only the citizen can answer."""

    __tablename__ = "applications"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    service: str = Field(index=True, max_length=64)
    service_version: str = Field(max_length=32)
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
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
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
    submitted_at: datetime = _ts(nullable=False)
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    updated_at: datetime = _ts(nullable=False)


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
    at: datetime = _ts(nullable=False)
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
    created_at: datetime = _ts(nullable=False)


class RegistryAccess(SQLModel, table=True):
    """One registry read, for the data cockpit (§ 10 OZG): names of attributes, never values."""

    __tablename__ = "registry_accesses"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False)
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


class PortalSession(SQLModel, table=True):
    """A server-side browser session; the cookie holds only a random token whose hash is stored."""

    __tablename__ = "portal_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    sub: str = Field(index=True, max_length=128)
    identity: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _ts(nullable=False)
    last_seen: datetime = _ts(nullable=False)


class LoginAttempt(SQLModel, table=True):
    """State of an OIDC login in flight: PKCE verifier and nonce, bound to a browser cookie."""

    __tablename__ = "login_attempts"

    state: str = Field(primary_key=True, max_length=64)
    browser_binding: str = Field(max_length=64)
    code_verifier: str = Field(max_length=128)
    nonce: str = Field(max_length=64)
    return_to: str = Field(default="/", max_length=300)
    created_at: datetime = _ts(nullable=False)
