"""The dashboard's database reads: one query per figure, each served by an index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import String, and_, case, cast, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from backend.columns import aware
from backend.console.kpis.figures import PeriodStarts, _start_of, age_bound, age_marks
from backend.console.models import QaReview
from backend.domain.case_state import CaseStatus
from backend.records import kpi_facts
from backend.records.models import Case, CaseEvent, KpiDecision

BACKLOG_STATUSES = (CaseStatus.REFERRED, CaseStatus.IN_REVIEW, CaseStatus.OBJECTION)
REFERRED_EVENT = "referred"


def _decisions(session: Session, department: str, since: datetime) -> Decisions:
    """Every decision issued since a moment, split by whether the engine made it.

    Read from the precomputed facts (``kpi_decisions``, one narrow index range per department,
    kept right with each case's log by backend/records/kpi_facts.py); a decided case without a
    fact yet (decided before migration 0015, until the worker's backfill ran) is recounted
    from its log, so the figures never fall short.
    """
    rows = session.execute(
        select(
            col(KpiDecision.service),
            col(KpiDecision.seconds),
            col(KpiDecision.issued_at),
            col(KpiDecision.automated),
        ).where(col(KpiDecision.department) == department, col(KpiDecision.issued_at) >= since)
    ).all()
    found = [(r[0], float(r[1]), aware(r[2]), bool(r[3])) for r in rows]
    # Every decided case has its fact (written with the decision; backfilled on upgrade) and
    # a fact's issued_at is its case's decided_at: equal counts mean nothing is missing, and
    # the count is one index-only range instead of an anti-join over the window.
    decided = session.execute(
        select(func.count())
        .select_from(Case)
        .where(col(Case.department) == department, col(Case.decided_at) >= since)
    ).scalar_one()
    late = kpi_facts.missing(session, department, since) if decided != len(found) else []
    recounted = kpi_facts.recount(session, late)
    found += [(f.service, f.seconds, f.issued_at, f.automated) for f in recounted]
    automated = [Decided(svc, secs, issued) for svc, secs, issued, auto in found if auto]
    manual = [Decided(svc, secs, issued) for svc, secs, issued, auto in found if not auto]
    return Decisions(since, automated, manual)


def _volume(
    session: Session, department: str, starts: PeriodStarts
) -> list[tuple[str, int, int, int]]:
    """(service, today, this week, this month) by submission time."""

    def since(moment: datetime) -> Any:
        return func.sum(case((col(Case.submitted_at) >= moment, 1), else_=0))

    rows = session.execute(
        select(col(Case.service), since(starts.today), since(starts.week), since(starts.month))
        .where(col(Case.department) == department, col(Case.submitted_at) >= starts.earliest)
        .group_by(col(Case.service))
    ).all()
    return [(r[0], int(r[1] or 0), int(r[2] or 0), int(r[3] or 0)) for r in rows]


def _referrals(
    session: Session, department: str, since: datetime
) -> list[tuple[str, dict[str, Any], int]]:
    """(service, event payload, how many) of the referrals to a person within the window.

    Grouped by the payload's text in the database: referrals repeat a handful of reason
    combinations, so a few rows come back however many cases were referred.
    """
    e = aliased(CaseEvent)
    payload = cast(col(e.payload), String)
    rows = session.execute(
        select(col(Case.service), payload, func.count())
        .join(e, col(e.case_id) == col(Case.id))
        .where(
            col(e.type) == REFERRED_EVENT, col(e.at) >= since, col(Case.department) == department
        )
        .group_by(col(Case.service), payload)
    ).all()
    return [(r[0], kpi_facts.payload_of(r[1]), int(r[2])) for r in rows]


def _open_cases(
    session: Session, department: str, now: datetime, sla_days: int
) -> list[tuple[str, str, int, datetime | None, dict[int, int]]]:
    """Per service and status of the open cases: count, oldest submission, and how many are
    at least N days old for each N of age_marks; counted in the database, not row by row."""
    statuses = [str(s) for s in (*BACKLOG_STATUSES, CaseStatus.AWAITING_CITIZEN)]
    marks = age_marks(sla_days)
    older = [
        func.sum(case((col(Case.submitted_at) < age_bound(now, m), 1), else_=0)) for m in marks
    ]
    rows = session.execute(
        select(
            col(Case.service),
            col(Case.status),
            func.count(),
            func.min(col(Case.submitted_at)),
            *older,
        )
        .where(col(Case.department) == department, col(Case.status).in_(statuses))
        .group_by(col(Case.service), col(Case.status))
    ).all()
    return [
        (r[0], r[1], int(r[2]), r[3], {m: int(n or 0) for m, n in zip(marks, r[4:], strict=True)})
        for r in rows
    ]


def _qa_reviews(session: Session, department: str, since: datetime) -> list[tuple[str, int, int]]:
    """(service, reviewed, overturned) of the QA sample's findings within the window.

    The console's QA review (backend/console/qa.py) writes one ``qa_reviews`` row per reviewed
    sample; its index (department, service, at) serves this count.
    """
    overturned = func.sum(case((col(QaReview.overturned), 1), else_=0))
    rows = session.execute(
        select(col(QaReview.service), func.count(), overturned)
        .where(col(QaReview.department) == department, col(QaReview.at) >= since)
        .group_by(col(QaReview.service))
    ).all()
    return [(r[0], int(r[1] or 0), int(r[2] or 0)) for r in rows]


class Decided(NamedTuple):
    """One issued decision: its service, submit → decision in seconds, and when it was issued."""

    service: str
    seconds: float
    issued: datetime


@dataclass(frozen=True)
class Decisions:
    """Decisions of one department issued since a moment, by the engine or by a person."""

    since: datetime
    automated: list[Decided]
    manual: list[Decided]

    def after(self, moment: datetime) -> Decisions:
        """The part issued from a later moment on, so one read serves figures and trend."""
        if moment < self.since:
            raise ValueError("these decisions start later")
        return Decisions(
            moment,
            [d for d in self.automated if d.issued >= moment],
            [d for d in self.manual if d.issued >= moment],
        )


def decisions_since(session: Session, department: str, since: datetime) -> Decisions:
    return _decisions(session, department, since)


def _submitted_per_day(
    session: Session, department: str, service: str | None, today: date, days: int
) -> dict[date, int]:
    """Submissions per German day, counted in the database: one row, however many cases."""
    first = today - timedelta(days=days - 1)
    edges = [_start_of(first + timedelta(days=n)) for n in range(days + 1)]
    submitted = col(Case.submitted_at)
    counts = [
        func.sum(case((and_(submitted >= edges[n], submitted < edges[n + 1]), 1), else_=0))
        for n in range(days)
    ]
    query = select(*counts).where(
        col(Case.department) == department, submitted >= edges[0], submitted < edges[-1]
    )
    if service is not None:
        query = query.where(col(Case.service) == service)
    row = session.execute(query).one()
    return {first + timedelta(days=n): int(row[n] or 0) for n in range(days)}
