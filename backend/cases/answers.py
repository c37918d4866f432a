"""Checks what a citizen typed, per field type, with messages that say how to fix it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from backend.definitions.models import Field

MAX_TEXT = 2000
MAX_STRING = 300
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class FieldProblem:
    """One field-level problem, in both portal languages."""

    field: str
    de: str
    en: str

    def as_detail(self) -> dict[str, str]:
        return {"field": self.field, "message": self.en, "message_de": self.de}


def _iban_ok(value: str) -> bool:
    iban = value.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
        return False
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def coerce(field: Field, raw: Any) -> tuple[Any, FieldProblem | None]:
    """Turn a submitted value into the stored JSON value, or say what is wrong with it."""
    fid = field.id

    def bad(de: str, en: str) -> tuple[Any, FieldProblem]:
        return None, FieldProblem(fid, de, en)

    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None, None
    kind = field.type
    if kind in ("string", "text", "email", "iban", "choice"):
        if not isinstance(raw, str):
            return bad("Bitte geben Sie einen Text ein.", "Enter text.")
        value = raw.strip()
        limit = MAX_TEXT if kind == "text" else MAX_STRING
        if len(value) > limit:
            return bad(
                f"Bitte höchstens {limit} Zeichen eingeben.", f"Enter at most {limit} characters."
            )
        if kind == "email" and not _EMAIL.match(value):
            return bad(
                "Bitte geben Sie eine E-Mail-Adresse wie name@example.de ein.",
                "Enter an email address like name@example.com.",
            )
        if kind == "iban":
            if not _iban_ok(value):
                return bad(
                    "Die IBAN ist nicht gültig. Bitte prüfen Sie Ihre Eingabe.",
                    "The IBAN is not valid. Check what you entered.",
                )
            value = value.replace(" ", "").upper()
        if kind == "choice":
            allowed = [o.value for o in field.options or []]
            if value not in allowed:
                return bad(
                    "Bitte wählen Sie eine der angebotenen Möglichkeiten.",
                    "Choose one of the options.",
                )
        return value, None
    if kind == "date":
        if isinstance(raw, str):
            try:
                return date.fromisoformat(raw.strip()).isoformat(), None
            except ValueError:
                pass
        return bad("Bitte geben Sie ein Datum wie 2026-11-21 ein.", "Enter a date like 2026-11-21.")
    if kind == "integer":
        if isinstance(raw, bool):
            return bad("Bitte geben Sie eine ganze Zahl ein.", "Enter a whole number.")
        try:
            return int(str(raw).strip()), None
        except ValueError:
            return bad("Bitte geben Sie eine ganze Zahl ein.", "Enter a whole number.")
    if kind == "decimal":
        try:
            amount = Decimal(str(raw).strip().replace(",", "."))
        except InvalidOperation:
            return bad("Bitte geben Sie einen Betrag wie 12,50 ein.", "Enter an amount like 12.50.")
        if not amount.is_finite():
            return bad("Bitte geben Sie einen Betrag wie 12,50 ein.", "Enter an amount like 12.50.")
        return str(amount), None
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw, None
        if isinstance(raw, str) and raw.lower() in ("true", "false", "ja", "nein", "yes", "no"):
            return raw.lower() in ("true", "ja", "yes"), None
        return bad("Bitte wählen Sie Ja oder Nein.", "Choose yes or no.")
    return bad("Dieser Feldtyp kann nicht eingegeben werden.", "This field type cannot be entered.")
