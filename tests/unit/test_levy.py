"""Instalments of an annual tax: shares of the year, the liability's start, arrears after issue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from backend.domain.levy import instalments, kassenzeichen, liability_start

QUARTERS = ["02-15", "05-15", "08-15", "11-15"]


def test_liability_starts_with_the_following_month_or_the_month_itself() -> None:
    assert liability_start(date(2026, 1, 10), "next_month") == date(2026, 2, 1)
    assert liability_start(date(2026, 12, 3), "next_month") == date(2027, 1, 1)
    assert liability_start(date(2026, 1, 10), "that_day") == date(2026, 1, 1)


def test_a_dog_taken_in_january_pays_two_months_then_full_quarters() -> None:
    owed = instalments(Decimal("156"), date(2026, 1, 10), date(2026, 1, 20), QUARTERS)
    assert [(i.due_on, i.amount, i.arrears) for i in owed] == [
        (date(2026, 2, 15), Decimal("26.00"), False),
        (date(2026, 5, 15), Decimal("39.00"), False),
        (date(2026, 8, 15), Decimal("39.00"), False),
        (date(2026, 11, 15), Decimal("39.00"), False),
    ]
    assert owed[0].period_from == date(2026, 2, 1) and owed[0].period_to == date(2026, 3, 31)
    assert sum(i.amount for i in owed) == Decimal("143.00")  # eleven months of 13 €


def test_shares_whose_day_has_passed_are_due_after_the_notice_never_on_a_day_gone_by() -> None:
    issued = date(2026, 9, 1)
    owed = instalments(Decimal("180"), date(2026, 3, 5), issued, QUARTERS, arrears_due_days=30)
    assert [(i.due_on, i.amount, i.arrears) for i in owed] == [
        (date(2026, 10, 1), Decimal("45.00"), True),  # April–June, due 15 May
        (date(2026, 10, 1), Decimal("45.00"), True),  # July–September, due 15 August
        (date(2026, 11, 15), Decimal("45.00"), False),
    ]
    assert all(i.due_on > issued for i in owed)


def test_a_liability_starting_next_year_owes_nothing_this_year() -> None:
    owed = instalments(Decimal("972"), date(2026, 12, 20), date(2026, 12, 21), QUARTERS)
    assert owed[0].period_from == date(2027, 1, 1) and owed[0].due_on == date(2027, 2, 15)
    assert [i.amount for i in owed] == [Decimal("243.00")] * 4


@pytest.mark.parametrize(
    ("days", "share"), [(["07-01"], Decimal("156.00")), (["02-15", "08-15"], Decimal("78.00"))]
)
def test_other_rhythms_split_the_year_evenly(days: list[str], share: Decimal) -> None:
    owed = instalments(Decimal("156"), date(2025, 12, 1), date(2026, 1, 2), days)
    assert {i.amount for i in owed} == {share}


def test_the_kassenzeichen_joins_the_number_range_and_the_aktenzeichen() -> None:
    assert kassenzeichen("6011", "KD-2026-ABCD-EFGH") == "6011-2026-ABCD-EFGH"
