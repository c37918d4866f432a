"""What every imported definition skeleton (import-fim, import-xzufi) writes the same way.

Quoting, the TODO marker that `knopfdruck services validate` reports, and the closing
automation and retention block: no import source describes decisions or retention, so each
skeleton ends with the same safe defaults (a person decides every case).
"""

from __future__ import annotations

import json

TODO = "TODO"


def quoted(text: str) -> str:
    """A YAML scalar: JSON strings are valid YAML double-quoted scalars."""
    return json.dumps(text, ensure_ascii=False)


def todo(what: str) -> str:
    """A value the integrator must still fill in; validate refuses it with file:line."""
    return quoted(f"{TODO}: {what}")


DECISION_TAIL = (
    "rules: []",
    "automation:",
    "  # No legal_basis: every case is decided by a person. Add one (§ 35a VwVfG) only where",
    "  # the law allows a fully automated decision.",
    "  referral_triggers: [disputed_data, remark, registry_failure, rule_referred]",
    "retention:",
    f"  days: {todo('days the case data is kept after closing')}",
    f"  legal_basis: {todo('legal basis of the retention period')}",
    "",
)
"""The skeleton's last lines: no automated decision and retention still to be set."""


def todo_lines(text: str) -> int:
    """How many lines of a skeleton still hold a TODO value or a TODO comment."""
    return sum(1 for line in text.splitlines() if f'"{TODO}' in line or f"# {TODO}:" in line)
