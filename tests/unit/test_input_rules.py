"""Input rules in the definition (issue 21, item 4): each rule is refused by `services validate`
with file and line when it cannot work, and at intake refuses a wrong answer and takes a right
one, with a message in German and English."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from backend.definitions import load_definition
from backend.definitions.answers import coerce, group_problems, rule_problem
from backend.definitions.constraints import parse_day_bound, pattern_problem, read_date
from backend.definitions.loader import check_tree
from backend.definitions.models import Field, ServiceDefinition
from prefill.configuration import build_default_registry
from prefill.connectors.registry import ConnectorRegistry

SERVICE = """\
id: demo
version: "1.0.0"
valid_from: 2024-01-01
leika: "99000000000001"
title: {{ de: Demo, en: Demo }}
description: {{ de: Demo., en: Demo. }}
department: test
trust_level: substanziell
legal_basis: "§ 1 Testsatzung"
retention: {{ days: 30, legal_basis: "Test" }}
topics:
  - id: ort
    title: {{ de: Ort, en: Place }}{one_of}
fields:
  - id: strasse
    type: string
    topic: ort
    label: {{ de: Straße, en: Street }}
    required: false
  - id: plz
    type: string
    topic: ort
    label: {{ de: Postleitzahl, en: Postcode }}
    required: false
  - id: breite
    type: decimal
    coordinate: latitude
    topic: ort
    label: {{ de: Breitengrad, en: Latitude }}
    required: false
  - id: laenge
    type: decimal
    coordinate: longitude
    topic: ort
    label: {{ de: Längengrad, en: Longitude }}
    required: {laenge_required}
  - id: probe
    type: {probe_type}
    label: {{ de: Probe, en: Sample }}
    required: true{probe_rules}
"""
PROBE_LINE = 41
"""Line of the probe field's first rule in SERVICE, where its errors must point."""

GROUPS = """
    one_of:
      groups:
        - [strasse, plz]
        - [breite, laenge]
      message:
        de: Geben Sie eine Anschrift oder Koordinaten an.
        en: Give an address or coordinates."""

TODAY = date(2026, 12, 4)


@pytest.fixture
def connectors() -> ConnectorRegistry:
    return build_default_registry()


def _write(
    tmp_path: Path,
    *,
    probe_type: str = "integer",
    probe_rules: str = "",
    one_of: str = "",
    laenge_required: str = "false",
) -> Path:
    folder = tmp_path / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    text = SERVICE.format(
        probe_type=probe_type,
        probe_rules="".join(f"\n    {line}" for line in probe_rules.splitlines()),
        one_of=one_of,
        laenge_required=laenge_required,
    )
    (folder / "service.yaml").write_text(text, encoding="utf-8")
    return folder / "service.yaml"


def _field(kind: str, **rules: Any) -> Field:
    return Field.model_validate(
        {"id": "probe", "type": kind, "required": True}
        | {"label": {"de": "Probe", "en": "Sample"}}
        | rules
    )


# --- services validate: what cannot work is an error with file and line ------------------


