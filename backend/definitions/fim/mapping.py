"""How FIM names, datentypen, lengths, ranges and code lists become fields of a definition."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from backend.definitions.fim.reading import FimField, FimGroup
from backend.definitions.models import DEFAULT_MAX_LENGTH, MAX_LENGTH_CEILING, TEXT_TYPES
from backend.definitions.skeleton_text import quoted as _q
from backend.definitions.skeleton_text import todo as _todo
from prefill.connectors.registry import ConnectorRegistry, UnknownConnector

# Words CEL reserves (backend.definitions.models.base): an id like these gets a trailing underscore.
_RESERVED = frozenset(
    {
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
        "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
        "void", "while",
    }
)  # fmt: skip


# FIM datentyp code -> field type; None: not an input (shown as a comment).
_TYPES: dict[str, str] = {
    "text": "string",
    "text_latin": "string",
    "string_latin": "string",
    "date": "date",
    "time": "string",
    "datetime": "string",
    "bool": "boolean",
    "num": "decimal",
    "num_int": "integer",
    "num_currency": "decimal",
    "file": "file",
    "obj": "file",
}
LONG_TEXT = 300
"""Above this maxLength a text field becomes a multi-line 'text' (the portal's string limit)."""


# Normalised FIM field name -> (melderegister attribute, English label). The first field of
# each kind is taken to be the applicant's; later ones (spouse, child) are left to the citizen.
_WELL_KNOWN: dict[str, tuple[str, str]] = {
    "familienname": ("familienname", "Surname"),
    "nachname": ("familienname", "Surname"),
    "vorname": ("vornamen", "Given names"),
    "vornamen": ("vornamen", "Given names"),
    "geburtsname": ("geburtsname", "Name at birth"),
    "geburtsdatum": ("geburtsdatum", "Date of birth"),
    "geburtsort": ("geburtsort", "Place of birth"),
    "strasse": ("anschrift.strasse", "Street"),
    "hausnummer": ("anschrift.hausnummer", "House number"),
    "postleitzahl": ("anschrift.plz", "Postcode"),
    "plz": ("anschrift.plz", "Postcode"),
    "ort": ("anschrift.ort", "Town"),
    "wohnort": ("anschrift.ort", "Town"),
}
WELL_KNOWN_CONNECTOR = "melderegister"
_SOURCE_TYPES = frozenset({"string", "date"})


def identifier(text: str) -> str:
    """A field or topic id from a German name: ASCII, lower case, underscores."""
    text = text.replace("ß", "ss").replace("ẞ", "ss")
    for umlaut, spelled in (
        ("ä", "ae"),
        ("ö", "oe"),
        ("ü", "ue"),
        ("Ä", "Ae"),
        ("Ö", "Oe"),
        ("Ü", "Ue"),
    ):
        text = text.replace(umlaut, spelled)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_") or "feld"
    if name[0].isdigit():
        name = f"f_{name}"
    name = name[:60].rstrip("_")
    return f"{name}_" if name in _RESERVED else name


def slug_for(text: str) -> str:
    """A service slug from a schema name."""
    return identifier(text).replace("_", "-")[:63].strip("-") or "fim-import"


def _cardinality(minimum: int, maximum: int | None) -> str:
    return f"{minimum}:{'*' if maximum is None else maximum}"


@dataclass
class _Writer:
    connectors: ConnectorRegistry | None
    lines: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    sourced: set[str] = field(default_factory=set)
    topics: list[tuple[str, FimGroup]] = field(default_factory=list)

    def unique(self, base: str, qualifier: str) -> str:
        candidate = base
        if candidate in self.ids and qualifier:
            candidate = f"{base}_{identifier(qualifier)}"[:63].rstrip("_")
        number = 2
        while candidate in self.ids:
            candidate = f"{base}_{number}"
            number += 1
        self.ids.add(candidate)
        return candidate

    def can_read(self, attribute: str) -> bool:
        if self.connectors is None:
            return True
        try:
            connector = self.connectors.get(WELL_KNOWN_CONNECTOR)
        except UnknownConnector:
            return False
        return attribute in connector.available_attributes()

    def fields(
        self,
        group: FimGroup,
        topic: str | None,
        path: list[FimGroup],
    ) -> Iterator[None]:
        for child in group.children:
            if isinstance(child, FimGroup):
                yield from self.fields(child, topic, [*path, child])
            else:
                self.field(child, topic, path)
                yield None

    def field(self, item: FimField, topic: str | None, path: list[FimGroup]) -> None:
        where = " › ".join(g.label for g in path) or "top level"
        comment = f"  # {item.fim_id} v{item.version} {item.name!s} [{where}]"
        if item.feldart in ("label", "hidden"):
            text = item.help or item.label
            self.lines.append(f"{comment}: feldart '{item.feldart}', not an input: {text}"[:300])
            return
        kind = "choice" if item.feldart == "select" or item.options else None
        notes: list[str] = []
        if kind is None:
            mapped = _TYPES.get(item.datentyp)
            if mapped is None:
                notes.append(f"unknown FIM datentyp '{item.datentyp}', read as text")
                mapped = "string"
            elif item.datentyp in ("time", "datetime"):
                notes.append(f"FIM datentyp '{item.datentyp}' is entered as text")
            kind = mapped
        if kind == "string" and _int(item.constraints.get("maxLength")) > LONG_TEXT:
            kind = "text"
        groups_required = all(g.minimum >= 1 for g in path)
        required = item.minimum >= 1 and groups_required
        repeated = [
            f"{g.label} {_cardinality(g.minimum, g.maximum)}"
            for g in path
            if g.maximum is None or g.maximum > 1
        ]
        if item.maximum is None or item.maximum > 1:
            repeated.append(f"field {_cardinality(item.minimum, item.maximum)}")
        if repeated:
            notes.append(
                "FIM allows several values (" + "; ".join(repeated) + "); Knopfdruck asks once"
            )
        if item.minimum >= 1 and not groups_required:
            notes.append("required in FIM, but inside an optional group")
        if item.constraints:
            notes.append(
                "FIM constraints: "
                + ", ".join(f"{k} {v}" for k, v in sorted(item.constraints.items()))
            )
        notes += [f"FIM rule {rule}" for rule in item.rules]
        if item.legal_reference:
            notes.append(f"FIM bezug: {item.legal_reference}")
        normalised = identifier(item.name or item.label)
        known = _WELL_KNOWN.get(normalised)
        qualifier = path[-1].label if path else ""
        field_id = self.unique(normalised, qualifier)
        label_de = item.label
        if field_id != normalised and qualifier:
            label_de = f"{item.label} ({qualifier})"
        self.lines.append(comment)
        for note in notes:
            self.lines.append(f"  #   {note}"[:400])
        self.lines.append(f"  - id: {field_id}")
        self.lines.append(f"    type: {kind}")
        english = known[1] if known and field_id == normalised else None
        self.lines.append(
            f"    label: {{ de: {_q(label_de)}, en: "
            f"{_q(english) if english else _todo('English label for ' + label_de)} }}"
        )
        if item.help:
            self.lines.append(
                f"    help: {{ de: {_q(item.help)}, en: {_todo('English help text')} }}"
            )
        self.lines.append(f"    required: {'true' if required else 'false'}")
        if kind in TEXT_TYPES:
            self.lengths(item, kind)
        self.ranges(item, kind)
        if topic is not None:
            self.lines.append(f"    topic: {topic}")
        if kind == "choice":
            self.options(item)
        if kind == "file" and "mediaType" in item.constraints:
            self.lines.append(f"    # FIM mediaType: {item.constraints['mediaType']}")
        self.source(item, kind, known, field_id == normalised)

    def lengths(self, item: FimField, kind: str) -> None:
        """FIM's field lengths become limits intake enforces (issue 14, item 4); one beyond
        what the platform takes stays in the comment, and the platform's cap applies."""
        most = _int(item.constraints.get("maxLength"))
        if 0 < most <= MAX_LENGTH_CEILING[kind]:
            self.lines.append(f"    max_length: {most}")
        else:
            most = DEFAULT_MAX_LENGTH[kind]
        least = _int(item.constraints.get("minLength"))
        # minLength 1 only says "not empty", which 'required' already says.
        if 1 < least <= most:
            self.lines.append(f"    min_length: {least}")

    def ranges(self, item: FimField, kind: str) -> None:
        """FIM's minValue, maxValue and pattern become input rules intake enforces (issue 21,
        item 4); what does not fit the field's type stays in the comment. FIM has no words for
        a pattern, so its description is a TODO the integrator writes for the citizen."""
        low, high = item.constraints.get("minValue"), item.constraints.get("maxValue")
        if kind in ("integer", "decimal"):
            for key, raw in (("min", low), ("max", high)):
                number = _number(raw, whole=kind == "integer")
                if number is not None:
                    self.lines.append(f"    {key}: {number}")
        elif kind == "date":
            for key, raw in (("not_before", low), ("not_after", high)):
                day = _day(raw)
                if day is not None:
                    self.lines.append(f"    {key}: {day}")
        regex = item.constraints.get("pattern")
        if kind in ("string", "text") and regex:
            self.lines.append(
                f"    pattern: {{ regex: {_q(regex)}, description: {{ de: "
                f"{_todo('the form in words, e.g. fünf Ziffern')}, "
                f"en: {_todo('the form in English words')} }} }}"
            )

    def options(self, item: FimField) -> None:
        self.lines.append("    options:")
        if item.options:
            for code, name in item.options:
                self.lines.append(
                    f"      - {{ value: {_q(code)}, label: {{ de: {_q(name)}, "
                    f"en: {_todo('English for ' + name)} }} }}"
                )
            return
        where = item.code_list or "the FIM code list (none referenced)"
        self.lines.append(f"      # code list {where}: list its codes the service accepts")
        self.lines.append(
            f"      - {{ value: {_todo('a code of ' + where)}, "
            f"label: {{ de: {_todo('label')}, en: {_todo('English label')} }} }}"
        )

    def source(self, item: FimField, kind: str, known: tuple[str, str] | None, first: bool) -> None:
        prefill = item.prefill.lower()
        if (
            known
            and first
            and kind in _SOURCE_TYPES
            and known[0] not in self.sourced
            and self.can_read(known[0])
        ):
            self.sourced.add(known[0])
            remark = f"; FIM vorbefuellung '{item.prefill}'" if item.prefill else ""
            self.lines.append(
                f"    # Proposed data need (well-known field{remark}): confirm, or delete the "
                "source and the citizen enters the value."
            )
            self.lines.append("    source:")
            self.lines.append(f"      connector: {WELL_KNOWN_CONNECTOR}")
            self.lines.append(f"      attribute: {known[0]}")
            self.lines.append(f"      purpose: {_todo('why the service reads this value')}")
            self.lines.append(
                f"      legal_basis: {_todo('legal basis of the read, e.g. § 34 Abs. 1 BMG')}"
            )
        elif prefill and prefill != "keine":
            self.lines.append(
                f"    # FIM vorbefuellung '{item.prefill}': a register may hold this value. "
                "Proposed data need: add a source (connector, attribute, purpose, legal_basis)."
            )


def _number(value: str | None, *, whole: bool) -> str | None:
    """A FIM bound as a YAML number, or None when it is no number of the field's kind."""
    if value is None:
        return None
    try:
        number = float(value.strip().replace(",", "."))
    except ValueError:
        return None
    if whole:
        return str(int(number)) if number.is_integer() else None
    return repr(number) if number == number and abs(number) != float("inf") else None


def _day(value: str | None) -> str | None:
    """A FIM date bound (ISO) as a day bound, or None."""
    try:
        return date.fromisoformat(value.strip()).isoformat() if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0
