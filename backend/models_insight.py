"""Tables and indexes of the console's insight work (dashboard, impact analysis, counter).

Imported by backend.all_models for migrations and checks; the indexes on ``cases`` and
``case_events`` are declared here, next to the dashboard queries they serve, so that the
models and migration 0006_insight agree without touching the foundation's table modules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, Table
from sqlmodel import Field, SQLModel

from backend.models import Case, CaseEvent, utcnow


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
