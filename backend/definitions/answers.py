"""Checks what a citizen typed, per field type, with messages that say how to fix it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from backend.definitions.constraints import (
    MONTHS_EN,
    DateTrouble,
    compiled,
    local_today,
    read_date,
)
from backend.definitions.models import HELD_LABEL_KEY, Field, ServiceDefinition, Topic
from backend.domain.din91379 import DataType, first_offender
from prefill.connectors.base import NOT_HELD

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


MOST_INTEGER = 2**63 - 1
"""Rules evaluate integers as 64-bit (CEL int): a larger answer could not be decided on."""
MOST_DECIMAL = Decimal(10) ** 15
"""No amount or measure a form asks for reaches a quadrillion; beyond it a float loses cents."""


def _number(value: int | float | Decimal, lang: str) -> str:
    """A bound as each language writes it: 6,77 in German, 6.77 in English, minus as −."""
    text = format(Decimal(str(value)).normalize(), "f")
    text = text.replace("-", "\u2212")
    return text.replace(".", ",") if lang == "de" else text


def _day(value: date, lang: str) -> str:
    return (
        value.strftime("%d.%m.%Y")
        if lang == "de"
        else (f"{value.day} {MONTHS_EN[value.month - 1]} {value.year}")
    )


def _with_reason(field: Field, de: str, en: str) -> FieldProblem:
    """A range message, with the definition's reason for the range where it gives one."""
    reason = field.range_reason
    if reason is not None:
        de, en = f"{de} {reason.de}", f"{en} {reason.en}"
    return FieldProblem(field.id, de, en)


def number_problem(field: Field, value: int | Decimal) -> FieldProblem | None:
    """A number outside the field's min/max or coordinate range, with the range."""
    low, high = field.lowest, field.highest
    if (low is None or value >= Decimal(str(low))) and (
        high is None or value <= Decimal(str(high))
    ):
        return None
    if low is not None and high is not None:
        return _with_reason(
            field,
            f"Geben Sie eine Zahl von {_number(low, 'de')} bis {_number(high, 'de')} ein.",
            f"Enter a number from {_number(low, 'en')} to {_number(high, 'en')}.",
        )
    if low is not None:
        return _with_reason(
            field,
            f"Die Zahl darf nicht kleiner als {_number(low, 'de')} sein.",
            f"Enter a number of {_number(low, 'en')} or more.",
        )
    assert high is not None
    return _with_reason(
        field,
        f"Die Zahl darf nicht größer als {_number(high, 'de')} sein.",
        f"Enter a number of {_number(high, 'en')} or less.",
    )


def day_problem(field: Field, value: date, today: date) -> FieldProblem | None:
    """A date before not_before or after not_after, with the day it may not pass."""
    earliest, latest = field.earliest, field.latest
    first = earliest.on(today) if earliest else None
    last = latest.on(today) if latest else None
    if first is not None and value < first:
        if earliest is not None and earliest.is_today:
            de, en = (
                "Das Datum darf nicht in der Vergangenheit liegen.",
                "The date cannot be in the past.",
            )
        elif last is not None:
            de = f"Geben Sie ein Datum vom {_day(first, 'de')} bis zum {_day(last, 'de')} ein."
            en = f"Enter a date from {_day(first, 'en')} to {_day(last, 'en')}."
        else:
            de = f"Das Datum darf nicht vor dem {_day(first, 'de')} liegen."
            en = f"Enter a date on or after {_day(first, 'en')}."
        return _with_reason(field, de, en)
    if last is not None and value > last:
        if latest is not None and latest.is_today:
            de, en = (
                "Das Datum darf nicht in der Zukunft liegen.",
                "The date cannot be in the future.",
            )
        elif first is not None:
            de = f"Geben Sie ein Datum vom {_day(first, 'de')} bis zum {_day(last, 'de')} ein."
            en = f"Enter a date from {_day(first, 'en')} to {_day(last, 'en')}."
        else:
            de = f"Das Datum darf nicht nach dem {_day(last, 'de')} liegen."
            en = f"Enter a date on or before {_day(last, 'en')}."
        return _with_reason(field, de, en)
    return None


def pattern_mismatch(field: Field, value: str) -> FieldProblem | None:
    """A text answer not of the declared form, told in the definition's words for the form."""
    rule = field.pattern
    if rule is None or compiled(rule.regex).fullmatch(value):
        return None
    return FieldProblem(
        field.id,
        f"Bitte geben Sie es so an: {rule.description.de}.",
        f"Enter it like this: {rule.description.en}.",
    )


def rule_problem(field: Field, value: Any, today: date | None = None) -> FieldProblem | None:
    """A stored answer that breaks the field's rules now: re-checked at submit, because a draft
    lives for weeks and 'today' moves (a date 'not_after: today' typed a month ago is still in
    range, one typed as 'today+1y' may not be)."""
    if isinstance(value, str) and field.type in ("string", "text", "email", "iban"):
        return (
            length_problem(field, value)
            or charset_problem(field, value)
            or (pattern_mismatch(field, value))
        )
    if field.type == "date" and isinstance(value, str):
        try:
            return day_problem(field, date.fromisoformat(value), today or local_today())
        except ValueError:
            return None
    if field.type in ("integer", "decimal") and isinstance(value, int | str):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        return number_problem(field, int(number) if field.type == "integer" else number)
    return None


