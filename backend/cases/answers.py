"""Checks what a citizen typed, per field type, with messages that say how to fix it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from backend.definitions.models import HELD_LABEL_KEY, Field
from backend.domain.din91379 import DataType, first_offender

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


def held_options(field: Field, prefill: dict[str, Any]) -> list[tuple[str, str]]:
    """(answer, label) per record of the held list a choice field takes its answers from.

    Records without the value key are left out; a missing label key shows as nothing. The
    list comes from the application's prefill, so only the citizen's own records are offered.
    """
    spec = field.options_from
    if spec is None:
        return []
    entry = prefill.get(spec.field) or {}
    records = entry.get("value") if entry.get("status") == "ok" else None
    if not isinstance(records, list):
        return []
    found: list[tuple[str, str]] = []
    for record in records:
        if not isinstance(record, dict) or record.get(spec.value) in (None, ""):
            continue
        found.append((str(record[spec.value]), _fill(spec.label, record)))
    return found


def _fill(template: str, record: dict[str, Any]) -> str:
    """A held-options label with its {key} gaps filled from one record."""
    text = HELD_LABEL_KEY.sub(lambda m: str(record.get(m.group(1)) or ""), template)
    return " ".join(text.split())


def length_problem(field: Field, value: str) -> FieldProblem | None:
    """A text answer outside the field's length limits, named with the field and its limit.

    The limit is the definition's, already lowered to the register's where the answer is
    written back (backend/definitions/limits.py); a choice is bounded by its options."""
    limit = field.length_limit
    if limit is not None and len(value) > limit:
        return FieldProblem(
            field.id,
            f"{field.label.de} darf höchstens {limit} Zeichen lang sein (jetzt {len(value)}).",
            f"{field.label.en} must be {limit} characters or fewer (now {len(value)}).",
        )
    if field.min_length is not None and len(value) < field.min_length:
        return FieldProblem(
            field.id,
            f"{field.label.de} muss mindestens {field.min_length} Zeichen lang sein.",
            f"{field.label.en} must be {field.min_length} characters or more.",
        )
    return None


_CHARSET_WHERE: dict[DataType, tuple[str, str]] = {
    DataType.A: ("in Namen von Personen", "in names of persons"),
    DataType.B: ("in Namen und Anschriften", "in names and addresses"),
}


def charset_problem(field: Field, value: str) -> FieldProblem | None:
    """A text answer with a character DIN 91379 does not hold for the field's data type: a
    register or XÖV message could not take it, and a notice could not print it (issue 20)."""
    charset = field.text_charset
    if charset is None:
        return None
    data_type = DataType(charset.removeprefix("din91379-"))
    return din91379_problem(field.id, field.label.de, field.label.en, value, data_type)


def din91379_problem(
    key: str, label_de: str, label_en: str, value: str, data_type: DataType = DataType.C
) -> FieldProblem | None:
    """The first character of `value` outside a DIN 91379 data type, by code point and name;
    also for the remark and dispute statements, which the receipt prints."""
    found = first_offender(value, data_type)
    if found is None:
        return None
    where_de, where_en = _CHARSET_WHERE.get(data_type, ("in diesem Text", "in this text"))
    return FieldProblem(
        key,
        f"{label_de}: Das Zeichen {found.label} ({found.name}) an Stelle {found.position} "
        f"ist {where_de} nicht zulässig (DIN 91379).",
        f"{label_en}: the character {found.label} ({found.name}) at position "
        f"{found.position} is not allowed {where_en} (DIN 91379).",
    )


def allowed_answers(field: Field, prefill: dict[str, Any]) -> list[str]:
    """The values a choice field accepts: its options, or the held records it offers."""
    if field.options_from is not None:
        return [value for value, _label in held_options(field, prefill)]
    return [o.value for o in field.options]


def coerce(
    field: Field, raw: Any, allowed: list[str] | None = None
) -> tuple[Any, FieldProblem | None]:
    """Turn a submitted value into the stored JSON value, or say what is wrong with it.

    ``allowed`` overrides a choice field's options (see allowed_answers)."""
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
        too_long_or_short = length_problem(field, value)
        if too_long_or_short is not None:
            return None, too_long_or_short
        outside_charset = charset_problem(field, value)
        if outside_charset is not None:
            return None, outside_charset
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
            choices = allowed if allowed is not None else [o.value for o in field.options]
            if value not in choices:
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
