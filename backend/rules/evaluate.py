"""Decides a case from its fields by a service's dated rules: pure, no database and no HTTP."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, NamedTuple

import cel
from babel.numbers import format_currency, format_decimal

from backend.definitions.models import (
    REFER,
    CalculationRule,
    DecisionTableRule,
    EligibilityRule,
    Fee,
    LocalizedText,
    ServiceDefinition,
)
from backend.domain.cel import FUNCTIONS, CelSyntaxError, compile_expression, references
from backend.domain.decision import (
    NO_LEGAL_BASIS,
    OUTSIDE_VALIDITY,
    RULE_ERROR,
    RULE_REFERRED,
    THRESHOLD,
    Decision,
    Outcome,
    OutcomeEffect,
    Reason,
)

_LOCALES = {"de": "de_DE", "en": "en_GB"}
_ROUNDING = {
    "cents_half_up": (Decimal("0.01"), ROUND_HALF_UP),
    # "Abrunden" in German law means towards the lower euro.
    "euro_down": (Decimal("1"), ROUND_FLOOR),
    "euro_half_up": (Decimal("1"), ROUND_HALF_UP),
}
_CENT = Decimal("0.01")


class _RuleFailure(Exception):
    """A rule could not be evaluated; the case goes to a person with this explanation."""


def decide(
    definition: ServiceDefinition, fields: Mapping[str, Any], reference_date: date
) -> Decision:
    """Evaluate every rule and fee for one case and return the decision with its reasons.

    Field values are str, bool, int, float, Decimal, date, None, or lists and mappings of
    those; anything else is a programming error and raises TypeError. A rule that cannot be
    evaluated never raises: the case is referred with a reason naming the rule and the error.
    """
    return _Evaluation(definition, fields, reference_date).run()


class _Compiled(NamedTuple):
    """One expression, compiled once, with the amounts it reads."""

    program: cel.Program | CelSyntaxError
    amounts: frozenset[str]


@lru_cache(maxsize=256)
def _compiled(service_id: str, version: str, sources: tuple[str, ...]) -> Mapping[str, _Compiled]:
    """Programs of one definition version, compiled once per (service id, version).

    The sources are part of the key, so a definition edited without a version bump is
    recompiled rather than served stale.
    """
    compiled: dict[str, _Compiled] = {}
    for source in sources:
        try:
            program = compile_expression(source)
        except CelSyntaxError as exc:
            compiled[source] = _Compiled(exc, frozenset())
            continue
        read = frozenset(name for root, name in references(program).members if root == "amounts")
        compiled[source] = _Compiled(program, read)
    return compiled


def _sources(definition: ServiceDefinition) -> tuple[str, ...]:
    """Every CEL source of a definition, in order."""
    sources: list[str] = []
    for rule in definition.rules:
        if isinstance(rule, EligibilityRule):
            sources.append(rule.condition)
        elif isinstance(rule, CalculationRule):
            sources.append(rule.expression)
        else:
            sources.extend(row.when for row in rule.rows)
    sources.extend(fee.amount for fee in definition.fees if isinstance(fee.amount, str))
    return tuple(dict.fromkeys(sources))


def _to_cel(value: Any) -> Any:
    """Python values as CEL sees them: ISO dates (so they compare), decimals as doubles."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): _to_cel(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_to_cel(item) for item in value]
    raise TypeError(f"a {type(value).__name__} cannot be used in a rule")


