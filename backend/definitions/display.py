"""Stored answers as a person reads them: dates, yes/no, options, amounts, files and records."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from babel.dates import format_date
from babel.numbers import format_decimal


class Shown(Protocol):
    """What display needs of a field: a definition's Field or the portal's FieldView."""

    @property
    def type(self) -> str: ...
    @property
    def options(self) -> Any: ...


def as_date(value: Any) -> date | None:
    """A stored date, or an ISO date string, as a date; anything else is no date."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


_LOCALES = {"de": "de_DE", "en": "en_GB"}


def display_value(field: Shown, value: Any, lang: str) -> str:
    """A stored answer as a person reads it: dates, yes/no, options, amounts and files."""
    if value is None or value == "":
        return ""
    if field.type == "date":
        day = as_date(value)
        if day is not None:
            pattern = "dd.MM.yyyy" if lang == "de" else "d MMMM yyyy"
            return str(format_date(day, pattern, locale=_LOCALES.get(lang, "de_DE")))
    if field.type == "boolean" and isinstance(value, bool):
        return {("de", True): "Ja", ("de", False): "Nein"}.get(
            (lang, value), "Yes" if value else "No"
        )
    if field.type == "choice":
        for option in field.options:
            if option.value == value:
                return str(option.label.en if lang == "en" else option.label.de)
    if field.type == "decimal":
        try:
            amount = Decimal(str(value))
            exponent = amount.as_tuple().exponent
            places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
            pattern = "#,##0" + ("." + "0" * places if places else "")
            return str(format_decimal(amount, format=pattern, locale=_LOCALES.get(lang, "de_DE")))
        except ArithmeticError:
            return str(value)
    if field.type == "iban" and isinstance(value, str):
        compact = value.replace(" ", "")
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    if field.type == "file" and isinstance(value, dict):
        return str(value.get("name", ""))
    if isinstance(value, list):
        # A register's list of records (vehicles, children): readable, never a Python repr.
        return "; ".join(_record_text(item, lang) for item in value)
    return str(value)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _record_text(item: Any, lang: str) -> str:
    """One record of a held list: its values in order, names joined, ISO days as dates."""
    if not isinstance(item, dict):
        return _scalar_text(item, lang)
    values = dict(item)
    if isinstance(values.get("vornamen"), str) and isinstance(values.get("familienname"), str):
        values["vornamen"] = f"{values['vornamen']} {values.pop('familienname')}"
    return ", ".join(_scalar_text(v, lang) for v in values.values() if v not in (None, ""))


def _scalar_text(value: Any, lang: str) -> str:
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        day = date.fromisoformat(value)
        pattern = "dd.MM.yyyy" if lang == "de" else "d MMMM yyyy"
        return str(format_date(day, pattern, locale=_LOCALES.get(lang, "de_DE")))
    return str(value)
