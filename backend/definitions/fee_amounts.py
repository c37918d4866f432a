"""A fee as it stands on a given day, for every place that states fees before a case exists
(the portal's catalogue and the XZuFi export)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import cel

from backend.definitions.models import Fee, ServiceDefinition
from backend.domain.cel import FUNCTIONS, CelSyntaxError, compile_expression, references


def fee_today(definition: ServiceDefinition, fee: Fee, today: date) -> Decimal | None:
    """A fee as the catalogue states it: known when it is a number or reads only parameters."""
    amount: Any = fee.amount
    if isinstance(amount, str):
        try:
            program = compile_expression(amount)
        except CelSyntaxError:
            return None
        roots = {root for root, _name in references(program).members}
        if roots - {"params"} or references(program).unknown_names:
            return None
        params = definition.parameters_on(today)
        try:
            amount = program.execute(cel.Context(variables={"params": params}, functions=FUNCTIONS))
        # The CEL runtime's errors: the fee then depends on the case, and the page says so.
        except (TypeError, KeyError, ValueError, RuntimeError, ZeroDivisionError):
            return None
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return None
    return Decimal(repr(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
