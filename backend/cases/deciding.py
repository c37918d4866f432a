"""The machine's decision on a case: the rules valid at its reference date, then the automation
policy's referrals. Pure (no database, no clock), so the worker, the console's re-run, the impact
analysis and the integrators' test runner all decide exactly alike."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from backend.definitions.models import ServiceDefinition
from backend.domain.decision import Decision
from backend.domain.policy import CaseSignals, referral_reasons
from backend.rules.evaluate import decide


def signals_of(data: Mapping[str, Any], *, registry_checked: bool = False) -> CaseSignals:
    """What intake recorded in the case data that may stop automation. ``registry_checked``: a
    clerk has checked the values a failed registry could not deliver (console re-run)."""
    return CaseSignals(
        disputed_fields=list((data.get("disputes") or {}).keys()),
        has_remark=bool(data.get("remark")),
        failed_fields=[] if registry_checked else list(data.get("failed_fields") or []),
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
    registry_checked: bool = False,
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
        signals=signals_of(data, registry_checked=registry_checked),
        case_id=case_id,
        qa_sample_rate=automation.qa_sample_rate if qa_sample else 0.0,
        paused=paused,
    ):
        decision = decision.refer(code)
    return decision
