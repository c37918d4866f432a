"""Rules type-checked at validate time, and evaluated with the types the checker assumed."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import cel
import pytest

from backend.definitions import load_definition, validate_tree
from backend.definitions.cel_types import Declarations, type_problem
from backend.domain.cel import FUNCTIONS, add_days, add_months, days_between, end_of_month
from backend.rules.evaluate import decide
from prefill.configuration import build_default_registry
from prefill.connectors.registry import ConnectorRegistry

REPO = Path(__file__).parents[2]
RECHNER = Path(__file__).parent / "fixtures" / "definitions" / "valid" / "rechner"
INCOME_RULE = 'condition: "fields.einkommen <= params.einkommensgrenze"'
# As the portal stores answers: decimals as exact strings, integers as ints, dates as ISO.
STORED = {
    "geburtsdatum": "1990-05-01",
    "wohnort": "Köln",
    "einkommen": "25000.00",
    "kinder": 1,
    "x": "2.675",
}


@pytest.fixture(scope="module")
def connectors() -> ConnectorRegistry:
    return build_default_registry()


def _rechner(tmp_path: Path, old: str, new: str) -> Path:
    """The rechner fixture with one line changed, in a folder of its own."""
    folder = tmp_path / "rechner"
    shutil.copytree(RECHNER, folder)
    text = (folder / "service.yaml").read_text(encoding="utf-8")
    assert old in text
    (folder / "service.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def _problems(tmp_path: Path, connectors: ConnectorRegistry, old: str, new: str) -> list[str]:
    folder = _rechner(tmp_path, old, new)
    return [p.split(str(tmp_path) + "/", 1)[-1] for p in validate_tree(folder, connectors)]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            INCOME_RULE,
            'condition: "fields.einkommen <= 30000"',
            "rechner/service.yaml:39 rules[2].condition: type error at 1:18: found no matching "
            "overload for '<=' applied to '(double, int)'; CEL does not mix int and double: "
            "write 1 for an int or 1.0 for a double, or convert with double(x) or int(x)",
        ),
        (
            INCOME_RULE,
            'condition: "fields.kinder"',
            "rechner/service.yaml:39 rules[2].condition: "
            "a condition must be a bool, but this is an int",
        ),
        (
            INCOME_RULE,
            'condition: "age_on(fields.geburtsdatum, 18) >= 18"',
            "rechner/service.yaml:39 rules[2].condition: type error at 1:7: found no matching "
            "overload for 'age_on' applied to '(string, int)'",
        ),
        (
            INCOME_RULE,
            "condition: \"add_days(fields.geburtsdatum, 1.5) > '2000-01-01'\"",
            "rechner/service.yaml:39 rules[2].condition: type error at 1:9: found no matching "
            "overload for 'add_days' applied to '(string, double)'",
        ),
        (
            "expression: fields.x * 3.0",
            "expression: fields.wohnort",
            "rechner/service.yaml:68 rules[6].expression: "
            "an amount must be a number (int or double), but this is a string",
        ),
        (
            "expression: fields.x * 3.0",
            "expression: fields.x / 0",
            "rechner/service.yaml:68 rules[6].expression: division by zero: "
            "'/ 0' fails for every case",
        ),
        (
            "expression: fields.x * 3.0",
            "expression: 100.0 / 0.0",
            "rechner/service.yaml:68 rules[6].expression: division by zero: "
            "'/ 0.0' fails for every case",
        ),
        (
            "condition: amounts.summe > 0.0",
            "condition: amounts.stufe > 0.0",
            "rechner/service.yaml:98 rules[10].condition: type error at 1:15: found no matching "
            "overload for '>' applied to '(string, double)'",
        ),
    ],
)
def test_a_rule_that_cannot_run_fails_validate_with_its_line(
    tmp_path: Path, connectors: ConnectorRegistry, old: str, new: str, problem: str
) -> None:
    assert _problems(tmp_path, connectors, old, new) == [problem]


@pytest.mark.parametrize(
    "condition",
    [
        "fields.einkommen <= params.einkommensgrenze",
        "fields.einkommen <= 30000.0",
        "double(fields.kinder) * 1.5 < 10.0",
        "has(fields.kinder) && fields.kinder >= 1",
        "days_between(fields.geburtsdatum, reference_date) > 6570",
        "add_months(fields.geburtsdatum, 216) <= reference_date",
        "fields.wohnort in ['Köln', 'Bonn']",
    ],
)
def test_well_typed_rules_pass(
    tmp_path: Path, connectors: ConnectorRegistry, condition: str
) -> None:
    assert _problems(tmp_path, connectors, INCOME_RULE, f"condition: {condition!r}") == []


def test_a_decimal_stored_as_a_string_is_compared_as_a_number(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    """The defect of issue 15: `fields.kaltmiete > 0.0` passed validate and referred every case."""
    rule = 'condition: "fields.einkommen > 0.0 && fields.einkommen <= 30000.0"'
    definition = load_definition(_rechner(tmp_path, INCOME_RULE, rule), connectors)
    decision = decide(definition, STORED, date(2025, 6, 1))
    assert decision.referral_reasons == []
    assert decision.outcome == "approved"
    amounts = {name: str(value) for name, value in decision.amounts.items()}
    assert amounts["cent"] == "2.68"


def test_an_income_above_the_limit_is_still_rejected_when_stored_as_a_string(
    connectors: ConnectorRegistry,
) -> None:
    definition = load_definition(RECHNER, connectors)
    decision = decide(definition, {**STORED, "einkommen": "30000.01"}, date(2025, 6, 1))
    assert decision.outcome == "rejected"


def test_every_shipped_service_type_checks(connectors: ConnectorRegistry) -> None:
    assert validate_tree(REPO / "services", connectors) == []


def _guide_examples() -> list[str]:
    text = (REPO / "docs" / "integrators.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```cel\n(.*?)```", text, flags=re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_the_guide_has_rule_examples() -> None:
    assert len(_guide_examples()) >= 10


@pytest.mark.parametrize("example", _guide_examples())
def test_every_rule_example_in_the_guide_type_checks_and_holds(example: str) -> None:
    assert type_problem(Declarations((), (), ()), example, "bool") is None
    result = cel.compile(example).execute(
        cel.Context(variables={"reference_date": "2026-03-01"}, functions=FUNCTIONS)
    )
    assert result is True


def test_date_helpers_refuse_what_is_not_a_day() -> None:
    with pytest.raises(ValueError):
        days_between("2026-02-30", "2026-03-01")
    with pytest.raises(TypeError, match="whole number"):
        add_days("2026-03-01", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ISO date string"):
        end_of_month(20260301)  # type: ignore[arg-type]


def test_add_months_crosses_years_both_ways() -> None:
    assert add_months("2026-11-30", 3) == "2027-02-28"
    assert add_months("2026-01-15", -13) == "2024-12-15"
    assert add_months("2024-02-29", 12) == "2025-02-28"


def test_a_field_must_have_a_type_that_holds_its_register_attribute(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    folder = tmp_path / "elterngeld"
    shutil.copytree(REPO / "services" / "elterngeld", folder)
    text = (folder / "service.yaml").read_text(encoding="utf-8")
    old = "  - id: nettoeinkommen\n    type: decimal\n"
    assert old in text
    text = text.replace(old, "  - id: nettoeinkommen\n    type: string\n", 1)
    (folder / "service.yaml").write_text(text, encoding="utf-8")
    problems = [p.split(str(tmp_path) + "/", 1)[-1] for p in validate_tree(folder, connectors)]
    assert problems == [
        "elterngeld/service.yaml:135 fields[10].type: type 'string' cannot hold attribute "
        "'nettoeinkommen.durchschnitt_12_monate' of connector 'einkommensregister', which is "
        "decimal (use one of: decimal)"
    ]
