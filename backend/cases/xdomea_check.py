"""xdomea 3.0.0 messages checked: the schema, a received 0605 package, the 0630 acknowledgement.

Every message is validated against the official XSDs (packaged under ``xdomea_xsd/``);
``xdomea.py`` builds the 0605 with the element writers here. The E-Akte answers a 0605 with
``FVDaten.ImportBestaetigen.0630``, read by ``parse_acknowledgement`` (the sandbox E-Akte
writes it with its own code, ``sandbox/xdomea_peer.py``).
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from backend import xmlsafe

NS = "urn:xoev-de:xdomea:schema:3.0.0"
XSD_DIR = Path(__file__).parent / "xdomea_xsd" / "xdomea_3.0.0"
MESSAGE = "FVDaten.SGOAblegen.0605"
ACK_MESSAGE = "FVDaten.ImportBestaetigen.0630"
HASH_EXTENSION = "urn:knopfdruck:xdomea:pruefsumme:1"
SUCCESS = "0000000"
"""AllgemeineRueckmeldung 1.1: 'Ausführung wurde erfolgreich beendet.'"""
ALREADY_PROCESSED = "0000009"
"""AllgemeineRueckmeldung 1.1: the message was processed before (counts as filed)."""
_XML_BAD = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class XdomeaInvalid(Exception):
    """A message that does not validate: it must not be written or sent."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:5]))
        self.problems = problems


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The xdomea 3.0.0 FVDaten schema (includes Baukasten, Datentypen, xoev-code)."""
    return xmlsafe.load_schema(
        str(XSD_DIR / "xdomea-Nachrichten-FachverfahrensdatenAustauschen.xsd")
    )


def validate(xml: bytes) -> list[str]:
    """Schema problems of an xdomea FVDaten message (empty when it is valid)."""
    try:
        document = xmlsafe.parse(xml)
    except xmlsafe.UnsafeXml as exc:
        # xdomea declares no DTD; an unexpanded entity would also crash lxml's validator.
        return [f"{exc} in an xdomea message"]
    checker = schema()
    if checker.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in checker.error_log]  # type: ignore[attr-defined]


def clean(value: Any) -> str:
    """Text an XML document can hold: characters XML 1.0 forbids are dropped."""
    return _XML_BAD.sub("", str(value))


def _el(parent: etree._Element, name: str, text: Any = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{name}", attrs)
    if text is not None:
        element.text = clean(text)
    return element


def _code(parent: etree._Element, name: str, code: str, **attrs: str) -> etree._Element:
    element = _el(parent, name, **attrs)
    etree.SubElement(element, "code").text = code
    return element


def _contact(parent: etree._Element, name: str, institution: str, unit: str) -> None:
    contact = _el(parent, name)
    body = _el(contact, "Institution")
    _el(body, "Name", institution)
    if unit:
        _el(_el(contact, "Organisationseinheit"), "Name", unit)


@dataclass(frozen=True)
class CheckedPackage:
    process_id: str
    case_id: str
    documents: int


MAX_PACKAGE = 200 * 1024 * 1024


def check_package(content: bytes) -> CheckedPackage:
    """Both sides' check of a 0605 ZIP: one message, schema-valid, every primary document there
    with the SHA-256 and size the message states. Raises XdomeaInvalid."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        names = archive.namelist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise XdomeaInvalid([f"not a ZIP file: {exc}"]) from None
    messages = [n for n in names if n.endswith(f"_{MESSAGE}.xml")]
    if len(messages) != 1:
        raise XdomeaInvalid([f"expected one {MESSAGE} message, found {len(messages)}"])
    if sum(i.file_size for i in archive.infolist()) > MAX_PACKAGE:
        raise XdomeaInvalid(["package too large"])
    xml = archive.read(messages[0])
    problems = validate(xml)
    if problems:
        raise XdomeaInvalid(problems)
    root = xmlsafe.parse(xml)
    ns = {"x": NS}
    pid = root.findtext("x:Kopf/x:ProzessID", namespaces=ns) or ""
    if messages[0] != f"{pid}_{MESSAGE}.xml":
        problems.append(f"message file {messages[0]} does not carry ProzessID {pid}")
    listed: set[str] = set()
    documents = root.findall(".//x:Dokument", ns)
    for doc in documents:
        for primary in doc.findall(".//x:Primaerdokument/x:Dateiname", ns):
            name = primary.text or ""
            listed.add(name)
            if name not in names:
                problems.append(f"primary document {name} missing from the ZIP")
                continue
            fields = {
                (f.findtext("x:Name", namespaces=ns) or ""): (
                    f.findtext("x:Wert", namespaces=ns) or ""
                )
                for ext in doc.findall("x:AnwendungsspezifischeErweiterung", ns)
                if ext.findtext("x:Kennung", namespaces=ns) == HASH_EXTENSION
                for f in ext.findall("x:Feld", ns)
            }
            data = archive.read(name)
            if fields.get("SHA-256") != hashlib.sha256(data).hexdigest():
                problems.append(f"primary document {name}: SHA-256 does not match")
            if fields.get("Dateigroesse") != str(len(data)):
                problems.append(f"primary document {name}: size does not match")
    extra = set(names) - listed - {messages[0]}
    if extra:
        problems.append(f"files not named in the message: {sorted(extra)[:5]}")
    if problems:
        raise XdomeaInvalid(problems)
    return CheckedPackage(
        process_id=pid,
        case_id=root.findtext(".//x:FachverfahrenObjektID", namespaces=ns) or "",
        documents=len(documents),
    )


@dataclass(frozen=True)
class Acknowledgement:
    process_id: str
    codes: list[str]
    note: str

    @property
    def filed(self) -> bool:
        """Filed now, or filed before (the E-Akte saw this ProzessID already)."""
        return bool(self.codes) and all(c in (SUCCESS, ALREADY_PROCESSED) for c in self.codes)


def parse_acknowledgement(xml: bytes) -> Acknowledgement:
    """The E-Akte's 0630 ImportBestaetigen, schema-checked; raises XdomeaInvalid."""
    problems = validate(xml)
    if problems:
        raise XdomeaInvalid(problems)
    root = xmlsafe.parse(xml)
    if etree.QName(root).localname != ACK_MESSAGE:
        raise XdomeaInvalid([f"expected {ACK_MESSAGE}, got {etree.QName(root).localname}"])
    ns = {"x": NS}
    codes = [
        (code.text or "").strip()
        for code in root.findall("x:ErfolgOderMisserfolg/x:Rueckmeldung/*/code", ns)
    ]
    return Acknowledgement(
        process_id=root.findtext("x:Kopf/x:ProzessID", namespaces=ns) or "",
        codes=codes,
        note=root.findtext("x:Kopf/x:Hinweis", namespaces=ns) or "",
    )