def _answered(value: Any) -> bool:
    return value not in (None, "", [])


def group_problems(
    definition: ServiceDefinition, topic: Topic, values: dict[str, Any]
) -> list[FieldProblem]:
    """A topic's one_of rule: a group begun must be completed (half a coordinate locates
    nothing), and at least one group must be complete; the error names the field to fill."""
    rule = topic.one_of
    if rule is None:
        return []
    labels = {field.id: field.label for field in definition.fields}
    problems: list[FieldProblem] = []
    complete = False
    for group in rule.groups:
        missing = [fid for fid in group if not _answered(values.get(fid))]
        if not missing:
            complete = True
        elif len(missing) < len(group):
            label = labels[missing[0]]
            problems.append(
                FieldProblem(
                    missing[0],
                    f"Bitte geben Sie auch „{label.de}“ an.",
                    f"Also enter '{label.en}'.",
                )
            )
    if not complete and not problems:
        problems.append(FieldProblem(rule.groups[0][0], rule.message.de, rule.message.en))
    return problems


def allowed_answers(field: Field, prefill: dict[str, Any]) -> list[str]:
    """The values a choice field accepts: its options, or the held records it offers."""
    if field.options_from is not None:
        return [value for value, _label in held_options(field, prefill)]
    return [o.value for o in field.options]


def _checked(value: Any, problem: FieldProblem | None) -> tuple[Any, FieldProblem | None]:
    """A readable answer, refused (None) when it breaks a rule of the field."""
    return (None, problem) if problem is not None else (value, None)


def coerce(
    field: Field, raw: Any, allowed: list[str] | None = None, today: date | None = None
) -> tuple[Any, FieldProblem | None]:
    """Turn a submitted value into the stored JSON value, or say what is wrong with it.

    ``allowed`` overrides a choice field's options (see allowed_answers); ``today`` is the day
    date bounds count from (default: today in Germany; the integrator tests pass their own)."""
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
        outside_charset = charset_problem(field, value) or pattern_mismatch(field, value)
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
        if not isinstance(raw, str):
            return bad(
                "Geben Sie das Datum als Tag.Monat.Jahr ein, zum Beispiel 21.11.2026.",
                "Enter the date as day.month.year, for example 21.11.2026.",
            )
        day_now = today or local_today()
        earliest, latest = field.earliest, field.latest
        typed = read_date(
            raw,
            day_now,
            earliest.on(day_now) if earliest else None,
            latest.on(day_now) if latest else None,
        )
        if isinstance(typed, DateTrouble):
            return bad(typed.de, typed.en)
        return _checked(typed.isoformat(), day_problem(field, typed, day_now))
    if kind == "integer":
        if isinstance(raw, bool):
            return bad("Bitte geben Sie eine ganze Zahl ein.", "Enter a whole number.")
        try:
            whole = int(str(raw).strip().replace("\u2212", "-"))
        except ValueError:
            return bad("Bitte geben Sie eine ganze Zahl ein.", "Enter a whole number.")
        if abs(whole) > MOST_INTEGER:
            return bad("Die Zahl ist zu groß.", "The number is too large.")
        return _checked(whole, number_problem(field, whole))
    if kind == "decimal":
        try:
            amount = Decimal(str(raw).strip().replace(",", ".").replace("\u2212", "-"))
        except InvalidOperation:
            return bad("Bitte geben Sie einen Betrag wie 12,50 ein.", "Enter an amount like 12.50.")
        if not amount.is_finite():
            return bad("Bitte geben Sie einen Betrag wie 12,50 ein.", "Enter an amount like 12.50.")
        if abs(amount) >= MOST_DECIMAL:
            return bad("Die Zahl ist zu groß.", "The number is too large.")
        return _checked(str(amount), number_problem(field, amount))
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw, None
        if isinstance(raw, str) and raw.lower() in ("true", "false", "ja", "nein", "yes", "no"):
            return raw.lower() in ("true", "ja", "yes"), None
        return bad("Bitte wählen Sie Ja oder Nein.", "Choose yes or no.")
    return bad("Dieser Feldtyp kann nicht eingegeben werden.", "This field type cannot be entered.")


def register_said_none(field: Field, entry: Mapping[str, Any] | None) -> bool:
    """Whether a register answered this optional field for the citizen's record with "none".

    Such a field is not asked (issue 20): Geodaten that find the home in no zone have
    answered the question of the zone, and a zone typed in would contradict the register. A
    required field is still asked (the case then goes to a person), and so is a field whose
    register failed, did not know the person, or held more than one value.
    """
    return (
        field.source is not None
        and not field.required
        and entry is not None
        and entry.get("status") == "empty"
        and entry.get("reason") == NOT_HELD
    )