def typed_fields(definition: ServiceDefinition, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Values as the rules' declarations type them (`backend/definitions/cel_types.py`).

    A decimal answer is stored as its exact string ('12.50'), so that no cent is lost in JSON;
    the rules read it as a double, as `validate` checks them. Before this, `fields.miete > 0.0`
    passed `validate` and failed on every case with "No such overload" (issue 15).
    """
    kinds = {field.id: field.type for field in definition.fields}
    typed = dict(fields)
    for name, value in fields.items():
        if kinds.get(name) == "decimal" and isinstance(value, str | int | Decimal):
            typed[name] = _number_of(value, Decimal)
        elif kinds.get(name) == "integer" and isinstance(value, str):
            typed[name] = _number_of(value, int)
    return typed


def _number_of(value: str | int | Decimal, kind: type[Decimal] | type[int]) -> Any:
    """A stored number in its type; a value that is not one stays as it is and fails visibly."""
    if isinstance(value, bool):
        return value
    try:
        return kind(value)
    except (ArithmeticError, ValueError):
        return value


def _to_decimal(value: Any, what: str) -> Decimal:
    """A CEL number as an exact Decimal; a double goes through its shortest repr, so 2.675
    stays 2.675 and rounds as a person would round it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _RuleFailure(f"{what} returned {_cel_type(value)}, expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise _RuleFailure(f"{what} returned {value}, expected a finite number")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _cel_type(value: Any) -> str:
    """A CEL result's type in the words of the rule author."""
    names = {bool: "a bool", int: "an int", float: "a double", str: "a string"}
    return names.get(type(value), f"a {type(value).__name__}")


def _describe(exc: Exception) -> str:
    """One short line about a runtime error, for the reason a clerk reads."""
    if isinstance(exc, KeyError):
        return f"no value for {exc.args[0]!r}" if exc.args else "a value is missing"
    text = " ".join(str(exc).split()) or type(exc).__name__
    first_sentence = text.split(". ")[0]
    return first_sentence[:200]


def _format_number(amount: Decimal, lang: str) -> str:
    """An amount as the citizen reads it, with as many decimals as it carries."""
    places = max(0, -int(amount.as_tuple().exponent))
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return str(format_decimal(amount, format=pattern, locale=_LOCALES[lang]))


def _fill(text: LocalizedText, placeholder: str, value: Decimal | str) -> LocalizedText:
    """Put a computed value into a reason in each language's number format."""

    def render(lang: str) -> str:
        shown = _format_number(value, lang) if isinstance(value, Decimal) else value
        return text.get(lang).replace("{" + placeholder + "}", shown)

    return LocalizedText(de=render("de"), en=render("en"))


class _Evaluation:
    """The state of one evaluation: rules run in order and each may read earlier amounts."""

    def __init__(
        self, definition: ServiceDefinition, fields: Mapping[str, Any], reference_date: date
    ) -> None:
        self.definition = definition
        self.reference_date = reference_date
        self.programs = _compiled(definition.id, definition.version, _sources(definition))
        self.fields = _to_cel(typed_fields(definition, fields))
        self.inputs = dict(fields)
        self.params = {
            name: _to_cel(value) for name, value in definition.parameters_on(reference_date).items()
        }
        self.reasons: list[Reason] = []
        self.amounts: dict[str, Decimal] = {}
        self.categories: dict[str, str] = {}
        self.referrals: list[str] = []
        self.rejected = False
        # After a failed eligibility rule or an error, later amounts are not computed: an
        # application that is not granted has no benefit, and its fee is not due.
        self.halted = False

    def run(self) -> Decision:
        """Evaluate in order and combine the results into one decision."""
        for rule in self.definition.rules:
            try:
                if isinstance(rule, EligibilityRule):
                    if not self._reads_missing_amount(rule.condition):
                        self._eligibility(rule)
                elif not self.halted and isinstance(rule, CalculationRule):
                    self._calculation(rule)
                elif not self.halted and isinstance(rule, DecisionTableRule):
                    self._decision_table(rule)
            except _RuleFailure as failure:
                self._error(rule.id, rule.legal_reference, str(failure))
        if not self.halted:
            for fee in self.definition.fees:
                try:
                    self._fee(fee)
                except _RuleFailure as failure:
                    self._error(fee.id, fee.legal_reference, str(failure))
        by_rules = self._outcome()
        self._policy()
        outcome = self._outcome()
        return Decision(
            outcome=outcome,
            proposed_outcome=by_rules if outcome != by_rules else None,
            reasons=self.reasons,
            amounts=self.amounts,
            rule_version=self.definition.rule_version,
            inputs=self.inputs,
            reference_date=self.reference_date,
            referral_reasons=self.referrals,
            categories=self.categories,
        )

    def _outcome(self) -> Outcome:
        """Combine the rule results.

        A referral outranks a rejection: a person must look whenever the machine is unsure,
        and a rejection reached next to an open question may rest on it. A rejection is
        final only when no rule referred; everything else is an approval.
        """
        if self.referrals:
            return "referred"
        return "rejected" if self.rejected else "approved"

    def _evaluate(self, source: str, what: str) -> Any:
        """Run one expression; every runtime error becomes a _RuleFailure, never a traceback."""
        program = self.programs[source].program
        if isinstance(program, CelSyntaxError):
            raise _RuleFailure(f"{what}: {program}")
        context = cel.Context(
            variables={
                "fields": self.fields,
                "params": self.params,
                "amounts": {**{k: float(v) for k, v in self.amounts.items()}, **self.categories},
                "reference_date": self.reference_date.isoformat(),
            },
            functions=FUNCTIONS,
        )
        try:
            return program.execute(context)
        # The CEL runtime raises TypeError, KeyError, ValueError, RuntimeError or
        # ZeroDivisionError, and registered functions raise whatever they raise: rules cannot
        # express discretion, so a machine that cannot decide refers, whatever the cause.
        except Exception as exc:
            raise _RuleFailure(f"{what}: {_describe(exc)}") from exc

    def _reads_missing_amount(self, source: str) -> bool:
        """After a halt, a condition on an amount that was not computed has nothing to judge."""
        missing = self.programs[source].amounts - self.amounts.keys() - self.categories.keys()
        return self.halted and bool(missing)

    def _bool(self, source: str, what: str) -> bool:
        """Conditions must be booleans; a truthy number is a mistake, not a yes."""
        result = self._evaluate(source, what)
        if not isinstance(result, bool):
            raise _RuleFailure(f"{what} returned {_cel_type(result)}, expected a bool")
        return result

    def _reason(
        self,
        rule_id: str,
        legal_reference: str,
        effect: OutcomeEffect,
        text: LocalizedText,
        detail: str | None = None,
    ) -> None:
        self.reasons.append(
            Reason(
                rule_id=rule_id,
                legal_reference=legal_reference,
                outcome_effect=effect,
                text=text,
                detail=detail,
            )
        )

    def _refer(self, code: str) -> None:
        if code not in self.referrals:
            self.referrals.append(code)

    def _eligibility(self, rule: EligibilityRule) -> None:
        if self._bool(rule.condition, "the condition"):
            self._reason(rule.id, rule.legal_reference, "approve", rule.reason)
            return
        self._reason(rule.id, rule.legal_reference, rule.otherwise, rule.reason_otherwise)
        self.halted = True
        if rule.otherwise == "refer":
            self._refer(RULE_REFERRED)
        else:
            self.rejected = True

    def _calculation(self, rule: CalculationRule) -> None:
        amount = _to_decimal(self._evaluate(rule.expression, "the expression"), "the expression")
        if rule.rounding is not None:
            quantum, mode = _ROUNDING[rule.rounding]
            amount = amount.quantize(quantum, rounding=mode)
        self.amounts[rule.output] = amount
        self._reason(rule.id, rule.legal_reference, "output", _fill(rule.reason, "amount", amount))

    def _decision_table(self, rule: DecisionTableRule) -> None:
        for index, row in enumerate(rule.rows):
            if self._bool(row.when, f"row {index + 1}"):
                self._table_output(rule, row.value, row.reason)
                return
        if rule.otherwise == REFER:
            self._reason(rule.id, rule.legal_reference, "refer", rule.reason_otherwise)
            self._refer(RULE_REFERRED)
            self.halted = True
            return
        self._table_output(rule, rule.otherwise, rule.reason_otherwise)

    def _table_output(
        self, rule: DecisionTableRule, value: int | float | str, reason: LocalizedText
    ) -> None:
        shown: Decimal | str
        if isinstance(value, str):
            self.categories[rule.output] = shown = value
        else:
            self.amounts[rule.output] = shown = _to_decimal(value, "the table value")
        self._reason(rule.id, rule.legal_reference, "output", _fill(reason, "value", shown))

    def _fee(self, fee: Fee) -> None:
        raw = self._evaluate(fee.amount, "the fee") if isinstance(fee.amount, str) else fee.amount
        # Fees are money: always whole cents, rounded half up.
        amount = _to_decimal(raw, "the fee").quantize(_CENT, rounding=ROUND_HALF_UP)
        if amount < 0:
            raise _RuleFailure(f"the fee is negative ({amount})")
        self.amounts[fee.id] = amount

        def render(lang: str) -> str:
            money = format_currency(amount, "EUR", locale=_LOCALES[lang])
            return f"{fee.label.get(lang)}: {money}"

        self._reason(
            fee.id, fee.legal_reference, "output", LocalizedText(de=render("de"), en=render("en"))
        )

    def _error(self, rule_id: str, legal_reference: str, problem: str) -> None:
        # The citizen may read this reason: plain words in their language, no CEL message
        # (issue 15 saw "No such overload" in a German reason). The clerk sees the detail.
        text = LocalizedText(
            de=f"Die Regel „{rule_id}“ konnte für Ihren Antrag nicht automatisch ausgewertet "
            "werden; eine Sachbearbeiterin oder ein Sachbearbeiter prüft den Antrag.",
            en=f"Rule '{rule_id}' could not be evaluated automatically for your application; "
            "a clerk will check the application.",
        )
        self._reason(rule_id, legal_reference, "refer", text, detail=problem)
        self._refer(RULE_ERROR)
        self.halted = True

    def _policy(self) -> None:
        """The automation policy: thresholds, the rule version's validity, § 35a VwVfG."""
        automation = self.definition.automation
        for threshold in automation.thresholds:
            amount = self.amounts.get(threshold.output)
            limit = _to_decimal(threshold.above, "the threshold")
            if amount is not None and amount > limit:
                self._refer(THRESHOLD)
                self._reason(
                    f"threshold:{threshold.output}",
                    automation.legal_basis or "",
                    "refer",
                    _fill(
                        LocalizedText(
                            de=f"„{threshold.output}“ übersteigt {{value}}; "
                            "eine Sachbearbeiterin oder ein Sachbearbeiter entscheidet.",
                            en=f"'{threshold.output}' exceeds {{value}}; a clerk decides.",
                        ),
                        "value",
                        limit,
                    ),
                )
        if not self.definition.is_valid_on(self.reference_date):
            self._refer(OUTSIDE_VALIDITY)
            self._reason(
                "valid_from",
                self.definition.legal_basis,
                "refer",
                LocalizedText(
                    de=f"Die Regeln {self.definition.rule_version} gelten nicht am "
                    f"{self.reference_date.isoformat()}; eine Sachbearbeiterin oder ein "
                    "Sachbearbeiter entscheidet.",
                    en=f"The rules {self.definition.rule_version} do not apply on "
                    f"{self.reference_date.isoformat()}; a clerk decides.",
                ),
            )
        if automation.legal_basis is None:
            # § 35a VwVfG: a fully automated administrative act needs a legal basis.
            self._refer(NO_LEGAL_BASIS)
            self._reason(
                "automation",
                "§ 35a VwVfG",
                "refer",
                LocalizedText(
                    de="Für diese Leistung ist keine vollautomatische Entscheidung zugelassen; "
                    "eine Sachbearbeiterin oder ein Sachbearbeiter entscheidet.",
                    en="This service may not be decided fully automatically; a clerk decides.",
                ),
            )
