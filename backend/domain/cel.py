"""The CEL dialect of service rules: what is in scope, which functions exist, what a rule reads.

Rules are written in CEL (Common Expression Language). In scope are four names:

- ``fields``: the application's values by field id. Dates are ISO strings (``'1964-08-12'``),
  so they compare correctly with ``<`` and ``>``; decimals are doubles, integers are ints.
  A field that was not given (or is null) is absent: test optional fields with
  ``has(fields.x)``.
- ``params``: every parameter's value valid on the case's reference date.
- ``amounts``: the outputs of earlier calculation and decision-table rules (numbers as
  doubles, decision-table categories as strings), and the fees computed so far.
- ``reference_date``: the case's reference date as an ISO string.

CEL never converts between int and double by itself: write ``double(fields.kinder) * 1.5``.

Besides CEL's standard functions there are date helpers on ISO date strings (the German
calendar day; a case's ``reference_date`` is the day in Europe/Berlin, so no time zone enters a
rule): ``age_on(birthdate, on)`` (completed years), ``days_between(from, to)`` (``to`` minus
``from`` in days), ``add_days(day, n)``, ``add_months(day, n)`` (to the month's last day when
the day does not exist there, like § 188 Abs. 3 BGB), ``start_of_month(day)`` and
``end_of_month(day)``. `docs/integrators.md` shows each with an example the tests run.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import cel

# Bounded cost: an expression's parse and evaluation time grows with its length.
MAX_SOURCE_LENGTH = 2000
# CEL has no loops or recursion, but comprehension macros nest: n nested ones over lists of k
# elements cost k**n steps. Two levels (e.g. "every child has some document") is all a rule
# needs; with list sizes bounded by the forms and registers, the cost stays polynomial and small.
MAX_COMPREHENSION_NESTING = 2

ROOT_NAMES = frozenset({"fields", "params", "amounts", "reference_date"})
MEMBER_ROOTS = frozenset({"fields", "params", "amounts"})

# CEL type names may appear as identifiers, e.g. ``type(x) == int``.
_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type"}
)

# Functions the CEL runtime provides natively (checked against the installed interpreter).
_NATIVE_FUNCTIONS = frozenset(
    {
        "size", "contains", "startsWith", "endsWith", "matches",
        "int", "uint", "double", "string", "bytes", "timestamp", "duration", "type", "dyn",
        "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek",
        "getDayOfYear", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip

_COMPREHENSION_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})


def age_on(birthdate: str, on: str) -> int:
    """Completed years of life on a day, so age limits need no date arithmetic in CEL.

    § 187 Abs. 2 BGB counts the day of birth, so a person is one year older from the start of
    each birthday; someone born on 29 February turns older on 1 March in common years
    (§ 188 Abs. 3 BGB).
    """
    if not isinstance(birthdate, str) or not isinstance(on, str):
        raise TypeError("age_on expects two ISO date strings ('YYYY-MM-DD')")
    born = date.fromisoformat(birthdate)
    day = date.fromisoformat(on)
    years = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    if years < 0:
        raise ValueError(f"age_on: {on} is before the birth date {birthdate}")
    return years


def _day(value: Any, function: str) -> date:
    """An ISO date string as a date; anything else fails with the function's name."""
    if not isinstance(value, str):
        raise TypeError(f"{function} expects an ISO date string ('YYYY-MM-DD')")
    return date.fromisoformat(value)


def _whole(value: Any, function: str) -> int:
    """A count of days or months; a double or string would hide a unit mistake."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{function} expects a whole number (int) as its second argument")
    return value


def days_between(start: str, end: str) -> int:
    """Calendar days from one day to another, so 'at least 7 days ahead' is one comparison."""
    return (_day(end, "days_between") - _day(start, "days_between")).days


def add_days(day: str, days: int) -> str:
    """The day a number of calendar days later (earlier when negative), as an ISO string."""
    return (_day(day, "add_days") + timedelta(days=_whole(days, "add_days"))).isoformat()


def add_months(day: str, months: int) -> str:
    """The same day some months later; a day the month lacks becomes its last (§ 188 Abs. 3 BGB)."""
    start = _day(day, "add_months")
    index = start.year * 12 + start.month - 1 + _whole(months, "add_months")
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last)).isoformat()


def start_of_month(day: str) -> str:
    """The first day of the day's month, for rules about calendar months."""
    return _day(day, "start_of_month").replace(day=1).isoformat()


def end_of_month(day: str) -> str:
    """The last day of the day's month, e.g. a permit valid to the end of the month."""
    start = _day(day, "end_of_month")
    return start.replace(day=calendar.monthrange(start.year, start.month)[1]).isoformat()


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "age_on": age_on,
    "days_between": days_between,
    "add_days": add_days,
    "add_months": add_months,
    "start_of_month": start_of_month,
    "end_of_month": end_of_month,
}
KNOWN_FUNCTIONS = _NATIVE_FUNCTIONS | FUNCTIONS.keys()


class CelSyntaxError(ValueError):
    """An expression is not valid CEL; the message is one line an integrator can act on."""


