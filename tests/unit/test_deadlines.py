"""Objection deadlines: one month after announcement, moved off weekends and holidays."""

from __future__ import annotations

from datetime import date

import pytest

from backend.domain.deadlines import (
    add_months,
    deemed_announced,
    easter_sunday,
    is_working_day,
    objection_deadline,
    public_holidays,
)


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2000, date(2000, 4, 23)), (2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)),
     (2026, date(2026, 4, 5)), (2038, date(2038, 4, 25))],
)  # fmt: skip
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_holidays_nationwide_and_regional() -> None:
    nw, hh = public_holidays(2026, "NW"), public_holidays(2026, "HH")
    for day in (date(2026, 1, 1), date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 14),
                date(2026, 5, 25), date(2026, 10, 3), date(2026, 12, 26)):  # fmt: skip
        assert day in nw and day in hh
    assert date(2026, 6, 4) in nw and date(2026, 6, 4) not in hh  # Fronleichnam
    assert date(2026, 11, 1) in nw
    assert not is_working_day(date(2026, 3, 28))  # Saturday
    assert is_working_day(date(2026, 3, 27))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # § 188 Abs. 3 BGB: last day of the month
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("sent", "region", "deadline"),
    [
        (date(2026, 2, 23), "NW", date(2026, 3, 27)),  # plain: Friday stays Friday
        (date(2026, 4, 26), "NW", date(2026, 6, 1)),  # Saturday 30 May → Monday
        (date(2026, 3, 2), "NW", date(2026, 4, 7)),  # Ostermontag → Tuesday
        (date(2026, 4, 30), "NW", date(2026, 6, 5)),  # Fronleichnam in NRW
        (date(2026, 4, 30), "HH", date(2026, 6, 4)),  # ... but not in Hamburg
    ],
)
def test_objection_deadline(sent: date, region: str, deadline: date) -> None:
    assert deemed_announced(sent) == date.fromordinal(sent.toordinal() + 4)
    assert objection_deadline(sent, region=region) == deadline


def test_deemed_delivery_days_are_a_parameter() -> None:
    assert objection_deadline(date(2026, 2, 23), deemed_delivery_days=3) == date(2026, 3, 26)
