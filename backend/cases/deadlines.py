"""A target time to decision per case (issue 17, item 4): the service's ``target_days`` from
submission, with the clock standing still while the case waits on the citizen.

Kept as two columns on the case so the worklist can sort and filter in SQL:
- ``due_at``: submission + target; every pause that ends moves it on by the pause's length;
- ``clock_paused_at``: set when the case starts waiting on the citizen, cleared when it stops.

Only the first decision counts (``decided_at``): a review or objection after it has its own
deadlines (the objection task's ``due_on``). The statutory three-month mark (§ 75 VwGO) is
separate and is never paused: a court counts the whole time (backend/console/followup.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_
from sqlmodel import col

from backend.columns import aware
from backend.documents.render import local_date
from backend.domain.case_state import CaseStatus
from backend.records.models import Case


def first_due(submitted_at: datetime, target_days: int) -> datetime:
    """When a case submitted then should be decided, before any pause."""
    return submitted_at + timedelta(days=target_days)


def clock_fields(case: Case, target: CaseStatus, now: datetime) -> dict[str, Any]:
    """The column changes of a status change: a pause starts or ends; nothing else moves."""
    waiting_before = case.status == CaseStatus.AWAITING_CITIZEN
    waiting_after = target == CaseStatus.AWAITING_CITIZEN
    if waiting_after and not waiting_before:
        return {"clock_paused_at": now}
    if waiting_before and not waiting_after:
        fields: dict[str, Any] = {"clock_paused_at": None}
        if case.due_at is not None and case.clock_paused_at is not None:
            fields["due_at"] = aware(case.due_at) + (now - aware(case.clock_paused_at))
        return fields
    return {}


@dataclass(frozen=True)
class Clock:
    """What the console shows of a case's target: due day, whether it is late, or paused."""

    due_on: date | None
    late: bool
    paused_since: date | None


def clock_of(case: Case, now: datetime) -> Clock:
    """The target clock of one case at ``now``; a decided case has none left to show."""
    if case.due_at is None or case.decided_at is not None:
        return Clock(None, False, None)
    due = aware(case.due_at)
    if case.clock_paused_at is not None:
        paused = aware(case.clock_paused_at)
        # While paused the due day moves on day by day: show where it stands today.
        return Clock(local_date(due + (now - paused)), False, local_date(paused))
    return Clock(local_date(due), now > due, None)


def late_clause(now: datetime) -> Any:
    """SQL: undecided, the clock running, and the target passed."""
    return and_(
        col(Case.decided_at).is_(None),
        col(Case.clock_paused_at).is_(None),
        col(Case.due_at).is_not(None),
        col(Case.due_at) < now,
    )
