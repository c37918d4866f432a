"""Every console action needs a reason: checked once, here."""

from __future__ import annotations

from backend.errors import InvalidInput

MAX_REASON = 2000


def required_reason(text: str | None, field: str = "reason") -> str:
    value = (text or "").strip()
    if not value:
        raise InvalidInput(
            "Bitte geben Sie eine Begründung an. (Please give a reason.)",
            details=[{"field": field, "message": "required"}],
        )
    if len(value) > MAX_REASON:
        raise InvalidInput(
            f"Bitte höchstens {MAX_REASON} Zeichen. (At most {MAX_REASON} characters.)",
            details=[{"field": field, "message": f"at most {MAX_REASON} characters"}],
        )
    return value
