"""Where each value of a case comes from: a register, the citizen, or a clerk. Pure, no I/O.

A notice states facts; whether it may say "aus dem Melderegister" depends on this alone, so the
rules' policy, the documents and the case file read one answer instead of guessing from keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel.dates import format_date

SourceKind = Literal["register", "citizen", "clerk"]

CONFIRMATIONS_KEY = "clerk_confirmed"
"""Key in case data: field id → {by, at, evidence} for values a clerk confirmed or typed."""
TYPED_AT_COUNTER_KEY = "typed_by_clerk"
"""Key in case data: field id → {by, at} for values a clerk typed at the counter for the
citizen. Still the citizen's statement (they told the clerk), so not confirmed; but the record
says whose hands entered it (typed by clerk for the citizen)."""


GERMAN_TIME = ZoneInfo("Europe/Berlin")


def _day(value: Any) -> date | None:
    """The German calendar day of a stored time: a read at 23:30 UTC is the next day's."""
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.astimezone(GERMAN_TIME).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    return None


def _de(day: date | None) -> str:
    return str(format_date(day, "dd.MM.yyyy", locale="de_DE")) if day else ""


@dataclass(frozen=True)
class ValueSource:
    """The provenance of one value: register (which, which record, read when), the citizen's
    statement, or a clerk's entry (who, when, on what evidence)."""

    kind: SourceKind
    registry: str | None = None
    registry_title: str | None = None
    record_id: str | None = None
    as_of: date | None = None
    by: str | None = None
    at: date | None = None
    evidence: str | None = None
    typed_by: str | None = None
    """A citizen's statement a clerk typed for them at the counter: that clerk."""

    @property
    def from_register(self) -> bool:
        return self.kind == "register"

    @property
    def confirmed(self) -> bool:
        """Read from a register, or confirmed by a clerk who names the evidence."""
        return self.kind == "register" or (self.kind == "clerk" and bool(self.evidence))

    def sentence(self, lang: str = "de") -> str:
        """The source as a notice states it next to the value: 'Quelle: Melderegister, Stand
        04.12.2026', 'Ihre Angabe', or 'Von der Behörde bestätigt am …'."""
        en = lang == "en"
        if self.kind == "register":
            title = self.registry_title or self.registry or ""
            if self.as_of is None:
                return f"Source: {title}" if en else f"Quelle: {title}"
            if en:
                return f"Source: {title}, as of {self.as_of.isoformat()}"
            return f"Quelle: {title}, Stand {_de(self.as_of)}"
        if self.kind == "clerk":
            # The evidence stays in the case file; the notice names who stands behind the value.
            text = "Confirmed by the authority" if en else "Von der Behörde bestätigt"
            if self.at is not None:
                text += f" on {self.at.isoformat()}" if en else f" am {_de(self.at)}"
            return text
        if self.typed_by:
            return (
                "Your statement, entered for you by the authority at the counter"
                if en
                else "Ihre Angabe, am Schalter von der Behörde für Sie erfasst"
            )
        return "Your statement" if en else "Ihre Angabe"


CITIZEN = ValueSource(kind="citizen")


def value_sources(data: Mapping[str, Any]) -> dict[str, ValueSource]:
    """The source of every value in a case's data (as written by intake and the console).

    A clerk's confirmation outranks the citizen's statement; a register read outranks both,
    since the clerk only confirms what the register did not deliver."""
    values = data.get("values") or {}
    origin = data.get("origin") or {}
    provenance = data.get("provenance") or {}
    confirmed = data.get(CONFIRMATIONS_KEY) or {}
    typed = data.get(TYPED_AT_COUNTER_KEY) or {}
    found: dict[str, ValueSource] = {}
    for field_id in values:
        held = provenance.get(field_id)
        if held and origin.get(field_id, "registry") == "registry":
            found[field_id] = ValueSource(
                kind="register",
                registry=held.get("registry"),
                registry_title=held.get("registry_title") or held.get("registry"),
                record_id=held.get("record_id"),
                as_of=_day(held.get("as_of")),
            )
        elif field_id in confirmed:
            entry = confirmed[field_id] or {}
            found[field_id] = ValueSource(
                kind="clerk",
                by=entry.get("by"),
                at=_day(entry.get("at")),
                evidence=entry.get("evidence") or None,
            )
        elif field_id in typed:
            entry = typed[field_id] or {}
            found[field_id] = ValueSource(
                kind="citizen", typed_by=entry.get("by"), at=_day(entry.get("at"))
            )
        else:
            found[field_id] = CITIZEN
    return found


def source_of(data: Mapping[str, Any], field_id: str) -> ValueSource:
    """One value's source; a value the case does not hold is nobody's statement but the
    citizen's, which is the cautious reading."""
    return value_sources(data).get(field_id, CITIZEN)


def unconfirmed(data: Mapping[str, Any], field_ids: list[str]) -> list[str]:
    """Those of the fields that hold a value neither a register nor a clerk with evidence
    stands behind."""
    sources = value_sources(data)
    values = data.get("values") or {}
    return [
        f
        for f in field_ids
        if values.get(f) not in (None, "", []) and not sources.get(f, CITIZEN).confirmed
    ]


def confirm_typed(
    data: Mapping[str, Any], *, by: str, at: datetime, evidence: str
) -> dict[str, Any]:
    """Case data in which a clerk stands behind every value no register delivered (their
    decision by hand); register values stay register values, earlier confirmations stay."""
    sources = value_sources(data)
    confirmed = dict(data.get(CONFIRMATIONS_KEY) or {})
    for field_id, found in sources.items():
        if found.kind == "citizen":
            confirmed[field_id] = {"by": by, "at": at.isoformat(), "evidence": evidence}
    return {**data, CONFIRMATIONS_KEY: confirmed}
