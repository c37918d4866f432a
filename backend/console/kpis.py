"""Key figures a department answers for: volume, automation, speed, referrals, backlog, QA.

The computations are pure functions (unit-tested without a database); ``department_kpis``
and ``daily_trend`` read the few columns they need with one query per figure, each served by
an index (see docs/console.md, "Dashboard, impact analysis, assisted applications").

Definitions (where the issue is silent):

- *Decided automatically*: the engine's decide step made the decision (a ``decided`` event by
  ``system``) and no person changed or confirmed it: a clerk's decision (a referred case, a QA
  sample confirmed, an overturn after review or objection), a clerk's re-run of the automation
  and a clerk taking over an incident (``HUMAN_EVENTS``) make it a person's decision, timed
  until its notice. A case counts once, however often the engine decided it. A case counts
  in the window in which its decision was issued
  (``cases.decided_at``, the notice); a decision still waiting for its fee counts once issued.
- *Submit → decision*: for automated cases until the engine decided (so the citizen's time to
  pay a fee does not count against the department); for manual cases until the decision was
  issued.
- *Backlog*: cases on the department's desk: referred, in review or under objection. Cases
  waiting for the citizen are shown separately; their clock is the citizen's.
- *SLA*: service definitions carry no processing target, so one default applies to every
  service (``DEFAULT_SLA_DAYS``, calendar days from submission). Independently of it, a case
  open for more than three months is flagged: from then on the citizen may sue for a decision
  (Untätigkeitsklage, § 75 Satz 2 VwGO).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, cast, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from backend.console.access import department_services
from backend.console.identity import ClerkIdentity, Permission
from backend.console.qa import OverturnRate
from backend.context import AppContext
from backend.domain.case_state import CaseStatus
from backend.errors import NotFound
from backend.models import Case, CaseEvent, aware, utcnow
from backend.models_console import QaReview

BERLIN = ZoneInfo("Europe/Berlin")
DEFAULT_SLA_DAYS = 14
"""Processing target for a case that a person decides, in calendar days from submission."""
COURT_DAYS = 90
"""§ 75 Satz 2 VwGO: after three months without a decision the citizen may sue."""
DEFAULT_WINDOW_DAYS = 30
"""Decisions, referrals and QA reviews are counted over this many days back."""

BACKLOG_STATUSES = (CaseStatus.REFERRED, CaseStatus.IN_REVIEW, CaseStatus.OBJECTION)
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-2", 0, 2),
    ("3-7", 3, 7),
    ("8-14", 8, 14),
    ("15-30", 15, 30),
    ("31-90", 31, 90),
    (">90", 91, None),
)
"""Backlog age classes in whole days: label, first day, last day (None: open-ended)."""

SYSTEM_ACTOR = "system"
AUTOMATED_EVENT = "decided"
HUMAN_EVENTS = ("clerk_decision", "automation_rerun", "incident_resolved")
"""Events by which a person changed, confirmed or restarted a decision (see the docstring)."""
REFERRED_EVENT = "referred"


# --- pure computations ---------------------------------------------------------------------


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile with linear interpolation between ranks (as a spreadsheet computes it).

    None for no values: "no decisions" must not read as "decided in 0 seconds".
    """
    if not 0 <= q <= 1:
        raise ValueError("q must lie between 0 and 1")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    lower = math.floor(position)
    upper = math.ceil(position)
    if lower == upper:
        return float(ordered[lower])
    weight = position - lower
    return float(ordered[lower] * (1 - weight) + ordered[upper] * weight)


def rate(part: int, whole: int) -> float | None:
    """A share between 0 and 1; None when there is nothing to divide by."""
    if part < 0 or whole < 0 or part > whole:
        raise ValueError(f"a share of {part} in {whole} is impossible")
    return None if whole == 0 else part / whole


def age_in_days(since: datetime, now: datetime) -> int:
    """Whole calendar days in German time between two moments (a case from yesterday is 1)."""
    start = aware(since).astimezone(BERLIN).date()
    end = aware(now).astimezone(BERLIN).date()
    return max(0, (end - start).days)


def age_bucket(days: int) -> str:
    for label, first, last in AGE_BUCKETS:
        if days >= first and (last is None or days <= last):
            return label
    raise ValueError(f"negative age {days}")


@dataclass(frozen=True)
class PeriodStarts:
    """Beginnings of today, this (ISO) week and this month in German time, as UTC moments."""

    today: datetime
    week: datetime
    month: datetime

    @property
    def earliest(self) -> datetime:
        return min(self.week, self.month)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BERLIN).astimezone(UTC)