@pytest.mark.parametrize(
    ("probe_type", "rules", "message"),
    [
        ("string", "min: 1", "fields[4].min: min is only allowed for types integer, decimal"),
        ("integer", "min: 5\nmax: 1", "fields[4].min: min (5) is above max (1)"),
        ("integer", "max: 2.5", "fields[4].max: an integer field takes a whole number as max"),
        ("date", "not_after: tomorrow", "fields[4].not_after: 'tomorrow' is no day bound"),
        ("date", "not_before: today+2c", "fields[4].not_before: 'today+2c' is no day bound"),
        ("date", "not_before: today+500y", "at most 100y (a century)"),
        (
            "date",
            "not_before: today\nnot_after: today-1y",
            "fields[4].not_before: not_before (today) is after not_after (today-1y)",
        ),
        ("integer", "not_after: today", "not_after is only allowed for types date"),
        ("string", "coordinate: latitude", "coordinate is only allowed for types decimal"),
        (
            "decimal",
            "coordinate: longitude\nmin: -200",
            "fields[4].min: a longitude lies between -180 and 180",
        ),
        (
            "string",
            "pattern: { regex: '[0-9', description: { de: Ziffern, en: digits } }",
            "fields[4].pattern.regex: not a valid regular expression",
        ),
        (
            "string",
            "pattern: { regex: '(a+)+b', description: { de: a, en: a } }",
            "fields[4].pattern.regex: a repeated group contains a repetition",
        ),
        (
            "string",
            "pattern: { regex: '(?=a)a', description: { de: a, en: a } }",
            "no lookaround",
        ),
        ("string", "pattern: '[0-9]{5}'", "fields[4].pattern"),
        ("integer", "pattern: { regex: 'x', description: { de: x, en: x } }", "only allowed"),
        (
            "string",
            "range_reason: { de: Weil., en: Because. }",
            "fields[4].range_reason: range_reason explains min/max",
        ),
    ],
)
def test_validate_refuses_a_rule_that_cannot_work_at_its_line(
    tmp_path: Path, connectors: ConnectorRegistry, probe_type: str, rules: str, message: str
) -> None:
    file = _write(tmp_path, probe_type=probe_type, probe_rules=rules)
    problems, _warnings = check_tree(file, connectors)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{file.as_posix()}:"), problems
    line = int(problems[0].split(":")[1].split(" ")[0])
    assert PROBE_LINE - 4 <= line <= PROBE_LINE + 1, problems  # the field or its rule
    assert message in problems[0]


@pytest.mark.parametrize(
    ("probe_type", "rules"),
    [
        ("integer", "min: 0\nmax: 50"),
        ("decimal", "coordinate: latitude\nmin: 50.82\nmax: 51.09\n"
         "range_reason: { de: Nur Köln., en: Cologne only. }"),
        ("date", "not_before: today-30y\nnot_after: today"),
        ("date", "not_before: 2024-01-01\nnot_after: today+1y"),
        ("string", "pattern: { regex: '5[01][0-9]{3}', description: { de: fünf Ziffern, "
         "en: five digits } }"),
    ],
)  # fmt: skip
def test_validate_accepts_rules_that_fit_their_field(
    tmp_path: Path, connectors: ConnectorRegistry, probe_type: str, rules: str
) -> None:
    file = _write(tmp_path, probe_type=probe_type, probe_rules=rules)
    assert check_tree(file, connectors) == ([], [])


@pytest.mark.parametrize(
    ("one_of", "required", "message"),
    [
        (GROUPS.replace("[breite, laenge]", "[breite, hoehe]"), "false", "unknown field 'hoehe'"),
        (GROUPS.replace("[breite, laenge]", "[breite, probe]"), "false", "is not asked on topic"),
        (GROUPS, "true", "field 'laenge' is required anyway"),
        (GROUPS.replace("[breite, laenge]", "[breite, plz]"), "false", "listed in two groups"),
        (GROUPS.replace("\n        - [breite, laenge]", ""), "false", "at least 2 items"),
    ],
)
def test_validate_refuses_one_of_groups_that_cannot_work(
    tmp_path: Path, connectors: ConnectorRegistry, one_of: str, required: str, message: str
) -> None:
    file = _write(tmp_path, one_of=one_of, laenge_required=required)
    problems, _warnings = check_tree(file, connectors)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{file.as_posix()}:1") and "topics[0].one_of" in problems[0]
    assert message in problems[0]


@pytest.mark.parametrize(
    ("probe_type", "warning"),
    [
        ("integer", "warning: field 'probe' takes any number; declare min and max"),
        ("date", "warning: field 'probe' takes any day; declare not_before and not_after"),
    ],
)
def test_validate_warns_of_a_typed_number_or_date_without_a_range(
    tmp_path: Path, connectors: ConnectorRegistry, probe_type: str, warning: str
) -> None:
    file = _write(tmp_path, probe_type=probe_type)
    problems, warnings = check_tree(file, connectors)
    assert problems == []
    assert warnings == [
        f"{file.as_posix()}:{PROBE_LINE - 3} fields[4].type: {warning}"
        + (
            " (or coordinate) for the values it can really have"
            if probe_type == "integer"
            else ", e.g. not_after: today for a day that has passed"
        )
    ]


def _definition(tmp_path: Path, connectors: ConnectorRegistry) -> ServiceDefinition:
    return load_definition(_write(tmp_path, one_of=GROUPS), connectors)


