"""The dashboard's figures as values, computed by pure functions (tested without a database)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from backend.columns import aware
from backend.console.qa import OverturnRate
from backend.definitions.constraints import GERMAN_ZONE

BERLIN = GERMAN_ZONE
DEFAULT_SLA_DAYS = 14
"""Processing target for a case that a person decides, in calendar days from submission."""
COURT_DAYS = 90
"""§ 75 Satz 2 VwGO: after three months without a decision the citizen may sue."""
DEFAULT_WINDOW_DAYS = 30
"""Decisions, referrals and QA reviews are counted over this many days back."""

AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-2", 0, 2),
    ("3-7", 3, 7),
    ("8-14", 8, 14),
    ("15-30", 15, 30),
    ("31-90", 31, 90),
    (">90", 91, None),
)
"""Backlog age classes in whole days: label, first day, last day (None: open-ended)."""


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