def period_starts(now: datetime) -> PeriodStarts:
    """A department works German days: "today" begins at midnight in Berlin, not in UTC."""
    local = aware(now).astimezone(BERLIN).date()
    return PeriodStarts(
        today=_start_of(local),
        week=_start_of(local - timedelta(days=local.weekday())),
        month=_start_of(local.replace(day=1)),
    )


@dataclass(frozen=True)
class Durations:
    """Submit → decision in seconds for one group of decisions."""

    count: int
    median_s: float | None
    p95_s: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Durations:
        return cls(len(seconds), quantile(seconds, 0.5), quantile(seconds, 0.95))


def referral_codes(payload: Mapping[str, Any]) -> list[str]:
    """Reason codes of one referral event; a referral without codes still counts, as 'other'."""
    codes = payload.get("referral_reasons")
    if isinstance(codes, list) and codes and all(isinstance(c, str) for c in codes):
        return list(dict.fromkeys(codes))
    return ["other"]


@dataclass(frozen=True)
class QaFigures:
    """Reviewed QA samples and how many a person overturned."""

    reviewed: int
    overturned: int

    @property
    def overturn_rate(self) -> float | None:
        return rate(self.overturned, self.reviewed)

    @property
    def alert(self) -> bool:
        """The console's QA rule (backend/console/qa.py): threshold and minimum sample size."""
        return OverturnRate(self.reviewed, self.overturned).alert


@dataclass(frozen=True)
class Backlog:
    """Cases on the department's desk and how long they have waited."""

    open: int
    awaiting_citizen: int
    oldest_days: int | None
    by_age: dict[str, int]
    over_sla: int
    over_court_limit: int


def age_marks(sla_days: int = DEFAULT_SLA_DAYS) -> tuple[int, ...]:
    """The ages N for which "how many are at least N days old" is counted."""
    firsts = {first for _label, first, _last in AGE_BUCKETS if first > 0}
    return tuple(sorted(firsts | {sla_days + 1, COURT_DAYS + 1}))


def age_bound(now: datetime, days: int) -> datetime:
    """A case is at least ``days`` old (age_in_days) exactly when submitted before this moment,
    so the database can count ages without date arithmetic of its own."""
    today = aware(now).astimezone(BERLIN).date()
    return _start_of(today - timedelta(days=days - 1))


def backlog_from_counts(
    open_cases: int,
    at_least: Mapping[int, int],
    oldest_days: int | None,
    awaiting_citizen: int,
    sla_days: int = DEFAULT_SLA_DAYS,
) -> Backlog:
    """Age classes and breaches from "at least N days old" counts (N from age_marks)."""
    by_age: dict[str, int] = {}
    for label, first, last in AGE_BUCKETS:
        older = open_cases if first == 0 else at_least.get(first, 0)
        younger_than_next = at_least.get(last + 1, 0) if last is not None else 0
        by_age[label] = older - younger_than_next
    return Backlog(
        open=open_cases,
        awaiting_citizen=awaiting_citizen,
        oldest_days=oldest_days,
        by_age=by_age,
        over_sla=at_least.get(sla_days + 1, 0),
        over_court_limit=at_least.get(COURT_DAYS + 1, 0),
    )


def backlog_of(
    ages_days: Sequence[int], awaiting_citizen: int, sla_days: int = DEFAULT_SLA_DAYS
) -> Backlog:
    """The same from a list of ages in whole days (what the database counts for us)."""
    at_least = {m: sum(1 for d in ages_days if d >= m) for m in age_marks(sla_days)}
    oldest = max(ages_days) if ages_days else None
    return backlog_from_counts(len(ages_days), at_least, oldest, awaiting_citizen, sla_days)


@dataclass(frozen=True)
class ServiceKpis:
    """Every key figure of one service (or, with service "*", of the whole department)."""

    service: str
    cases_today: int
    cases_week: int
    cases_month: int
    decided: int
    automated: int
    automation_rate: float | None
    time_automated: Durations
    time_manual: Durations
    decided_over_sla: int
    referrals: int
    referral_reasons: dict[str, int]
    backlog: Backlog
    qa: QaFigures

    @property
    def sla_breaches(self) -> int:
        """Decided late within the window, plus open cases already past the target."""
        return self.decided_over_sla + self.backlog.over_sla


