"""Reads an XDatenfelder 2.0 or 3.0 file into FIM groups and fields, refusing unsafe XML."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

NAMESPACES: dict[str, Literal["2.0", "3.0"]] = {
    "urn:xoev-de:fim:standard:xdatenfelder_2": "2.0",
    "urn:xoev-de:fim:standard:xdatenfelder_3.0.0": "3.0",
}
_MESSAGES = ("xdatenfelder.stammdatenschema", "xdatenfelder.datenfeldgruppe")


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
