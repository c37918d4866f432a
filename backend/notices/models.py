"""Tables of issued notices: the signing keys and every notice issued, for /verify."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from backend.columns import SensitiveJSON, optional_time, stamped


class NoticeKey(SQLModel, table=True):
    """Public half of a notice signing key; every process publishes its key here for /verify."""

    __tablename__ = "notice_keys"

    kid: str = Field(primary_key=True, max_length=64)
    alg: str = Field(max_length=16)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    tenant: str | None = Field(default=None, max_length=40)
    """The tenant whose notices it signs; None: the home tenant (or the platform before it)."""
    created_at: datetime = stamped(nullable=False)
    retired_at: datetime | None = optional_time()


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
    created_at: datetime = stamped(nullable=False)
    revoked_at: datetime | None = optional_time()