@dataclass
class _Tally:
    """Raw observations of one service, collected from the queries before computing."""

    today: int = 0
    week: int = 0
    month: int = 0
    automated_s: list[float] = field(default_factory=list)
    manual_s: list[float] = field(default_factory=list)
    referrals: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    backlog_open: int = 0
    backlog_at_least: Counter[int] = field(default_factory=Counter)
    backlog_oldest: int | None = None
    awaiting_citizen: int = 0
    qa_reviewed: int = 0
    qa_overturned: int = 0

    def merge(self, other: _Tally) -> None:
        self.today += other.today
        self.week += other.week
        self.month += other.month
        self.automated_s += other.automated_s
        self.manual_s += other.manual_s
        self.referrals += other.referrals
        self.reasons.update(other.reasons)
        self.backlog_open += other.backlog_open
        self.backlog_at_least.update(other.backlog_at_least)
        if other.backlog_oldest is not None:
            self.backlog_oldest = max(self.backlog_oldest or 0, other.backlog_oldest)
        self.awaiting_citizen += other.awaiting_citizen
        self.qa_reviewed += other.qa_reviewed
        self.qa_overturned += other.qa_overturned


def summarise(service: str, tally: _Tally, sla_days: int = DEFAULT_SLA_DAYS) -> ServiceKpis:
    """Turn raw observations into the figures shown on the dashboard."""
    decided = len(tally.automated_s) + len(tally.manual_s)
    limit = sla_days * 86400
    return ServiceKpis(
        service=service,
        cases_today=tally.today,
        cases_week=tally.week,
        cases_month=tally.month,
        decided=decided,
        automated=len(tally.automated_s),
        automation_rate=rate(len(tally.automated_s), decided),
        time_automated=Durations.of(tally.automated_s),
        time_manual=Durations.of(tally.manual_s),
        decided_over_sla=sum(1 for s in [*tally.automated_s, *tally.manual_s] if s > limit),
        referrals=tally.referrals,
        referral_reasons=dict(tally.reasons.most_common()),
        backlog=backlog_from_counts(
            tally.backlog_open,
            tally.backlog_at_least,
            tally.backlog_oldest,
            tally.awaiting_citizen,
            sla_days,
        ),
        qa=QaFigures(tally.qa_reviewed, tally.qa_overturned),
    )


@dataclass(frozen=True)
class DepartmentKpis:
    """The dashboard of one department: one row per service and one for all of them."""

    department: str
    generated_at: datetime
    window_days: int
    sla_days: int
    services: list[ServiceKpis]
    total: ServiceKpis

    @property
    def qa_alerts(self) -> list[str]:
        return [row.service for row in self.services if row.qa.alert]


def combine(
    department: str,
    services: Iterable[str],
    tallies: Mapping[str, _Tally],
    *,
    now: datetime,
    window_days: int,
    sla_days: int,
) -> DepartmentKpis:
    """One row per service of the department (services without cases show zeros) and a total.

    Cases of services no longer in the catalogue still count in the department's total.
    """
    rows = [summarise(slug, tallies.get(slug, _Tally()), sla_days) for slug in services]
    everything = _Tally()
    for tally in tallies.values():
        everything.merge(tally)
    return DepartmentKpis(
        department=department,
        generated_at=now,
        window_days=window_days,
        sla_days=sla_days,
        services=rows,
        total=summarise("*", everything, sla_days),
    )


@dataclass(frozen=True)
class TrendDay:
    day: date
    submitted: int
    automated: int
    manual: int


def per_day(moments: Iterable[datetime]) -> Counter[date]:
    """How many moments fall on each German calendar day."""
    return Counter(aware(m).astimezone(BERLIN).date() for m in moments)


def trend_days(
    submitted: Mapping[date, int],
    automated: Iterable[datetime],
    manual: Iterable[datetime],
    *,
    today: date,
    days: int,
) -> list[TrendDay]:
    """Counts per German calendar day, oldest first, every day present (zeros included)."""
    first = today - timedelta(days=days - 1)
    subs, autos, mans = Counter(submitted), per_day(automated), per_day(manual)
    return [
        TrendDay(d, subs[d], autos[d], mans[d])
        for d in (first + timedelta(days=n) for n in range(days))
    ]


# --- queries -------------------------------------------------------------------------------


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (aware(end) - aware(start)).total_seconds())


