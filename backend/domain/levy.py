"""Due dates and amounts of an annual tax or charge, and its Kassenzeichen.

Pure, no I/O. An annual levy due on n fixed days a year is paid in n equal shares, each for its
part of the year (four days: quarters). The liability starts on a day (or the first of the next
month, as dog tax statutes say); a share is owed for the whole months of its part that fall
into the liability. A share whose day is already past when the notice is issued is due a fixed
number of days after issue instead (the statutes' "Nachzahlung"), never on a day gone by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Instalment:
    """One amount owed: for which months, by which day."""

    period_from: date
    period_to: date
    due_on: date
    amount: Decimal
    arrears: bool
    """Its regular day had passed at issue: due after the notice instead."""


def liability_start(liable_from: date, starts: str) -> date:
    """The first day the levy is owed: the day itself (counted from its month) or the next
    month's first day."""
    if starts == "that_day":
        return liable_from.replace(day=1)
    if liable_from.month == 12:
        return date(liable_from.year + 1, 1, 1)
    return date(liable_from.year, liable_from.month + 1, 1)


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)


def instalments(
    annual: Decimal,
    liable_from: date,
    issued_on: date,
    due_days: list[str],
    *,
    starts: str = "next_month",
    arrears_due_days: int = 30,
) -> list[Instalment]:
    """Every share owed from the start of the liability to the end of the year of issue (or
    of the start, if later): what the notice fixes before the regular annual rhythm applies."""
    start = liability_start(liable_from, starts)
    months_per_share = 12 // len(due_days)
    monthly = annual / Decimal(12)
    last_year = max(issued_on.year, start.year)
    owed: list[Instalment] = []
    for year in range(start.year, last_year + 1):
        for index, day in enumerate(due_days):
            first_month = index * months_per_share + 1
            last_month = first_month + months_per_share - 1
            period_from = date(year, first_month, 1)
            period_to = _month_end(year, last_month)
            if period_to < start:
                continue
            months = sum(
                1 for month in range(first_month, last_month + 1) if date(year, month, 1) >= start
            )
            amount = (monthly * months).quantize(CENT, rounding=ROUND_HALF_UP)
            month, dom = (int(part) for part in day.split("-"))
            regular = date(year, month, dom)
            late = regular <= issued_on
            owed.append(
                Instalment(
                    period_from=max(period_from, start),
                    period_to=period_to,
                    due_on=issued_on + timedelta(days=arrears_due_days) if late else regular,
                    amount=amount,
                    arrears=late,
                )
            )
    return owed


def kassenzeichen(prefix: str, reference: str) -> str:
    """The Kassenzeichen a payment must name: the levy's number range and the Aktenzeichen
    (KD-2026-ABCD-EFGH gives 6011-2026-ABCD-EFGH), unique per case and traceable to it."""
    return f"{prefix}-{reference.removeprefix('KD-')}"
