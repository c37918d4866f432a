"""Tables of operations: the retention log (what was deleted, when, why; never the content).

Imported by backend.all_models for migrations and checks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Integer
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