def _decisions(session: Session, department: str, since: datetime) -> Decisions:
    """Every decision issued since a moment, split by whether the engine made it.

    Driven by ``cases (department, decided_at)``; the engine's ``decided`` event of each case
    is found through ``case_events (case_id, type)``, so the read grows with the window's
    decisions, not with the department's history.
    """
    e = aliased(CaseEvent)
    rows = session.execute(
        select(
            col(Case.id), col(Case.service), col(Case.submitted_at), col(Case.decided_at), col(e.at)
        )
        .join(
            e,
            and_(
                col(e.case_id) == col(Case.id),
                col(e.type) == AUTOMATED_EVENT,
                col(e.actor) == SYSTEM_ACTOR,
            ),
            isouter=True,
        )
        .where(col(Case.department) == department, col(Case.decided_at) >= since)
    ).all()
    cases: dict[str, tuple[str, datetime, datetime, datetime | None]] = {}
    for case_id, service, submitted, issued, by_engine in rows:
        seen = cases.get(case_id)
        earlier = seen[3] if seen is not None else None
        if earlier is not None and (by_engine is None or aware(earlier) < aware(by_engine)):
            by_engine = earlier
        cases[case_id] = (service, submitted, issued, by_engine)
    touched = _touched_by_a_person(session, list(cases))
    automated: list[Decided] = []
    manual: list[Decided] = []
    for case_id, (service, submitted, issued, by_engine) in cases.items():
        if by_engine is not None and case_id not in touched:
            automated.append(Decided(service, _seconds(submitted, by_engine), aware(issued)))
        else:
            manual.append(Decided(service, _seconds(submitted, issued), aware(issued)))
    return Decisions(since, automated, manual)


def _touched_by_a_person(session: Session, case_ids: list[str]) -> set[str]:
    """Cases a person decided, confirmed, re-ran or took over: their decision is not automated."""
    touched: set[str] = set()
    for start in range(0, len(case_ids), 500):
        chunk = case_ids[start : start + 500]
        events = session.execute(
            select(col(CaseEvent.case_id), col(CaseEvent.type), col(CaseEvent.payload)).where(
                col(CaseEvent.case_id).in_(chunk), col(CaseEvent.type).in_(HUMAN_EVENTS)
            )
        ).all()
        for case_id, kind, payload in events:
            if kind == "incident_resolved" and _payload_of(payload).get("resolution") != (
                "taken_over"
            ):
                continue  # a retry lets the machine finish; a takeover hands it to a person
            touched.add(case_id)
    return touched


def _payload_of(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return _payload(value) if isinstance(value, str) else {}


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
    return [(r[0], _payload(r[1]), int(r[2])) for r in rows]


def _payload(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


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


CSV_COLUMNS = (
    "service",
    "cases_today",
    "cases_week",
    "cases_month",
    "decided",
    "automated",
    "automation_rate",
    "median_s_automated",
    "p95_s_automated",
    "median_s_manual",
    "p95_s_manual",
    "referrals",
    "referral_reasons",
    "backlog_open",
    "backlog_oldest_days",
    "awaiting_citizen",
    "sla_days",
    "sla_breaches",
    "over_court_limit",
    "qa_reviewed",
    "qa_overturned",
    "qa_overturn_rate",
)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def figures_csv(figures: DepartmentKpis) -> str:
    """The KPI table as CSV (RFC 4180, comma, dot decimals) for a spreadsheet or the council."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in [*figures.services, figures.total]:
        writer.writerow(
            [
                row.service,
                row.cases_today,
                row.cases_week,
                row.cases_month,
                row.decided,
                row.automated,
                _num(row.automation_rate),
                _num(row.time_automated.median_s),
                _num(row.time_automated.p95_s),
                _num(row.time_manual.median_s),
                _num(row.time_manual.p95_s),
                row.referrals,
                "; ".join(f"{code}={n}" for code, n in row.referral_reasons.items()),
                row.backlog.open,
                "" if row.backlog.oldest_days is None else row.backlog.oldest_days,
                row.backlog.awaiting_citizen,
                figures.sla_days,
                row.sla_breaches,
                row.backlog.over_court_limit,
                row.qa.reviewed,
                row.qa.overturned,
                _num(row.qa.overturn_rate),
            ]
        )
    return out.getvalue()


__all__ = [
    "AGE_BUCKETS",
    "DEFAULT_SLA_DAYS",
    "Backlog",
    "DepartmentKpis",
    "Durations",
    "PeriodStarts",
    "QaFigures",
    "ServiceKpis",
    "TrendDay",
    "age_bucket",
    "age_in_days",
    "backlog_of",
    "combine",
    "daily_trend",
    "department_kpis",
    "period_starts",
    "quantile",
    "rate",
    "referral_codes",
    "summarise",
    "trend_days",
]
