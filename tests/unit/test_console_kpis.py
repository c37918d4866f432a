"""The dashboard's computations: quantiles, shares, German days, backlog ages, SLA, trends."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from backend.console import kpis
from backend.console.kpis import (
    AGE_BUCKETS,
    QaFigures,
    _Tally,
    age_bucket,
    age_in_days,
    backlog_of,
    combine,
    period_starts,
    quantile,
    rate,
    referral_codes,
    summarise,
    trend_days,
)


def test_quantile_interpolates_between_ranks() -> None:
    assert quantile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    # 20 values 1..20: rank (20-1)*0.95 = 18.05 → 19 + 0.05 * (20 - 19)
    assert quantile([float(v) for v in range(1, 21)], 0.95) == pytest.approx(19.05)
    assert quantile([7.0], 0.95) == 7.0
    assert quantile([], 0.5) is None
    with pytest.raises(ValueError):
        quantile([1.0], 1.5)


def test_rate_refuses_impossible_shares_and_has_no_value_for_nothing() -> None:
    assert rate(3, 4) == 0.75
    assert rate(0, 0) is None
    with pytest.raises(ValueError):
        rate(5, 4)


def test_periods_follow_german_calendar_days() -> None:
    # 23:30 UTC on Sunday 2026-11-22 is already Monday 00:30 in Berlin (UTC+1).
    now = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    starts = period_starts(now)
    assert starts.today == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert starts.week == starts.today  # Monday: the week starts today
    assert starts.month == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert starts.earliest == starts.month
    # On Tuesday 2026-12-01 the week began in November, before the month did.
    tuesday = period_starts(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    assert tuesday.week == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    assert tuesday.earliest == tuesday.week


def test_age_counts_calendar_days_in_berlin() -> None:
    now = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert age_in_days(datetime(2026, 11, 21, 23, 30, tzinfo=UTC), now) == 0  # 00:30 local
    assert age_in_days(datetime(2026, 11, 21, 22, 30, tzinfo=UTC), now) == 1
    assert age_in_days(now + timedelta(hours=1), now) == 0  # clock skew never goes negative


@pytest.mark.parametrize(
    ("days", "label"),
    [(0, "0-2"), (2, "0-2"), (3, "3-7"), (14, "8-14"), (90, "31-90"), (91, ">90")],
)
def test_age_buckets_have_no_gaps(days: int, label: str) -> None:
    assert age_bucket(days) == label


def test_backlog_counts_sla_and_court_limit() -> None:
    backlog = backlog_of([0, 3, 15, 15, 100], awaiting_citizen=2, sla_days=14)
    assert backlog.open == 5 and backlog.awaiting_citizen == 2
    assert backlog.oldest_days == 100
    assert backlog.by_age == {"0-2": 1, "3-7": 1, "8-14": 0, "15-30": 2, "31-90": 0, ">90": 1}
    assert list(backlog.by_age) == [label for label, _f, _l in AGE_BUCKETS]
    assert backlog.over_sla == 3 and backlog.over_court_limit == 1
    empty = backlog_of([], awaiting_citizen=0)
    assert empty.oldest_days is None and empty.over_sla == 0
    assert sum(empty.by_age.values()) == 0


def test_age_bound_agrees_with_age_in_days() -> None:
    now = datetime(2026, 3, 29, 10, 0, tzinfo=UTC)  # the day summer time starts in Germany
    rng = random.Random(7)
    for _ in range(2000):
        moment = now - timedelta(seconds=rng.uniform(0, 200 * 86400))
        for days in kpis.age_marks(14):
            assert (age_in_days(moment, now) >= days) == (moment < kpis.age_bound(now, days))


def test_referral_codes_without_codes_count_as_other() -> None:
    assert referral_codes({"referral_reasons": ["remark", "remark", "qa_sample"]}) == [
        "remark",
        "qa_sample",
    ]
    assert referral_codes({"reason": "register down"}) == ["other"]
    assert referral_codes({"referral_reasons": []}) == ["other"]


def test_qa_alert_follows_the_console_rule() -> None:
    assert QaFigures(0, 0).overturn_rate is None and not QaFigures(0, 0).alert
    assert QaFigures(20, 1).overturn_rate == 0.05 and not QaFigures(20, 1).alert  # not above 5 %
    assert QaFigures(20, 2).alert
    assert not QaFigures(4, 4).alert  # too few findings to say anything


def test_summary_splits_automated_and_manual_and_counts_sla_breaches() -> None:
    day = 86400.0
    tally = _Tally(
        today=1,
        week=4,
        month=9,
        automated_s=[2.0, 4.0, 6.0],
        manual_s=[1 * day, 20 * day],
        referrals=2,
        backlog_open=2,
        backlog_at_least=Counter({3: 1, 8: 1, 15: 1}),
        backlog_oldest=30,
        awaiting_citizen=1,
        qa_reviewed=4,
        qa_overturned=1,
    )
    tally.reasons.update(["remark", "qa_sample", "remark"])
    row = summarise("beglaubigung", tally, sla_days=14)
    assert (row.cases_today, row.cases_week, row.cases_month) == (1, 4, 9)
    assert row.decided == 5 and row.automated == 3 and row.automation_rate == 0.6
    assert row.time_automated.count == 3 and row.time_automated.median_s == 4.0
    assert row.time_automated.p95_s == pytest.approx(5.8)
    assert row.time_manual.median_s == pytest.approx(10.5 * day)
    assert row.referral_reasons == {"remark": 2, "qa_sample": 1}
    assert list(row.referral_reasons) == ["remark", "qa_sample"]  # most frequent first
    assert row.decided_over_sla == 1 and row.backlog.over_sla == 1 and row.sla_breaches == 2
    assert row.qa.overturn_rate == 0.25


def test_department_lists_every_service_and_totals_all_cases() -> None:
    a = _Tally(today=2, automated_s=[1.0])
    b = _Tally(today=1, manual_s=[5.0])
    retired = _Tally(today=4)  # a service no longer offered still counts in the total
    now = datetime(2026, 11, 22, tzinfo=UTC)
    result = combine(
        "buergeramt",
        ["a", "b", "quiet"],
        {"a": a, "b": b, "retired": retired},
        now=now,
        window_days=30,
        sla_days=14,
    )
    assert [row.service for row in result.services] == ["a", "b", "quiet"]
    quiet = result.services[2]
    assert quiet.cases_today == 0 and quiet.automation_rate is None
    assert result.total.cases_today == 7
    assert result.total.automated == 1 and result.total.decided == 2
    assert result.total.automation_rate == 0.5
    assert result.qa_alerts == []


def test_trend_has_every_day_oldest_first() -> None:
    today = date(2026, 11, 22)
    late_evening = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 21 November in Berlin
    days = trend_days(
        kpis.per_day([late_evening, late_evening, datetime(2026, 11, 22, 9, tzinfo=UTC)]),
        [datetime(2026, 11, 22, 9, 1, tzinfo=UTC)],
        [datetime(2026, 11, 1, 9, tzinfo=UTC)],  # before the window: not shown
        today=today,
        days=3,
    )
    assert [d.day for d in days] == [date(2026, 11, 20), date(2026, 11, 21), today]
    assert [d.submitted for d in days] == [0, 2, 1]
    assert [d.automated for d in days] == [0, 0, 1]
    assert [d.manual for d in days] == [0, 0, 0]


def test_window_is_bounded() -> None:
    with pytest.raises(ValueError):
        kpis.department_kpis(None, "x", [], now=datetime.now(UTC), window_days=0)  # type: ignore[arg-type]


def test_one_read_of_decisions_serves_a_later_window() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    read = kpis.Decisions(
        start,
        [kpis.Decided("a", 2.0, start + timedelta(days=1)), kpis.Decided("a", 3.0, start)],
        [kpis.Decided("b", 60.0, start + timedelta(days=5))],
    )
    later = read.after(start + timedelta(days=1))
    assert [d.seconds for d in later.automated] == [2.0]
    assert [d.service for d in later.manual] == ["b"]
    with pytest.raises(ValueError):
        read.after(start - timedelta(seconds=1))