def compile_expression(source: str) -> cel.Program:
    """Compile one rule expression, refusing oversized sources before the parser sees them."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise CelSyntaxError(
            f"expression is {len(source)} characters long; at most {MAX_SOURCE_LENGTH} allowed"
        )
    try:
        program = cel.compile(source)
    except ValueError as exc:
        raise CelSyntaxError(_first_syntax_problem(str(exc))) from None
    nesting = comprehension_nesting(source)
    if nesting > MAX_COMPREHENSION_NESTING:
        raise CelSyntaxError(
            f"expression nests {nesting} comprehensions (all, exists, exists_one, map, filter); "
            f"at most {MAX_COMPREHENSION_NESTING} allowed, so evaluation cost stays bounded"
        )
    return program


def comprehension_nesting(source: str) -> int:
    """How deeply comprehension macros nest in an expression (0 when it has none).

    Counted on tokens, so macro names inside string literals do not count; only a macro called
    as a method (``x.map(``) opens a comprehension, as in CEL itself.
    """
    tokens = list(_tokens(source))
    open_parens: list[bool] = []  # per open "(": does it belong to a comprehension macro?
    deepest = 0
    for index, (kind, text) in enumerate(tokens):
        if kind == "punct" and text == "(":
            previous = tokens[index - 1] if index else ("", "")
            before = tokens[index - 2][1] if index > 1 else ""
            macro = previous[0] == "ident" and previous[1] in _COMPREHENSION_MACROS
            open_parens.append(macro and before == ".")
            deepest = max(deepest, sum(open_parens))
        elif kind == "punct" and text == ")" and open_parens:
            open_parens.pop()
    return deepest


def literal_division_by_zero(source: str) -> str | None:
    """`x / 0` or `x % 0` with a literal zero fails on every case; say so before it runs."""
    tokens = list(_tokens(source))
    for index, (kind, text) in enumerate(tokens[:-1]):
        following = tokens[index + 1]
        if kind == "punct" and text in "/%" and following[0] == "number":
            number = following[1].rstrip("uU")
            try:
                is_zero = float(int(number, 16) if number[:2].lower() == "0x" else number) == 0
            except ValueError:
                continue
            if is_zero:
                return f"division by zero: '{text} {following[1]}' fails for every case"
    return None


def _first_syntax_problem(text: str) -> str:
    """Reduce the parser's multi-line report to its first finding with line and column."""
    match = re.search(r"<input>:(\d+):(\d+): ([^\n]*)", text)
    if match is None:
        return "invalid CEL: " + " ".join(text.split())[:300]
    line, column, problem = match.groups()
    problem = problem.removeprefix("Syntax error: ")
    return f"invalid CEL at {line}:{column}: {problem}"


@dataclass(frozen=True)
class References:
    """What an expression reads, so the loader can check it against the definition."""

    members: tuple[tuple[str, str], ...]
    """``(root, name)`` for every ``fields.x``, ``params.x``, ``amounts.x`` (or ``root['x']``)."""
    unknown_names: tuple[str, ...]
    """Top-level names that are neither in scope nor bound by a comprehension."""
    unknown_functions: tuple[str, ...]


_TOKEN = re.compile(
    r"""
      (?P<space>\s+|//[^\n]*)
    | (?P<string>
          [rR][bB]?(?:'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|"[^"\n]*")
        | [bB][rR]?(?:'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|"[^"\n]*")
        | '''(?:\\.|[^\\])*?''' | \"\"\"(?:\\.|[^\\])*?\"\"\"
        | '(?:\\.|[^'\\\n])*' | "(?:\\.|[^"\\\n])*"
      )
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>0[xX][0-9A-Fa-f]+[uU]?|(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?[uU]?)
    | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(source: str) -> Iterator[tuple[str, str]]:
    """Significant tokens as (kind, text); strings keep their quotes."""
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup
        if kind is not None and kind != "space":
            yield kind, match.group()


def _string_value(literal: str) -> str:
    """The content of a plain CEL string literal (enough for member names in ``x['name']``)."""
    body = literal.lstrip("rRbB")
    quote = body[:3] if body[:3] in ("'''", '"""') else body[0]
    return body[len(quote) : -len(quote)]


def references(program: cel.Program) -> References:
    """Statically find the members, names and functions an expression uses."""
    tokens = list(_tokens(program.source))
    members: list[tuple[str, str]] = []
    bound: set[str] = set()
    for index, (kind, text) in enumerate(tokens):
        if kind != "ident":
            continue
        after_dot = index > 0 and tokens[index - 1][1] == "."
        ahead = tokens[index + 1 : index + 4]
        shape = [t if k == "punct" else k for k, t in ahead]
        if after_dot and text in _COMPREHENSION_MACROS and shape[:2] == ["(", "ident"]:
            bound.add(ahead[1][1])
        elif not after_dot and text in MEMBER_ROOTS:
            if shape[:2] == [".", "ident"]:
                members.append((text, ahead[1][1]))
            elif shape == ["[", "string", "]"]:
                members.append((text, _string_value(ahead[1][1])))
    unknown_names = tuple(
        name
        for name in program.variables()
        if name not in ROOT_NAMES and name not in _TYPE_NAMES and name not in bound
    )
    unknown_functions = tuple(
        name
        for name in program.functions()
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) and name not in KNOWN_FUNCTIONS
    )
    return References(tuple(dict.fromkeys(members)), unknown_names, unknown_functions)
