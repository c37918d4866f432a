"""Input rules a definition declares for a field: day bounds relative to today, safe patterns,
coordinate ranges; and the reading of a typed date (issue 21, item 4).

Pure functions without I/O, shared by the loader (which validates the rules) and intake (which
applies them), so what `services validate` accepts is exactly what the portal enforces.

Decisions where the issue is silent:
- A day bound is ``today``, ``today+N<unit>`` / ``today-N<unit>`` with unit d, w, m or y, or a
  fixed ISO date. ``today`` is the administrative day in Germany (Europe/Berlin) at intake;
  months and years keep the day of the month, clamped to the month's end (29 Feb + 1y = 28 Feb).
- A two-digit year (1.3.25) is read in the century that puts the date within the field's
  bounds, nearest to today; without bounds, or if none fits, the one nearest to today.
- A pattern is a Python regular expression matched against the whole answer. It may not use
  lookaround, backreferences, or a repeated group holding a quantifier or alternatives ((a+)+,
  (a|ab)*): the shapes that make matching take exponential time. Answers are length-limited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from backend.domain.provenance import GERMAN_TIME

DAY_BOUND_SYNTAX = "today, today+N<d|w|m|y>, today-N<d|w|m|y> or a date YYYY-MM-DD"
_RELATIVE = re.compile(r"^today(?:([+-])([0-9]{1,5})([dwmy]))?$")
_MOST_OFFSET = {"d": 36_600, "w": 5_300, "m": 1_200, "y": 100}
"""The largest offset per unit: a century, so a bound never leaves the calendar."""

MAX_PATTERN_LENGTH = 200
GERMAN_ZONE = GERMAN_TIME
"""The authority's time zone: its calendar day is the day of every date rule and notice."""


def local_today() -> date:
    """The administrative day in Germany, which 'today' in a day bound means."""
    return datetime.now(GERMAN_ZONE).date()


def local_day(moment: datetime) -> date:
    """The German day of a stored moment: 23:30 UTC in winter is already the next day."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(GERMAN_ZONE).date()


COORDINATE_RANGE: dict[str, tuple[int, int]] = {"latitude": (-90, 90), "longitude": (-180, 180)}


@dataclass(frozen=True)
class DayBound:
    """A day a date answer may not lie before or after: fixed, or counted from today."""

    fixed: date | None = None
    sign: int = 0
    amount: int = 0
    unit: str = "d"

    @property
    def is_today(self) -> bool:
        """Exactly today, which messages say as 'in the future' / 'in the past'."""
        return self.fixed is None and self.amount == 0

    def on(self, today: date) -> date:
        """The bound's day when intake runs on `today`."""
        if self.fixed is not None:
            return self.fixed
        step = self.sign * self.amount
        if self.unit == "d":
            return today + timedelta(days=step)
        if self.unit == "w":
            return today + timedelta(weeks=step)
        months = step * (12 if self.unit == "y" else 1)
        return add_months(today, months)


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, days_in_month(year, month + 1)))


def days_in_month(year: int, month: int) -> int:
    """Days of a month in the Gregorian calendar."""
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_day_bound(value: object) -> DayBound:
    """A bound as written in service.yaml; ValueError names the accepted forms."""
    if isinstance(value, date):
        return DayBound(fixed=value)
    if not isinstance(value, str):
        raise ValueError(f"expected {DAY_BOUND_SYNTAX}")
    text = value.strip().replace(" ", "")
    match = _RELATIVE.match(text)
    if match is None:
        try:
            return DayBound(fixed=date.fromisoformat(text))
        except ValueError:
            raise ValueError(f"'{value}' is no day bound; write {DAY_BOUND_SYNTAX}") from None
    sign, amount, unit = match.groups()
    if sign is None:
        return DayBound()
    if int(amount) > _MOST_OFFSET[unit]:
        raise ValueError(f"'{value}': at most {_MOST_OFFSET[unit]}{unit} (a century)")
    return DayBound(sign=1 if sign == "+" else -1, amount=int(amount), unit=unit)


def pattern_problem(regex: str) -> str | None:
    """Why a declared pattern is refused, or None: unbounded cost or an invalid expression."""
    if len(regex) > MAX_PATTERN_LENGTH:
        return f"a pattern has at most {MAX_PATTERN_LENGTH} characters"
    try:
        re.compile(regex)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    if re.search(r"\(\?(?!:)", regex):
        return "only plain groups (…) and (?:…) are allowed: no lookaround, flags or named groups"
    if re.search(r"\\[1-9]", regex):
        return "backreferences are not allowed"
    if _repeats_repetition(regex):
        return (
            "a repeated group contains a repetition, an option or alternatives (like (a+)+ or "
            "(a|ab)*), which can take exponential time to match; repeat a character class "
            "instead, e.g. [a-z0-9]+"
        )
    return None


