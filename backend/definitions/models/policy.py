"""When the machine may decide alone, how long data is kept, and the remedy a notice names."""

from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import StrictBool, StrictInt, model_validator

from backend.definitions.models.base import Identifier, Number, _first_duplicate, _problem, _Strict
from backend.domain.language import Text

ReferralTrigger = Literal[
    "disputed_data",
    "remark",
    "registry_failure",
    "held_data_missing",
    "rule_referred",
    "threshold",
    "qa_sample",
]

DEFAULT_TRIGGERS: tuple[ReferralTrigger, ...] = (
    "disputed_data",
    "remark",
    "registry_failure",
    "rule_referred",
)


class Threshold(_Strict):
    """A policy limit: above it a person decides, even where the law would allow automation."""

    output: Identifier = pydantic.Field(description="Amount to watch (rule output or fee id).")
    above: Number = pydantic.Field(description="The case is referred when the amount exceeds this.")


# --- register facts (issue 20): what the rules may only rely on when a register says it ---


class RegisterFact(_Strict):
    """A field whose value the rules rely on as a register states it (income, residence): typed
    instead of read, the machine does not decide unless the law accepts the citizen's word."""

    field: Identifier = pydantic.Field(
        description="Id of a field with a source; its value must come from that register."
    )
    allow_statement: StrictBool = pydantic.Field(
        default=False,
        description=(
            "The law allows deciding on the citizen's own statement when the register holds "
            "nothing (then legal_reference names the provision)."
        ),
    )
    legal_reference: Text | None = pydantic.Field(
        default=None,
        description="Provision that allows deciding on the statement; required with "
        "allow_statement.",
    )

    @model_validator(mode="after")
    def _statement_has_basis(self) -> RegisterFact:
        """Deciding on a statement instead of the register needs a provision that allows it."""
        if self.allow_statement and not self.legal_reference:
            raise _problem("allow_statement needs a legal_reference", "legal_reference")
        if self.legal_reference and not self.allow_statement:
            raise _problem("legal_reference is only used with allow_statement", "legal_reference")
        return self


# --- end of register facts ---


class Automation(_Strict):
    """When the machine may decide alone (§ 35a VwVfG) and what sends a case to a person."""

    register_facts: list[RegisterFact] = pydantic.Field(
        default_factory=list,
        description=(
            "Fields the rules rely on as a register holds them: a value the citizen typed "
            "instead sends the case to a person (referral 'unverified_register_fact')."
        ),
    )

    legal_basis: Text | None = pydantic.Field(
        default=None,
        description=(
            "Legal basis for fully automated decisions, e.g. '§ 35a VwVfG'. Without it every "
            "case is referred to a clerk."
        ),
    )
    referral_triggers: list[ReferralTrigger] = pydantic.Field(
        default_factory=lambda: list(DEFAULT_TRIGGERS),
        description="Events that send a case to a clerk instead of deciding it automatically.",
    )
    thresholds: list[Threshold] = pydantic.Field(
        default_factory=list, description="Amount limits above which a case is referred."
    )
    qa_sample_rate: float = pydantic.Field(
        default=0.0, ge=0.0, le=1.0, description="Share of cases (0..1) referred at random for QA."
    )
    processing_limit_minutes: int = pydantic.Field(
        default=60,
        ge=1,
        le=43_200,
        description=(
            "How long a case may stay in a machine state (submitted, processing, paid but not "
            "yet completed, decided but not yet notified) before the watchdog refers it to the "
            "department as an incident. Waiting for the citizen's payment or for a person does "
            "not count."
        ),
    )
    four_eyes_on_overturn: bool = pydantic.Field(
        default=False,
        description=(
            "A clerk's decision that departs from the machine's (its proposal, or an automated "
            "decision under review or objection) takes effect only after a second person of the "
            "department confirms it (four-eyes principle)."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Automation:
        """Declared triggers and their settings must agree, so the policy reads as it acts."""
        duplicate = _first_duplicate(list(self.referral_triggers))
        if duplicate is not None:
            raise _problem("trigger listed twice", "referral_triggers", duplicate[0])
        triggers = set(self.referral_triggers)
        if self.thresholds and "threshold" not in triggers:
            raise _problem("thresholds need the 'threshold' trigger", "referral_triggers")
        if "threshold" in triggers and not self.thresholds:
            raise _problem(
                "the 'threshold' trigger needs at least one threshold", "referral_triggers"
            )
        if self.qa_sample_rate > 0 and "qa_sample" not in triggers:
            raise _problem("a QA sample rate needs the 'qa_sample' trigger", "referral_triggers")
        if "qa_sample" in triggers and self.qa_sample_rate == 0:
            raise _problem(
                "the 'qa_sample' trigger needs a qa_sample_rate above 0", "qa_sample_rate"
            )
        return self


class Retention(_Strict):
    """How long case data is kept, and why (Art. 5 Abs. 1 lit. e GDPR: storage limitation)."""

    days: StrictInt = pydantic.Field(gt=0, description="Days after the case is closed.")
    legal_basis: Text = pydantic.Field(description="Legal basis of the retention period.")
