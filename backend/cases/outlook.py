"""What the registers already decide, told before the citizen submits: a dry run of the rules.

Issue 20: Bernd, whose home lies in no parking zone according to the Geodaten, learned it only
from the refusal. The check page now evaluates the service's rules on the values it is about
to send (no case, no audit event, no register read: pure) and names every rejection that rests
on register answers alone, with the consequence. The citizen may still apply: the register may
be wrong (they can report it), and a refusal is a notice they can challenge.

A rejection that also reads a value the citizen typed is not announced: the citizen can still
change that answer, and a warning on their own answer would read like advice on how to get
past the rule. A rule that reads a computed amount is left out too: which values the amount
rests on is not known without evaluating it.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from backend.cases.views import ApplicationView
from backend.definitions.models import EligibilityRule, ServiceDefinition
from backend.domain.cel import CelSyntaxError, compile_expression, references
from backend.domain.decision import Reason
from backend.rules.evaluate import decide


@lru_cache(maxsize=256)
def _read_by(condition: str) -> tuple[frozenset[str], bool] | None:
    """The fields a condition reads, and whether it reads an amount; None if it cannot compile."""
    try:
        program = compile_expression(condition)
    except CelSyntaxError:
        return None
    members = references(program).members
    fields = frozenset(name for root, name in members if root == "fields")
    return fields, any(root == "amounts" for root, _ in members)


def register_rejections(
    definition: ServiceDefinition, application: ApplicationView, reference_date: date
) -> list[Reason]:
    """The rejecting reasons that rest only on what registers answered, in rule order.

    Register answers are the values a register delivered and the optional values it answered
    with "none" (FieldView.asked is false); a value the citizen reported as wrong is not one.
    """
    answered = {
        f.id
        for f in application.fields
        if f.disputed is None and (f.origin == "registry" or not f.asked)
    }
    values = {f.id: f.value for f in application.fields if f.value not in (None, "")}
    decision = decide(definition, values, reference_date)
    rules = {rule.id: rule for rule in definition.rules if isinstance(rule, EligibilityRule)}
    found: list[Reason] = []
    for reason in decision.reasons:
        rule = rules.get(reason.rule_id)
        if reason.outcome_effect != "reject" or rule is None:
            continue
        read = _read_by(rule.condition)
        if read is None:
            continue
        fields, reads_amounts = read
        if fields and not reads_amounts and fields <= answered:
            found.append(reason)
    return found
