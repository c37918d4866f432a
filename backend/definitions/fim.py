"""`knopfdruck services import-fim`: a FIM XDatenfelder schema becomes a definition skeleton.

Reads a Stammdatenschema or a Datenfeldgruppe in XDatenfelder 2.0 or 3.0 and writes a
service.yaml in which everything FIM cannot know (English texts, LeiKa key, department,
purposes and legal bases of registry reads, code-list values) is a value starting with TODO.
`services validate` reports each remaining TODO with its line, so the skeleton cannot go live
half finished. FIM's structure maps as follows:

- top-level Datenfeldgruppen become topics (one portal page each); nested groups are flattened
  into their top-level group, and their labels disambiguate repeated field names;
- Datenfelder become fields: datentyp and feldart give the type, anzahl the required flag
  (a field is required only if it and every enclosing group have a minimum of at least 1);
- code lists become choice options (inline XDF 3 values) or marked TODOs (referenced lists);
- maxLength and minLength become max_length and min_length of text fields;
- constraints (praezisierung), repetition (anzahl above 1), FIM rules and the FIM ids stay as
  comments next to the field, since the definition format has no keys for the rest of them;
- well-known fields (names, date and place of birth, address) and XDF 3 ``vorbefuellung``
  become proposed data needs, for the integrator to confirm or delete.

The XML is parsed with defusedxml: a schema file from outside must not be able to read local
files or exhaust memory through entity declarations (XXE, billion laughs).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from backend.definitions.models import DEFAULT_MAX_LENGTH, MAX_LENGTH_CEILING, TEXT_TYPES
from prefill.connectors.registry import ConnectorRegistry, UnknownConnector

NAMESPACES: dict[str, Literal["2.0", "3.0"]] = {
    "urn:xoev-de:fim:standard:xdatenfelder_2": "2.0",
    "urn:xoev-de:fim:standard:xdatenfelder_3.0.0": "3.0",
}
_MESSAGES = ("xdatenfelder.stammdatenschema", "xdatenfelder.datenfeldgruppe")

# Words CEL reserves (backend.definitions.models): an id like these gets a trailing underscore.
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


class FimImportError(ValueError):
    """The file cannot be imported; the message names the file and what is wrong."""


@dataclass
class FimField:
    """One Datenfeld, with what the skeleton needs of it."""

    fim_id: str
    version: str
    name: str
    label: str
    help: str
    legal_reference: str
    feldart: str
    datentyp: str
    minimum: int
    maximum: int | None
    constraints: dict[str, str] = field(default_factory=dict)
    options: list[tuple[str, str]] = field(default_factory=list)
    code_list: str = ""
    prefill: str = ""
    rules: list[str] = field(default_factory=list)


@dataclass
class FimGroup:
    """One Datenfeldgruppe (or the schema itself) with its children in order."""

    fim_id: str
    version: str
    name: str
    label: str
    help: str
    legal_reference: str
    minimum: int
    maximum: int | None
    description: str = ""
    children: list[FimGroup | FimField] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FimDocument:
    """A parsed FIM file: its standard version, kind and root element."""

    standard: Literal["2.0", "3.0"]
    kind: Literal["stammdatenschema", "datenfeldgruppe"]
    root: FimGroup


# ---------------------------------------------------------------- reading


def parse_fim(data: bytes, source: str = "<input>") -> FimDocument:
    """Parse XDatenfelder 2.0 or 3.0; FimImportError with a clear message for anything else."""
    try:
        root = fromstring(data)
    except ParseError as exc:
        line, column = exc.position
        raise FimImportError(
            f"{source}:{line}:{column}: malformed XML: {_expat_message(exc)}"
        ) from None
    except DefusedXmlException as exc:
        raise FimImportError(
            f"{source}: refused: the file declares a DTD or entities ({exc}); FIM files never "
            "need them, and they can be used to read local files (XXE)"
        ) from None
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", "")
    if namespace not in NAMESPACES:
        known = ", ".join(NAMESPACES)
        found = namespace or "none"
        raise FimImportError(
            f"{source}: unknown namespace '{found}' on <{root.tag.rpartition('}')[2]}>: "
            f"not an XDatenfelder 2.0 or 3.0 file (supported: {known})"
        )
    if not local.startswith(_MESSAGES):
        raise FimImportError(
            f"{source}: <{local}> is not a Stammdatenschema or Datenfeldgruppe message "
            f"(expected {' or '.join(m + '.*' for m in _MESSAGES)})"
        )
    reader = _Reader(namespace, source)
    kind: Literal["stammdatenschema", "datenfeldgruppe"] = (
        "stammdatenschema" if local.startswith(_MESSAGES[0]) else "datenfeldgruppe"
    )
    main = reader.child(root, kind)
    if main is None:
        raise FimImportError(f"{source}: the message has no <{kind}> element")
    return FimDocument(NAMESPACES[namespace], kind, reader.group(main, kind.capitalize(), (1, 1)))


def _expat_message(exc: ParseError) -> str:
    message = str(exc)
    return re.sub(r": line \d+, column \d+$", "", message)


class _Reader:
    """Reads elements of one namespace; both versions share the element names used here."""

    def __init__(self, namespace: str, source: str) -> None:
        self.ns = namespace
        self.source = source

    def child(self, element: Element, name: str) -> Element | None:
        return element.find(f"{{{self.ns}}}{name}")

    def children(self, element: Element, name: str) -> list[Element]:
        return element.findall(f"{{{self.ns}}}{name}")

    def text(self, element: Element, *path: str) -> str:
        node: Element | None = element
        for name in path:
            node = self.child(node, name) if node is not None else None
        return " ".join((node.text or "").split()) if node is not None else ""

    def code(self, element: Element, name: str) -> str:
        node = self.child(element, name)
        if node is None:
            return ""
        code = node.find("code")
        if code is None:
            code = self.child(node, "code")
        return " ".join((code.text or "").split()) if code is not None else ""

    def identity(self, element: Element, what: str, where: str) -> tuple[str, str]:
        fim_id = self.text(element, "identifikation", "id")
        if not fim_id:
            name = self.text(element, "name") or "without a name"
            raise FimImportError(
                f"{self.source}: {what} '{name}' ({where}) has no identifikation/id; "
                "every FIM element needs one"
            )
        return fim_id, self.text(element, "identifikation", "version")

    def group(self, element: Element, what: str, cardinality: tuple[int, int | None]) -> FimGroup:
        fim_id, version = self.identity(element, what, "top level")
        group = FimGroup(
            fim_id=fim_id,
            version=version,
            name=self.text(element, "name"),
            label=self.text(element, "bezeichnungEingabe") or self.text(element, "name"),
            help=self.text(element, "hilfetextEingabe"),
            legal_reference=self.text(element, "bezug"),
            description=self.text(element, "beschreibung") or self.text(element, "definition"),
            minimum=cardinality[0],
            maximum=cardinality[1],
            rules=self.rules(element),
        )
        for position, struktur in enumerate(self.children(element, "struktur"), start=1):
            count = self.cardinality(struktur, f"{fim_id}, struktur {position}")
            enthaelt = self.child(struktur, "enthaelt")
            if enthaelt is None:
                continue
            for item in enthaelt:
                local = item.tag.rpartition("}")[2]
                if local == "datenfeldgruppe":
                    try:
                        group.children.append(self.group(item, "Datenfeldgruppe", count))
                    except FimImportError as exc:
                        raise FimImportError(
                            str(exc).replace("top level", f"in {fim_id}")
                        ) from None
                elif local == "datenfeld":
                    group.children.append(self.field(item, count, fim_id))
        return group

    def field(self, element: Element, count: tuple[int, int | None], parent: str) -> FimField:
        fim_id, version = self.identity(element, "Datenfeld", f"in {parent}")
        result = FimField(
            fim_id=fim_id,
            version=version,
            name=self.text(element, "name"),
            label=self.text(element, "bezeichnungEingabe") or self.text(element, "name"),
            help=self.text(element, "hilfetextEingabe"),
            legal_reference=self.text(element, "bezug"),
            feldart=self.code(element, "feldart"),
            datentyp=self.code(element, "datentyp"),
            minimum=count[0],
            maximum=count[1],
            constraints=self.constraints(element, fim_id),
            prefill=self.code(element, "vorbefuellung"),
            rules=self.rules(element),
        )
        reference = self.child(element, "codelisteReferenz")
        if reference is not None:
            canonical = next(
                (
                    node.text or ""
                    for node in reference.iter(f"{{{self.ns}}}canonicalIdentification")
                ),
                "",
            ).strip()
            list_version = self.text(reference, "genericodeIdentification", "version") or (
                self.text(reference, "version")
            )
            identifier = canonical or self.text(reference, "identifikation", "id")
            result.code_list = (
                f"{identifier} (Version {list_version})" if list_version else identifier
            )
        werte = self.child(element, "werte")
        if werte is not None:
            for wert in self.children(werte, "wert"):
                code = self.text(wert, "code")
                if code:
                    result.options.append((code, self.text(wert, "name") or code))
        return result

    def cardinality(self, struktur: Element, where: str) -> tuple[int, int | None]:
        text = self.text(struktur, "anzahl") or "1:1"
        match = re.fullmatch(r"(\d+)\s*:\s*(\d+|\*)", text)
        if match is None:
            raise FimImportError(
                f"{self.source}: anzahl '{text}' ({where}) is not 'min:max' (e.g. 0:1, 1:*)"
            )
        high = match.group(2)
        return int(match.group(1)), None if high == "*" else int(high)

    def constraints(self, element: Element, fim_id: str) -> dict[str, str]:
        node = self.child(element, "praezisierung")
        if node is None:
            return {}
        found = {key: value for key, value in node.attrib.items() if value}
        text = (node.text or "").strip()
        if text:  # XDF 2 writes a JSON object as text
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                found["praezisierung"] = text
            else:
                if isinstance(parsed, dict):
                    found.update({str(k): str(v) for k, v in parsed.items() if v not in ("", None)})
                else:
                    found["praezisierung"] = text
        return found

    def rules(self, element: Element) -> list[str]:
        found = []
        for regel in self.children(element, "regel"):
            rule_id = self.text(regel, "identifikation", "id")
            text = (
                self.text(regel, "freitextRegel")
                or self.text(regel, "beschreibung")
                or self.text(regel, "name")
            )
            found.append(f"{rule_id}: {text}" if rule_id else text)
        return found


# ---------------------------------------------------------------- writing


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


def _q(text: str) -> str:
    """A YAML scalar: JSON strings are valid YAML double-quoted scalars."""
    return json.dumps(text, ensure_ascii=False)


def _todo(what: str) -> str:
    return _q(f"TODO: {what}")


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


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def to_definition_yaml(
    document: FimDocument,
    *,
    slug: str | None = None,
    source: str = "",
    connectors: ConnectorRegistry | None = None,
    today: date | None = None,
) -> str:
    """The skeleton service.yaml for a parsed FIM file."""
    root = document.root
    service = slug or slug_for(root.name or root.label)
    writer = _Writer(connectors)
    # Top-level groups become topics when there is more than one thing to ask.
    top_groups = [child for child in root.children if isinstance(child, FimGroup)]
    use_topics = len(root.children) > 1 and bool(top_groups)
    if document.kind == "datenfeldgruppe" and not use_topics:
        use_topics = False
    body: list[str] = []
    topic_lines: list[str] = []
    topic_ids: set[str] = set()
    for child in root.children:
        if isinstance(child, FimGroup) and use_topics:
            topic = identifier(child.name or child.label)
            base, number = topic, 2
            while topic in topic_ids or topic == "angaben":
                topic = f"{base}_{number}"
                number += 1
            writer.lines = []
            for _ in writer.fields(child, topic, [child]):
                pass
            if any(line.startswith("  - id:") for line in writer.lines):
                topic_ids.add(topic)
                title = child.label or child.name
                topic_lines.append(f"  - id: {topic}")
                topic_lines.append(
                    f"    title: {{ de: {_q(title)}, en: {_todo('English title for ' + title)} }}"
                )
                if child.help:
                    topic_lines.append(
                        f"    description: {{ de: {_q(child.help)}, en: "
                        f"{_todo('English description')} }}"
                    )
            else:
                writer.lines = [line.replace(f"    topic: {topic}", "") for line in writer.lines]
            body += [f"  # Gruppe {child.fim_id} v{child.version}: {child.name}", *writer.lines]
        elif isinstance(child, FimGroup):
            writer.lines = []
            for _ in writer.fields(child, None, [child]):
                pass
            body += writer.lines
        else:
            writer.lines = []
            writer.field(child, None, [])
            body += writer.lines
    if not any(line.startswith("  - id:") for line in body):
        raise FimImportError(f"{source or 'input'}: the schema contains no input fields")
    title = root.label or root.name
    summary = root.description if root.description not in ("", "-") else root.help
    day = (today or date.today()).isoformat()
    out = [
        "# Skeleton generated by `knopfdruck services import-fim` from "
        + (Path(source).name or "FIM"),
        f"# FIM {document.kind} {root.fim_id} version {root.version}, XDatenfelder "
        f"{document.standard}, on {day}.",
        "# Fill in every value starting with TODO: `knopfdruck services validate` lists those",
        "# left. Then add rules, fees and documents (docs/integrators.md).",
    ]
    for rule in root.rules:
        out.append(f"# FIM rule {rule}"[:400])
    out += [
        f"id: {service}",
        'version: "0.1.0"',
        f"valid_from: {day}",
        f"leika: {_todo('14-digit LeiKa key of the service')}",
        f"title: {{ de: {_q(title)}, en: {_todo('English title')} }}",
        "description:",
        f"  de: {_q(summary) if summary else _todo('short description for the catalogue')}",
        f"  en: {_todo('English description')}",
        f"department: {_todo('owning department as a slug, e.g. auslaenderbehoerde')}",
        "trust_level: substanziell   # niedrig | substanziell | hoch",
        "legal_basis: "
        + (_q(root.legal_reference) if root.legal_reference else _todo("legal basis")),
    ]
    if topic_lines:
        out += ["topics:", *topic_lines]
    out += ["fields:", *body]
    out += [
        "# Rules, fees and documents: FIM does not describe decisions; add them here.",
        "rules: []",
        "automation:",
        "  # No legal_basis: every case is decided by a person. Add one (§ 35a VwVfG) only where",
        "  # the law allows a fully automated decision.",
        "  referral_triggers: [disputed_data, remark, registry_failure, rule_referred]",
        "retention:",
        f"  days: {_todo('days the case data is kept after closing')}",
        f"  legal_basis: {_todo('legal basis of the retention period')}",
        "",
    ]
    return "\n".join(out)


def import_fim(
    file: Path,
    *,
    slug: str | None = None,
    connectors: ConnectorRegistry | None = None,
    today: date | None = None,
) -> tuple[str, str]:
    """Read one FIM file; return the service slug and the skeleton's YAML."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise FimImportError(f"{file.as_posix()}: cannot read the file: {exc.strerror}") from None
    document = parse_fim(data, file.as_posix())
    service = slug or slug_for(document.root.name or document.root.label)
    text = to_definition_yaml(
        document, slug=service, source=file.as_posix(), connectors=connectors, today=today
    )
    return service, text
