"""Legal deadlines of a case (announcement of a notice, objection period): pure date arithmetic."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

DEEMED_DELIVERY_DAYS = 4
"""§ 41 Abs. 2 Satz 2 VwVfG (as amended from 2025): an electronically transmitted notice
counts as announced on the fourth day after it was sent."""

# Fronleichnam and Allerheiligen are public holidays in these Länder (besides the nationwide
# ones). Other Länder have other regional holidays, not modelled; see objection_deadline.
_CORPUS_CHRISTI_AND_ALL_SAINTS = frozenset({"BW", "BY", "NW", "RP", "SL"})


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def public_holidays(year: int, region: str = "NW") -> frozenset[date]:
    """Nationwide German public holidays, plus Fronleichnam/Allerheiligen where they apply."""
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1),
        easter - timedelta(days=2),  # Karfreitag
        easter + timedelta(days=1),  # Ostermontag
        date(year, 5, 1),
        easter + timedelta(days=39),  # Christi Himmelfahrt
        easter + timedelta(days=50),  # Pfingstmontag
        date(year, 10, 3),
        date(year, 12, 25),
        date(year, 12, 26),
    }
    if region.upper() in _CORPUS_CHRISTI_AND_ALL_SAINTS:
        days |= {easter + timedelta(days=60), date(year, 11, 1)}
    return frozenset(days)


def is_working_day(day: date, region: str = "NW") -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year, region)


def add_months(day: date, months: int) -> date:
    """The same day number n months later, or that month's last day (§ 188 Abs. 3 BGB)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def deemed_announced(sent_on: date, days: int = DEEMED_DELIVERY_DAYS) -> date:
    """The day a notice sent electronically on ``sent_on`` counts as announced."""
    return sent_on + timedelta(days=days)


def objection_deadline(
    sent_on: date, *, deemed_delivery_days: int = DEEMED_DELIVERY_DAYS, region: str = "NW"
) -> date:
    """Last day to object to a notice sent on ``sent_on``.

    § 70 Abs. 1 VwGO: one month after announcement; § 57 Abs. 2 VwGO with § 222 ZPO and
    §§ 187 Abs. 1, 188 Abs. 2 BGB: it ends on the day of the next month with the same number
    as the day of announcement, and moves to the next working day when that is a Saturday,
    Sunday or public holidays (§ 222 Abs. 2 ZPO). Regional holidays other than Fronleichnam
    and Allerheiligen are not modelled; a citizen who misses the day for such a reason is
    told how to ask for reinstatement (§ 60 VwGO).
    """
    end = add_months(deemed_announced(sent_on, deemed_delivery_days), 1)
    while not is_working_day(end, region):
        end += timedelta(days=1)
    return end