# --- intake: each rule with a failing and a passing answer ---------------------------------


@pytest.mark.parametrize(
    ("field", "raw", "stored", "de", "en"),
    [
        (_field("integer", min=0, max=50), "-1", None,
         "Geben Sie eine Zahl von 0 bis 50 ein.", "Enter a number from 0 to 50."),
        (_field("integer", min=0, max=50), "3", 3, None, None),
        (_field("integer", min=0), "-1", None,
         "Die Zahl darf nicht kleiner als 0 sein.", "Enter a number of 0 or more."),
        (_field("integer"), "9" * 20, None, "Die Zahl ist zu groß.", "The number is too large."),
        (_field("decimal", coordinate="longitude"), "999", None,
         "Geben Sie eine Zahl von −180 bis 180 ein.", "Enter a number from −180 to 180."),
        (_field("decimal", coordinate="longitude"), "-73.9", "-73.9", None, None),
        (_field("decimal", coordinate="latitude", min=50.82, max=51.09,
                range_reason={"de": "Nur Köln.", "en": "Cologne only."}), "52.52", None,
         "Geben Sie eine Zahl von 50,82 bis 51,09 ein. Nur Köln.",
         "Enter a number from 50.82 to 51.09. Cologne only."),
        (_field("decimal", coordinate="latitude", min=50.82, max=51.09), "50.9413", "50.9413",
         None, None),
        (_field("date", not_after="today"), "1.1.2027", None,
         "Das Datum darf nicht in der Zukunft liegen.", "The date cannot be in the future."),
        (_field("date", not_after="today"), "4.12.2026", "2026-12-04", None, None),
        (_field("date", not_before="today-10y"), "3.12.2016", None,
         "Das Datum darf nicht vor dem 04.12.2016 liegen.",
         "Enter a date on or after 4 December 2016."),
        (_field("date", not_before="today-10y", not_after="today+1y"), "5.12.2027", None,
         "Geben Sie ein Datum vom 04.12.2016 bis zum 04.12.2027 ein.",
         "Enter a date from 4 December 2016 to 4 December 2027."),
        (_field("date", not_before="today-10y", not_after="today+1y"), "2027-12-04",
         "2027-12-04", None, None),
        (_field("string", pattern={"regex": "5[01][0-9]{3}",
                                   "description": {"de": "fünf Ziffern", "en": "five digits"}}),
         "53113", None, "Bitte geben Sie es so an: fünf Ziffern.",
         "Enter it like this: five digits."),
        (_field("string", pattern={"regex": "5[01][0-9]{3}",
                                   "description": {"de": "fünf Ziffern", "en": "five digits"}}),
         "50667", "50667", None, None),
    ],
)  # fmt: skip
def test_intake_applies_each_rule(
    field: Field, raw: str, stored: Any, de: str | None, en: str | None
) -> None:
    value, problem = coerce(field, raw, today=TODAY)
    assert value == stored
    if de is None:
        assert problem is None
    else:
        assert problem is not None and (problem.de, problem.en) == (de, en)


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("1.3.25", date(2025, 3, 1)),
        ("01.03.2025", date(2025, 3, 1)),
        ("1.3.2025", date(2025, 3, 1)),
        ("2025-03-01", date(2025, 3, 1)),
        (" 1 . 3 . 2025 ", date(2025, 3, 1)),
        ("1/3/2025", date(2025, 3, 1)),
        ("29.2.2024", date(2024, 2, 29)),
    ],
)
def test_dates_are_read_as_people_type_them(typed: str, read: date) -> None:
    assert read_date(typed, TODAY) == read


