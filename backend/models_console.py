"""Tables of the supervision console; imported by backend.all_models for migrations and checks.

The automation switch with its history, who works on which case, the clerks a department has
seen in the console, four-eyes proposals, and the QA sample's findings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models import new_id, utcnow


def _ts(nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class AutomationSwitch(SQLModel, table=True):
    """One pause or resume of a service's automation; the newest row per service is in force.

    Kept as history, not as a flag: the department must show the council when and why it
    stopped the machine."""

    __tablename__ = "automation_switches"
    __table_args__ = (Index("ix_automation_switches_service_at", "service", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    service: str = Field(max_length=64)
    department: str = Field(max_length=64)
    paused: bool
    reason: str = Field(max_length=2000)
    actor: str = Field(max_length=160)
    actor_name: str = Field(max_length=200)
    at: datetime = _ts()


class CaseAssignment(SQLModel, table=True):
    """Who in the department works on a case now; one row per case, replaced on reassignment."""

    __tablename__ = "case_assignments"
    __table_args__ = (Index("ix_case_assignments_department_assignee", "department", "assignee"),)

    case_id: str = Field(primary_key=True, foreign_key="cases.id", max_length=32)
    department: str = Field(max_length=64)
    assignee: str = Field(max_length=128)
    """The clerk's subject id (as in the case log's 'clerk:<id>')."""
    assignee_name: str = Field(max_length=200)
    assigned_by: str = Field(max_length=128)
    assigned_at: datetime = _ts()


class ConsoleClerk(SQLModel, table=True):
    """A member of staff as last seen in the console, so colleagues can be picked by name."""

    __tablename__ = "console_clerks"
    __table_args__ = (Index("ix_console_clerks_department", "department"),)

    sub: str = Field(primary_key=True, max_length=128)
    name: str = Field(max_length=200)
    department: str = Field(max_length=64)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    last_seen: datetime = _ts()


class PendingDecision(SQLModel, table=True):
    """A decision that overturns the machine and waits for a second person (four-eyes)."""

    __tablename__ = "pending_decisions"
    __table_args__ = (Index("ix_pending_decisions_department_status", "department", "status"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    case_id: str = Field(foreign_key="cases.id", index=True, max_length=32)
    department: str = Field(max_length=64)
    action: str = Field(max_length=24)
    """decide · remedy (objection upheld, Abhilfe)"""
    outcome: str = Field(max_length=16)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    machine_outcome: str | None = Field(default=None, max_length=16)
    status: str = Field(default="pending", max_length=16)
    """pending · confirmed · refused"""
    proposed_by: str = Field(max_length=128)
    proposed_by_name: str = Field(max_length=200)
    proposed_at: datetime = _ts()
    second_by: str | None = Field(default=None, max_length=128)
    second_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    second_at: datetime | None = _ts(nullable=True)


class QaReview(SQLModel, table=True):
    """The finding on one QA-sampled case: the clerk confirmed or overturned the machine."""

    __tablename__ = "qa_reviews"
    __table_args__ = (
        UniqueConstraint("case_id", name="uq_qa_reviews_case"),
        Index("ix_qa_reviews_department_service_at", "department", "service", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="cases.id", max_length=32)
    department: str = Field(max_length=64)
    service: str = Field(max_length=64)
    machine_outcome: str = Field(max_length=16)
    final_outcome: str = Field(max_length=16)
    overturned: bool
    clerk: str = Field(max_length=128)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = _ts()
