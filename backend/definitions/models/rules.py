"""What decides a case: dated parameters and the eligibility, calculation and table rules."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

import pydantic
from pydantic import StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

from backend.definitions.models.base import CelSource, Identifier, _problem, _Strict
from backend.domain.language import LocalizedText, Text

ParameterValue = StrictBool | StrictInt | StrictFloat | StrictStr
TableValue = StrictInt | StrictFloat | StrictStr
Rounding = Literal["cents_half_up", "euro_down", "euro_half_up"]

REFER = "refer"
"""The decision-table ``otherwise`` value that sends the case to a person."""


class UndefinedParameter(LookupError):
    """A rule asked for a parameter that has no value on the requested day."""


def _check_placeholders(text: LocalizedText, allowed: set[str], *at: str | int) -> None:
    """A placeholder the evaluator does not fill would reach the citizen verbatim."""
    for lang in ("de", "en"):
        for name in re.findall(r"\{([^{}]*)\}", getattr(text, lang)):
            if name not in allowed:
                hint = ", ".join("{" + a + "}" for a in sorted(allowed)) or "none"
                raise _problem(f"unknown placeholder '{{{name}}}' (allowed: {hint})", *at, lang)


class DatedValue(_Strict):
    """A parameter value and the day from which it applies (like OpenFisca parameters)."""

    valid_from: date = pydantic.Field(description="First day on which this value applies.")
    value: ParameterValue = pydantic.Field(
        description="The value: a number, a string or a boolean."
    )
    legal_reference: Text | None = pydantic.Field(
        default=None, description="Where the value is set, e.g. '§ 2 Gebührensatzung'."
    )


class EligibilityRule(_Strict):
    """A condition the application must meet; if it does not, the case is rejected or referred."""

    kind: Literal["eligibility"] = pydantic.Field(description="Rule kind.")
    id: Identifier = pydantic.Field(description="Rule id, unique within the service.")
    legal_reference: Text = pydantic.Field(description="Provision the rule implements.")
    condition: CelSource = pydantic.Field(
        description="CEL expression that must evaluate to a bool."
    )
    otherwise: Literal["reject", "refer"] = pydantic.Field(
        description="What happens when the condition is false: reject, or refer to a clerk."
    )
    reason: LocalizedText = pydantic.Field(description="Reason stated when the condition holds.")
    reason_otherwise: LocalizedText = pydantic.Field(
        description="Reason stated when the condition does not hold."
    )


class CalculationRule(_Strict):
    """Computes an amount (benefit, fee base, days) from fields, parameters and earlier amounts."""

    kind: Literal["calculation"] = pydantic.Field(description="Rule kind.")
    id: Identifier = pydantic.Field(description="Rule id, unique within the service.")
    legal_reference: Text = pydantic.Field(description="Provision the rule implements.")
    output: Identifier = pydantic.Field(description="Name of the amount, used as amounts.<output>.")
    expression: CelSource = pydantic.Field(description="CEL expression returning a number.")
    rounding: Rounding | None = pydantic.Field(
        default=None,
        description=(
            "Rounding of the result: cents_half_up (to 0.01, half up), euro_down (to whole "
            "euros, down), euro_half_up (to whole euros, half up); none keeps the exact result."
        ),
    )
    reason: LocalizedText = pydantic.Field(
        description="Reason stated with the result; '{amount}' is replaced by the amount."
    )

    @model_validator(mode="after")
    def _placeholders(self) -> CalculationRule:
        """Only {amount} is filled in."""
        _check_placeholders(self.reason, {"amount"}, "reason")
        return self


class TableRow(_Strict):
    """One row of a decision table."""

    when: CelSource = pydantic.Field(description="CEL expression that must evaluate to a bool.")
    value: TableValue = pydantic.Field(
        description="Output value when this is the first matching row."
    )
    reason: LocalizedText = pydantic.Field(
        description="Reason stated when this row decides; '{value}' is replaced by the value."
    )

    @model_validator(mode="after")
    def _placeholders(self) -> TableRow:
        """Only {value} is filled in."""
        _check_placeholders(self.reason, {"value"}, "reason")
        return self


class DecisionTableRule(_Strict):
    """Picks a value by the first matching row, e.g. a tariff class or a flat amount."""

    kind: Literal["decision_table"] = pydantic.Field(description="Rule kind.")
    id: Identifier = pydantic.Field(description="Rule id, unique within the service.")
    legal_reference: Text = pydantic.Field(description="Provision the rule implements.")
    output: Identifier = pydantic.Field(description="Name of the result, used as amounts.<output>.")
    rows: list[TableRow] = pydantic.Field(
        min_length=1, description="Rows in order; the first row whose condition holds wins."
    )
    otherwise: TableValue = pydantic.Field(
        default=REFER,
        description="Value when no row matches, or 'refer' to send the case to a clerk.",
    )
    reason_otherwise: LocalizedText = pydantic.Field(
        description="Reason stated when no row matches; '{value}' is replaced by the value."
    )

    @model_validator(mode="after")
    def _consistent(self) -> DecisionTableRule:
        """A table yields either numbers (amounts) or strings (categories), never both."""
        kinds = [isinstance(row.value, str) for row in self.rows]
        if self.otherwise != REFER:
            kinds.append(isinstance(self.otherwise, str))
        for index, is_text in enumerate(kinds):
            if is_text != kinds[0]:
                at: tuple[str | int, ...] = (
                    ("rows", index, "value") if index < len(self.rows) else ("otherwise",)
                )
                raise _problem("all values of a table must be numbers, or all strings", *at)
        _check_placeholders(self.reason_otherwise, {"value"}, "reason_otherwise")
        return self

    @property
    def can_refer(self) -> bool:
        """Whether an unmatched case goes to a clerk."""
        return self.otherwise == REFER


Rule = Annotated[
    EligibilityRule | CalculationRule | DecisionTableRule,
    pydantic.Field(discriminator="kind"),
]


def _value_kind(value: object) -> str:
    """Parameter value kinds that may not be mixed over time."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"