@pytest.mark.parametrize(
    ("typed", "de", "en"),
    [
        ("31.02.2025", "Den 31. Februar gibt es nicht.", "There is no 31 February."),
        ("31.4.2025", "Den 31. April gibt es nicht.", "There is no 31 April."),
        ("29.02.2025", "Den 29. Februar gibt es 2025 nicht; 2025 ist kein Schaltjahr.",
         "There is no 29 February 2025; 2025 is not a leap year."),
        ("1.13.2025", "Einen 13. Monat gibt es nicht; der Monat ist eine Zahl von 1 bis 12.",
         "There is no month 13; the month is a number from 1 to 12."),
        ("32.1.2025", "Einen 32. Tag gibt es in keinem Monat.", "No month has a day 32."),
        ("morgen", "Geben Sie das Datum als Tag.Monat.Jahr ein, zum Beispiel 21.11.2026.",
         "Enter the date as day.month.year, for example 21.11.2026."),
        ("1.3.202", "Geben Sie das Datum als Tag.Monat.Jahr ein, zum Beispiel 21.11.2026.",
         "Enter the date as day.month.year, for example 21.11.2026."),
    ],
)  # fmt: skip
def test_impossible_dates_are_named_as_impossible(typed: str, de: str, en: str) -> None:
    value, problem = coerce(_field("date"), typed, today=TODAY)
    assert value is None and problem is not None
    assert (problem.de, problem.en) == (de, en)


def test_a_two_digit_year_falls_in_the_century_the_bounds_allow() -> None:
    # Without bounds: the nearer century; a birth date that may not be in the future: 1934.
    assert coerce(_field("date"), "1.3.34", today=TODAY)[0] == "2034-03-01"
    assert coerce(_field("date", not_after="today"), "1.3.34", today=TODAY)[0] == "1934-03-01"
    assert coerce(_field("date", not_after="today"), "1.3.25", today=TODAY)[0] == "2025-03-01"


def test_day_bounds_count_months_and_years_from_today() -> None:
    leap_day = date(2024, 2, 29)
    assert parse_day_bound("today+1y").on(leap_day) == date(2025, 2, 28)
    assert parse_day_bound("today-1m").on(date(2026, 3, 31)) == date(2026, 2, 28)
    assert parse_day_bound("today+2w").on(TODAY) == date(2026, 12, 18)
    assert parse_day_bound(date(2024, 1, 1)).on(TODAY) == date(2024, 1, 1)


@pytest.mark.parametrize(
    "regex",
    ["[0-9]{5}", "[A-Z]{1,3}-[A-Z]{1,2} [0-9]{1,4}", "(?:ab)+", "[^]a]+", "(?:-[0-9]{2})?",
     "(?:DE|AT)[0-9]{2}", "([A-Z][a-z]+)"],
)  # fmt: skip
def test_safe_patterns_are_accepted(regex: str) -> None:
    assert pattern_problem(regex) is None


@pytest.mark.parametrize(
    "regex",
    ["(a+)+", "(a*)*", "(?:x[a-z]*)+", "((ab)+c)*", "(a{2,})+", "(a|aa)+", "(?:a?a?)+",
     "(a)\\1", "(?=a)", "(?P<x>a)", "x" * 201],
)  # fmt: skip
def test_patterns_that_can_explode_are_refused(regex: str) -> None:
    assert pattern_problem(regex) is not None


def test_one_of_wants_a_complete_group_and_no_half_one(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    definition = _definition(tmp_path, connectors)
    [topic] = definition.topics

    def problems(values: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(p.field, p.de, p.en) for p in group_problems(definition, topic, values)]

    assert problems({}) == [
        (
            "strasse",
            "Geben Sie eine Anschrift oder Koordinaten an.",
            "Give an address or coordinates.",
        )
    ]
    assert problems({"breite": "50.9"}) == [
        ("laenge", "Bitte geben Sie auch „Längengrad“ an.", "Also enter 'Longitude'.")
    ]
    assert problems({"strasse": "Ring 1", "plz": "50667", "laenge": "6.9"}) == [
        ("breite", "Bitte geben Sie auch „Breitengrad“ an.", "Also enter 'Latitude'.")
    ]
    assert problems({"strasse": "Ring 1", "plz": "50667"}) == []
    assert problems({"breite": "50.9", "laenge": "6.9"}) == []


def test_submit_rechecks_a_stored_date_against_todays_bounds() -> None:
    """'today' moves: an answer stored weeks ago meets the bounds of the day it is sent."""
    field = _field("date", not_before="today-1m")
    assert rule_problem(field, "2026-10-25", today=date(2026, 11, 20)) is None
    late = rule_problem(field, "2026-10-25", today=TODAY)
    assert late is not None and late.en == "Enter a date on or after 4 November 2026."