def _repeats_repetition(regex: str) -> bool:
    """Whether a group followed by a repetition (+, *, {…}) itself contains a quantifier or an
    alternative: (a+)+, (a|aa)+ and (a?a?)+ backtrack exponentially; (?:ab)? or [a-z0-9]+ not."""
    stack: list[bool] = []
    position = 0
    in_class = False
    while position < len(regex):
        char = regex[position]
        if char == "\\":
            position += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            position += 1 if regex[position + 1 : position + 2] == "^" else 0
            position += 1 if regex[position + 1 : position + 2] == "]" else 0
        elif char == "(":
            stack.append(False)
            position += 2 if regex[position + 1 : position + 3] == "?:" else 0
        elif char == ")" and stack:
            inner = stack.pop()
            if inner and regex[position + 1 : position + 2] in ("+", "*", "{"):
                return True
            if inner and stack:
                stack[-1] = True
        elif stack and char in "+*?{|":
            stack[-1] = True
        position += 1
    return False


@lru_cache(maxsize=512)
def compiled(regex: str) -> re.Pattern[str]:
    """A definition's pattern, compiled once per process (the loader validated it)."""
    return re.compile(regex)


# --- typed dates ---------------------------------------------------------------------------

_DOTTED = re.compile(r"^(\d{1,2})\s*[./]\s*(\d{1,2})\s*[./]\s*(\d{2}|\d{4})\.?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
MONTHS_DE = (
    "Januar", "Februar", "März", "April", "Mai", "Juni",
    "Juli", "August", "September", "Oktober", "November", "Dezember",
)  # fmt: skip
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True)
class DateTrouble:
    """Why a typed date is not a day, in both portal languages."""

    de: str
    en: str


UNREADABLE = DateTrouble(
    "Geben Sie das Datum als Tag.Monat.Jahr ein, zum Beispiel 21.11.2026.",
    "Enter the date as day.month.year, for example 21.11.2026.",
)


def read_date(
    typed: str, today: date, earliest: date | None = None, latest: date | None = None
) -> date | DateTrouble:
    """A typed date: 1.3.25, 01.03.2025, 1.3.2025, 1/3/2025 and ISO 2025-03-01 are understood;
    an impossible one (31.02.2025) is named as such instead of 'wrong format'."""
    text = typed.strip()
    dotted = _DOTTED.match(text)
    iso = _ISO.match(text) if dotted is None else None
    if dotted is not None:
        day, month, year_text = int(dotted[1]), int(dotted[2]), dotted[3]
    elif iso is not None:
        day, month, year_text = int(iso[3]), int(iso[2]), iso[1]
    else:
        return UNREADABLE
    if not 1 <= month <= 12:
        return DateTrouble(
            f"Einen {month}. Monat gibt es nicht; der Monat ist eine Zahl von 1 bis 12.",
            f"There is no month {month}; the month is a number from 1 to 12.",
        )
    if not 1 <= day <= 31:
        return DateTrouble(
            f"Einen {day}. Tag gibt es in keinem Monat.", f"No month has a day {day}."
        )
    if (month == 2 and day > 29) or (day == 31 and days_in_month(2001, month) == 30):
        return DateTrouble(
            f"Den {day}. {MONTHS_DE[month - 1]} gibt es nicht.",
            f"There is no {day} {MONTHS_EN[month - 1]}.",
        )
    year = int(year_text)
    if len(year_text) == 2:
        year = _century(year, month, day, today, earliest, latest)
    if year < 1:
        return UNREADABLE
    if day > days_in_month(year, month):
        return DateTrouble(
            f"Den 29. Februar gibt es {year} nicht; {year} ist kein Schaltjahr.",
            f"There is no 29 February {year}; {year} is not a leap year.",
        )
    return date(year, month, day)


def _century(
    yy: int, month: int, day: int, today: date, earliest: date | None, latest: date | None
) -> int:
    """The four-digit year of a two-digit one: within the bounds if one fits, nearest today."""
    century = today.year // 100 * 100
    years = [century - 100 + yy, century + yy, century + 100 + yy]

    def distance(year: int) -> int:
        return abs((date(year, month, min(day, 28)) - today).days)

    def fits(year: int) -> bool:
        candidate = date(year, month, min(day, 28))
        return (earliest is None or candidate >= earliest) and (
            latest is None or candidate <= latest
        )

    within = [year for year in years if fits(year)]
    return min(within or years, key=distance)
