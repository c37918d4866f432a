"""The dashboard assembled from the queries' results, and the service functions that serve it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import Session

from backend.columns import aware, utcnow
from backend.console.kpis.figures import (
    BERLIN,
    DEFAULT_SLA_DAYS,
    DEFAULT_WINDOW_DAYS,
    DepartmentKpis,
    TrendDay,
    _start_of,
    _Tally,
    age_in_days,
    combine,
    period_starts,
    referral_codes,
    trend_days,
)
from backend.console.kpis.queries import (
    Decisions,
    _open_cases,
    _qa_reviews,
    _referrals,
    _submitted_per_day,
    _volume,
    decisions_since,
)
from backend.context import AppContext
from backend.department.access import department_services
from backend.department.identity import ClerkIdentity, Permission
from backend.domain.case_state import CaseStatus
from backend.errors import NotFound


def _window_start(now: datetime, window_days: int) -> datetime:
    if window_days < 1 or window_days > 366:
        raise ValueError("the window is between 1 and 366 days")
    return aware(now) - timedelta(days=window_days)


def _trend_start(now: datetime, days: int) -> datetime:
    if days < 1 or days > 366:
        raise ValueError("the trend covers between 1 and 366 days")
    today = aware(now).astimezone(BERLIN).date()
    return _start_of(today - timedelta(days=days - 1))


def department_kpis(
    session: Session,
    department: str,
    services: Iterable[str],
    *,
    now: datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    sla_days: int = DEFAULT_SLA_DAYS,
    decisions: Decisions | None = None,
) -> DepartmentKpis:
    """The dashboard figures of one department; only its own cases are ever read."""
    since = _window_start(now, window_days)
    decided = (decisions or decisions_since(session, department, since)).after(since)
    tallies: dict[str, _Tally] = {}

    def tally(service: str) -> _Tally:
        return tallies.setdefault(service, _Tally())

    for service, today, week, month in _volume(session, department, period_starts(now)):
        t = tally(service)
        t.today, t.week, t.month = today, week, month
    for row in decided.automated:
        tally(row.service).automated_s.append(row.seconds)
    for row in decided.manual:
        tally(row.service).manual_s.append(row.seconds)
    for service, payload, count in _referrals(session, department, since):
        t = tally(service)
        t.referrals += count
        for code in referral_codes(payload):
            t.reasons[code] += count
    for service, status, count, oldest, at_least in _open_cases(session, department, now, sla_days):
        t = tally(service)
        if status == CaseStatus.AWAITING_CITIZEN:
            t.awaiting_citizen += count
            continue
        t.backlog_open += count
        t.backlog_at_least.update(at_least)
        if oldest is not None:
            t.backlog_oldest = max(t.backlog_oldest or 0, age_in_days(oldest, now))
    for service, reviewed, overturned in _qa_reviews(session, department, since):
        t = tally(service)
        t.qa_reviewed, t.qa_overturned = reviewed, overturned
    return combine(
        department, services, tallies, now=now, window_days=window_days, sla_days=sla_days
    )


def daily_trend(
    session: Session,
    department: str,
    *,
    now: datetime,
    days: int = DEFAULT_WINDOW_DAYS,
    service: str | None = None,
    decisions: Decisions | None = None,
) -> list[TrendDay]:
    """Submissions and decisions (automated, manual) per day over the last ``days`` days."""
    since = _trend_start(now, days)
    decided = (decisions or decisions_since(session, department, since)).after(since)
    today = aware(now).astimezone(BERLIN).date()
    automated = [d.issued for d in decided.automated if service in (None, d.service)]
    manual = [d.issued for d in decided.manual if service in (None, d.service)]
    return trend_days(
        _submitted_per_day(session, department, service, today, days),
        automated,
        manual,
        today=today,
        days=days,
    )


def dashboard(
    session: Session,
    department: str,
    services: Iterable[str],
    *,
    now: datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    sla_days: int = DEFAULT_SLA_DAYS,
) -> tuple[DepartmentKpis, list[TrendDay]]:
    """Figures and trend over the same window, reading the decisions once."""
    since = min(_window_start(now, window_days), _trend_start(now, window_days))
    decisions = decisions_since(session, department, since)
    figures = department_kpis(
        session,
        department,
        services,
        now=now,
        window_days=window_days,
        sla_days=sla_days,
        decisions=decisions,
    )
    trend = daily_trend(session, department, now=now, days=window_days, decisions=decisions)
    return figures, trend


# --- service functions (the JSON API and the console pages call these) -----------------


def department_figures(
    ctx: AppContext,
    clerk: ClerkIdentity,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    sla_days: int = DEFAULT_SLA_DAYS,
) -> DepartmentKpis:
    """The clerk's department's dashboard, read in one session."""
    clerk.require(Permission.VIEW)
    services = [d.id for d in department_services(ctx, clerk.department)]
    with Session(ctx.engine) as session:
        return department_kpis(
            session,
            clerk.department,
            services,
            now=utcnow(),
            window_days=window_days,
            sla_days=sla_days,
        )


def department_dashboard(
    ctx: AppContext, clerk: ClerkIdentity, *, window_days: int = DEFAULT_WINDOW_DAYS
) -> tuple[DepartmentKpis, list[TrendDay]]:
    """Everything the console's start page shows, in one session."""
    clerk.require(Permission.VIEW)
    services = [d.id for d in department_services(ctx, clerk.department)]
    with Session(ctx.engine) as session:
        return dashboard(session, clerk.department, services, now=utcnow(), window_days=window_days)


def department_trend(
    ctx: AppContext, clerk: ClerkIdentity, *, days: int, service: str | None = None
) -> list[TrendDay]:
    clerk.require(Permission.VIEW)
    if service is not None and service not in {
        d.id for d in department_services(ctx, clerk.department)
    }:
        raise NotFound("Diesen Dienst gibt es nicht. (Unknown service.)")
    with Session(ctx.engine) as session:
        return daily_trend(session, clerk.department, now=utcnow(), days=days, service=service)
