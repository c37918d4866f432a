"""Tables of the supervision console: automation switches, assignments, clerks, pending
decisions, QA reviews, follow-ups, absences, saved filters, counter applications, and the
indexes on cases and case_events that the dashboard queries need.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.columns import new_id, optional_time, stamped, utcnow
from backend.records.models import Case, CaseEvent


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
    assigned_at: datetime = stamped(nullable=False)


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
    proposed_at: datetime = stamped(nullable=False)
    second_by: str | None = Field(default=None, max_length=128)
    second_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    second_at: datetime | None = optional_time()


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
    at: datetime = stamped(nullable=False)


class CaseFollowUp(SQLModel, table=True):
    """A Wiedervorlage: the date a clerk wants a case back on the worklist, with a note."""

    __tablename__ = "case_follow_ups"
    __table_args__ = (Index("ix_case_follow_ups_department_due", "department", "due_on"),)

    case_id: str = Field(primary_key=True, foreign_key="cases.id", max_length=32)
    department: str = Field(max_length=64)
    due_on: date
    note: str = Field(max_length=500)
    set_by: str = Field(max_length=128)
    set_by_name: str = Field(max_length=200)
    set_at: datetime = stamped(nullable=False)


class ClerkAbsence(SQLModel, table=True):
    """An absence with its substitute, who sees the absent clerk's cases as their own meanwhile."""

    __tablename__ = "clerk_absences"
    __table_args__ = (Index("ix_clerk_absences_department_substitute", "department", "substitute"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    department: str = Field(max_length=64)
    clerk: str = Field(max_length=128)
    clerk_name: str = Field(max_length=200)
    substitute: str = Field(max_length=128)
    substitute_name: str = Field(max_length=200)
    starts_on: date
    ends_on: date
    created_at: datetime = stamped(nullable=False)


class SavedFilter(SQLModel, table=True):
    """A worklist filter a clerk named and keeps (issue 17, item 2): only its own, only the
    worklist's known parameters, stored as the query string the worklist reads."""

    __tablename__ = "console_saved_filters"
    __table_args__ = (UniqueConstraint("clerk", "name", name="uq_console_saved_filters_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    clerk: str = Field(index=True, max_length=128)
    department: str = Field(max_length=64)
    name: str = Field(max_length=60)
    query: str = Field(max_length=500)
    created_at: datetime = stamped(nullable=False)


class AssistedApplication(SQLModel, table=True):
    """An application a clerk made at the counter for a citizen identified in person.

    Links the draft (and later its case) to the clerk and department who took it, so the
    counter clerk can finish it and print the notice, and nobody else can.
    """

    __tablename__ = "assisted_applications"

    application_id: str = Field(primary_key=True, foreign_key="applications.id", max_length=32)
    department: str = Field(index=True, max_length=64)
    clerk_sub: str = Field(max_length=128)
    citizen_sub: str = Field(max_length=128)
    citizen_name: str = Field(max_length=200)
    channel: str = Field(default="counter", max_length=16)
    case_id: str | None = Field(default=None, foreign_key="cases.id", max_length=32)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    # Evidence of the identification (backend/console/counter_identity.py); empty on drafts
    # taken before the counter checked identities.
    identification: str | None = Field(default=None, max_length=32)
    """melderegister, melderegister_ausweis or ausweis."""
    identified_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    trust_level: str | None = Field(default=None, max_length=16)
    id_document_kind: str | None = Field(default=None, max_length=32)
    id_document_number: str | None = Field(default=None, max_length=20)
    id_document_authority: str | None = Field(default=None, max_length=200)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


_cases = _table(Case)


_events = _table(CaseEvent)


DASHBOARD_INDEXES = (
    # Volume per day/week/month and the trend: one department's submissions in a period.
    Index("ix_cases_department_submitted_at", _cases.c.department, _cases.c.submitted_at),
    # Manual decisions in the window.
    Index("ix_cases_department_decided_at", _cases.c.department, _cases.c.decided_at),
    # Automated decisions and referrals in the window: events of one type since a moment.
    Index("ix_case_events_type_at", _events.c.type, _events.c.at),
    # "Was this case decided by the engine?" for each manually decided case.
    Index("ix_case_events_case_id_type", _events.c.case_id, _events.c.type),
)


"""Indexes the dashboard needs with 100,000 cases (benchmarks/console_queries.py)."""


class ServiceDraft(SQLModel, table=True):
    """A new version of a service (or a new service) as a department's designer writes it.

    The YAML text is the draft's truth, as the published file will be. Its life: draft →
    in_review → published, or back to returned with the reviewer's comment. A published row
    is never changed again and is the record of who wrote, who approved and from when the
    version applies (issue 15, part 2).
    """

    __tablename__ = "service_drafts"
    __table_args__ = (Index("ix_service_drafts_department_status", "department", "status"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    service: str = Field(max_length=64)
    department: str = Field(max_length=64)
    new_service: bool = Field(default=False)
    base_version: str | None = Field(default=None, max_length=32)
    """The version the draft started from; None for a new service."""
    text: str = Field(sa_column=Column(Text, nullable=False))
    tests_text: str = Field(sa_column=Column(Text, nullable=False))
    """The service's integrator test cases (tests/cases.yaml) as they will be published."""
    status: str = Field(default="draft", max_length=16)
    """draft · in_review · returned · published · discarded"""
    author: str = Field(max_length=128)
    author_name: str = Field(max_length=200)
    created_at: datetime = stamped(nullable=False)
    updated_at: datetime = stamped(nullable=False)
    checks: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """The last check of exactly this text: validate problems, test results, impact."""
    checked_sha: str | None = Field(default=None, max_length=64)
    submitted_at: datetime | None = optional_time()
    reviewer: str | None = Field(default=None, max_length=128)
    reviewer_name: str | None = Field(default=None, max_length=200)
    review_comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reviewed_at: datetime | None = optional_time()
    valid_from: date | None = None
    published_version: str | None = Field(default=None, max_length=32)
    published_at: datetime | None = optional_time()


class CatalogueRevision(SQLModel, table=True):
    """One publication of a service version; every web process and worker follows the newest
    id and reloads the services folder when it changes, without a restart."""

    __tablename__ = "catalogue_revisions"

    id: int | None = Field(default=None, primary_key=True)
    service: str = Field(max_length=64)
    version: str = Field(max_length=32)
    draft_id: str = Field(max_length=32)
    department: str = Field(max_length=64)
    published_by: str = Field(max_length=128)
    published_at: datetime = stamped(nullable=False)
