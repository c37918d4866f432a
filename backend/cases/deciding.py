"""The machine's decision on a case: the rules valid at its reference date, then the automation
policy's referrals. Pure (no database, no clock), so the worker, the console's re-run, the impact
analysis and the integrators' test runner all decide exactly alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from backend.definitions.models import ServiceDefinition
from backend.definitions.register_facts import statement_free_facts
from backend.domain.decision import Decision
from backend.domain.policy import CaseSignals, referral_reasons
from backend.domain.provenance import unconfirmed
from backend.rules.evaluate import decide


def signals_of(
    data: Mapping[str, Any],
    *,
    register_facts: Sequence[str] = (),
) -> CaseSignals:
    """What intake (and a clerk's re-read of the register) recorded in the case data that may
    stop automation."""
    blocked = list(data.get("blocked_fields") or [])
    failed = [f for f in data.get("failed_fields") or [] if f not in blocked]
    return CaseSignals(
        unverified_facts=unconfirmed(data, list(register_facts)),
        disputed_fields=list((data.get("disputes") or {}).keys()),
        has_remark=bool(data.get("remark")),
        failed_fields=failed,
        blocked_fields=unconfirmed(data, blocked),
        empty_fields=list(data.get("empty_fields") or []),
        rule_referred=False,  # decide() already refers on its own rules; not counted twice
    )


def decide_case(
    definition: ServiceDefinition,
    data: Mapping[str, Any],
    case_id: str,
    reference_date: date,
    *,
    paused: bool = False,
    qa_sample: bool = True,
) -> Decision:
    """Rules, then policy. The QA sample is a hash of the case id, so a replay samples alike.

    ``qa_sample=False`` leaves the random sample out, for an integrator's test case whose
    expectation describes the rules and the policy, not the lottery.
    """
    decision = decide(definition, dict(data.get("values") or {}), reference_date)
    automation = definition.automation
    for code in referral_reasons(
        legal_basis=automation.legal_basis,
        triggers=automation.referral_triggers,
        signals=signals_of(
            data,
            register_facts=must_be_read(definition, decision.proposed_outcome or decision.outcome),
        ),
        case_id=case_id,
        qa_sample_rate=automation.qa_sample_rate if qa_sample else 0.0,
        paused=paused,
    ):
        decision = decision.refer(code)
    return decision


def must_be_read(definition: ServiceDefinition, outcome: str | None) -> list[str]:
    """Fields the machine may decide on only as a register delivered them: the register facts,
    and every register-filled field when the outcome issues a certificate of register content."""
    fields = statement_free_facts(definition)
    if any(d.certifies_register and outcome in d.on for d in definition.documents):
        fields += [f.id for f in definition.fields if f.source is not None and f.id not in fields]
    return fields
