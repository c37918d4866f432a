"""xdomea 3.0.0 as the receiving E-Akte sees it: check a 0605, answer with a 0630.

The sandbox plays the other side of the protocol, so it checks what it receives with its own
code, not the platform's: a mistake the platform makes in writing xdomea must not be repeated
here in reading it. Only the schema files are shared: the official, unchanged xdomea 3.0.0 XSDs
in ``backend/cases/xdomea_xsd/`` (read from disk as data; they are installed as package data
beside this package, so the same relative path holds in a checkout and in a wheel).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from lxml import etree

NS = "urn:xoev-de:xdomea:schema:3.0.0"
FILING = "FVDaten.SGOAblegen.0605"
"""The message a Fachverfahren files a Schriftgutobjekt with."""
ACKNOWLEDGEMENT = "FVDaten.ImportBestaetigen.0630"
"""The E-Akte's answer to a 0605 that asked for an Importbestaetigung."""
CHECKSUM_EXTENSION = "urn:knopfdruck:xdomea:pruefsumme:1"
"""AnwendungsspezifischeErweiterung by which Knopfdruck states SHA-256 and size of a file
(xdomea 3.0.0 has no checksum element); agreed between the two sides, not part of xdomea."""

# Codeliste AllgemeineRueckmeldung 1.1 (urn:xoev-de:xdomea:codeliste:allgemeinerueckmeldung)
SUCCESS = "0000000"
"""Ausführung wurde erfolgreich beendet."""
SCHEMA_INVALID = "0000008"
"""Die übergebene XML-Struktur entspricht nicht dem angegebenen Schema."""
ALREADY_PROCESSED = "0000009"
"""Die Nachricht ist bereits verarbeitet."""
TRANSFER_ERROR = "0000015"
"""Übertragungsfehler (Fachverfahren → DMS)."""

XSD_DIR = Path(__file__).resolve().parents[1] / "backend" / "cases" / "xdomea_xsd" / "xdomea_3.0.0"
FVDATEN_XSD = "xdomea-Nachrichten-FachverfahrensdatenAustauschen.xsd"
NIL_PROCESS_ID = str(uuid.UUID(int=0))
"""ProzessID of an answer to a message whose own ProzessID could not be read."""

_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class AcknowledgementInvalid(Exception):
    """The sandbox wrote a 0630 the schema refuses: a bug here, never sent."""


@lru_cache(maxsize=1)
def fvdaten_schema() -> etree.XMLSchema:
    """The FachverfahrensdatenAustauschen schema; compiled on first use (it takes a moment)."""
    return etree.XMLSchema(etree.parse(str(XSD_DIR / FVDATEN_XSD)))


def _parser() -> etree.XMLParser:
    # What arrives is untrusted: no entities, no DTD, nothing fetched from the network.
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)


def parse(xml: bytes) -> etree._Element:
    """The root of a received message; raises etree.XMLSyntaxError when it is not XML."""
    return etree.fromstring(xml, parser=_parser())


def schema_problems(xml: bytes, *, message: str) -> list[str]:
    """Why ``xml`` is not a schema-valid xdomea ``message`` (empty when it is one)."""
    try:
        root = parse(xml)
    except etree.XMLSyntaxError as exc:
        return [f"kein wohlgeformtes XML: {exc}"]
    # xdomea messages carry no DTD; one with entities would also trip lxml's validator.
    if root.getroottree().docinfo.internalDTD is not None:
        return ["DTD im Dokument nicht zulässig"]
    # Any global element of the schema validates; the E-Akte also wants the right message.
    if root.tag != f"{{{NS}}}{message}":
        return [f"erwartet {message} im Namensraum {NS}, erhalten {root.tag}"]
    checker = fvdaten_schema()
    try:
        if checker.validate(root):
            return []
    except etree.XMLSchemaValidateError as exc:
        return [f"nicht prüfbar: {exc}"]
    return [f"Zeile {e.line}: {e.message}" for e in checker.error_log]  # type: ignore[attr-defined]


def _text(value: str) -> str:
    """Text an XML 1.0 document can hold (the note may quote names taken from the ZIP)."""
    return _NOT_XML_CHAR.sub("", value)


def _child(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{name}")
    if text is not None:
        element.text = _text(text)
    return element


def _code(parent: etree._Element, name: str, code: str, list_uri: str, version: str) -> None:
    # xoev-code:Code: the value sits in an unqualified <code>; listURI and listVersionID are
    # fixed by the schema for each code list and may be stated.
    element = etree.SubElement(
        parent, f"{{{NS}}}{name}", {"listURI": list_uri, "listVersionID": version}
    )
    etree.SubElement(element, "code").text = code


def _contact(parent: etree._Element, name: str, institution: str) -> None:
    _child(_child(_child(parent, name), "Institution"), "Name", institution)


def _process_id(value: str) -> str:
    """A ProzessID in the form stringUUIDType demands (lower-case, hyphenated)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return NIL_PROCESS_ID


def acknowledgement(
    process_id: str, code: str, *, sender: str, recipient: str, note: str, at: datetime
) -> bytes:
    """The 0630 ImportBestaetigen answering the 0605 with ``process_id``.

    Kopf (NkRueckmeldungFVDatenImport): the answer keeps the ProzessID of the message it
    answers, so the sender can match the two; FVSessionID carries it too, as there is no
    session. ErfolgOderMisserfolg holds one AllgemeineRueckmeldung; ``note`` goes to Hinweis.
    """
    pid = _process_id(process_id)
    root = etree.Element(f"{{{NS}}}{ACKNOWLEDGEMENT}", nsmap={"xdomea": NS})
    head = _child(root, "Kopf")
    _child(head, "ProzessID", pid)
    _code(head, "Nachrichtentyp", "0630", "urn:xoev-de:xdomea:codeliste:nachrichtentyp", "2.0")
    _child(head, "Erstellungszeitpunkt", at.isoformat(timespec="seconds"))
    _contact(head, "Absender", sender)
    _contact(head, "Empfaenger", recipient)
    if note:
        _child(head, "Hinweis", note)
    _child(head, "FVSessionID", pid)
    outcome = _child(root, "ErfolgOderMisserfolg")
    _code(
        _child(outcome, "Rueckmeldung"),
        "AllgemeineRueckmeldung",
        code,
        "urn:xoev-de:xdomea:codeliste:allgemeinerueckmeldung",
        "1.1",
    )
    xml = bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
    problems = schema_problems(xml, message=ACKNOWLEDGEMENT)
    if problems:
        raise AcknowledgementInvalid("; ".join(problems[:5]))
    return xml


__all__ = [
    "ACKNOWLEDGEMENT",
    "ALREADY_PROCESSED",
    "CHECKSUM_EXTENSION",
    "FILING",
    "NS",
    "SCHEMA_INVALID",
    "SUCCESS",
    "TRANSFER_ERROR",
    "AcknowledgementInvalid",
    "acknowledgement",
    "parse",
    "schema_problems",
]
