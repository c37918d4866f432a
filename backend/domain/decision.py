"""A decision is a value: outcome, reasons, amounts, and everything needed to explain it later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator

from backend.domain.language import LocalizedText

Outcome = Literal["approved", "rejected", "referred"]
OutcomeEffect = Literal["approve", "reject", "refer", "output"]
"""What a reason did: supported approval, rejected, referred, or stated a computed output."""

# Why a case went to a person. The first group is set by the rule evaluation; the engine adds
# the others (the citizen disputed data or wrote a remark, a registry failed, the QA sample).
RULE_REFERRED = "rule_referred"
RULE_ERROR = "rule_error"
THRESHOLD = "threshold"
NO_LEGAL_BASIS = "no_legal_basis"
OUTSIDE_VALIDITY = "outside_validity"
DISPUTED_DATA = "disputed_data"
REMARK = "remark"
REGISTRY_FAILURE = "registry_failure"
QA_SAMPLE = "qa_sample"

_Stored = TypeVar("_Stored", bound=Mapping[str, Any])

CLERK_RULE = "sachbearbeitung"
"""The rule id of a person's decision and its reason, stored next to the machine's reasons."""

SUPPORTS: dict[str, frozenset[str]] = {
    "approved": frozenset({"approve", "output"}),
    "rejected": frozenset({"reject"}),
    "referred": frozenset({"refer"}),
}
"""The reason effects that carry each outcome: what a notice or the portal may state."""


def _json_safe(value: Any) -> Any:
    """Inputs are stored as JSON, so dates become ISO strings and decimals exact strings."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    raise ValueError(f"cannot store a {type(value).__name__} as a decision input")


class Reason(BaseModel):
    """One stated reason: which rule, which provision, what it did, in the citizen's words."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    legal_reference: str
    outcome_effect: OutcomeEffect
    text: LocalizedText
    detail: str | None = None
    """Why a rule could not be evaluated, in the rule language's terms: for the clerk's case
    file only; the citizen's text says in plain words that a person checks the application."""


class Decision(BaseModel):
    """The result of evaluating a service's rules for one case, explainable from itself alone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Outcome
    reasons: list[Reason]
    amounts: dict[str, Decimal]
    rule_version: str
    inputs: dict[str, Any]
    reference_date: date
    referral_reasons: list[str] = []
    proposed_outcome: Outcome | None = None
    """What the rules alone concluded when the automation policy sent the case to a person
    anyway (a threshold, no legal basis, a disputed value); the clerk sees it as a proposal."""
    categories: dict[str, str] = {}
    """Text outputs of decision tables (e.g. a tariff class); numbers go to amounts."""

    @field_validator("inputs", mode="before")
    @classmethod
    def _store_as_json(cls, inputs: Any) -> Any:
        """Normalise once, so a stored decision reads back equal to the one made."""
        return _json_safe(inputs) if isinstance(inputs, Mapping) else inputs

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; amounts are exact decimal strings."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Decision:
        """Read back what to_json produced."""
        return cls.model_validate(dict(data))

    def refer(self, code: str, reason: Reason | None = None) -> Decision:
        """The same decision sent to a person, e.g. because the citizen disputed held data."""
        proposal = self.proposed_outcome
        if proposal is None and self.outcome != "referred":
            proposal = self.outcome
        return self.model_copy(
            update={
                "outcome": "referred",
                "proposed_outcome": proposal,
                "referral_reasons": list(dict.fromkeys([*self.referral_reasons, code])),
                "reasons": [*self.reasons, reason] if reason is not None else list(self.reasons),
            }
        )


def stated_reasons(outcome: str | None, reasons: Sequence[_Stored]) -> list[_Stored]:
    """The reasons a citizen reads: those that carried the outcome, none that speak against it.

    A rejection states the conditions that failed, an approval the ones that held and the
    amounts its tenor states, a referral what made it one; a person's own reason always
    stands. The full evaluation stays in the case record for the clerks. An approval next to a
    failed condition was a person's decision against the rules: the conditions the rules found
    met may then hold only because an earlier one failed (a guard), so only the person's
    reason and the amounts are stated.
    """
    carrying = SUPPORTS.get(outcome or "", frozenset())
    against_rules = outcome == "approved" and any(
        r.get("outcome_effect") == "reject" and r.get("rule_id") != CLERK_RULE for r in reasons
    )
    if against_rules:
        carrying = frozenset({"output"})
    return [
        r for r in reasons if r.get("rule_id") == CLERK_RULE or r.get("outcome_effect") in carrying
    ]
