"""PDF/A checks for tests, in place of a validator: veraPDF (Java) is neither in Debian nor on
PyPI as a self-contained package, and nothing may be downloaded from elsewhere here.

What is checked is what breaks archiving in practice: the PDF/A-3a identification in XMP, an
output intent with its ICC profile, tagging (marked, language, structure tree), every font
embedded (poppler's pdffonts) with a ToUnicode map, no glyph shown as .notdef, and text that
extracts without U+FFFD. A document failing any of these is not archivable as issued.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.generic import IndirectObject

from tests.unit.test_notice_glyphs import _notdef

PDFAID = "http://www.aiim.org/pdfa/ns/id/"


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _pdfaid(reader: PdfReader) -> dict[str, str]:
    xmp = reader.xmp_metadata
    if xmp is None:
        return {}
    found: dict[str, str] = {}
    for element in ET.fromstring(xmp.stream.get_data()).iter():
        for key, value in element.attrib.items():
            if key.startswith(f"{{{PDFAID}}}"):
                found[key.split("}")[1]] = value
        if element.tag.startswith(f"{{{PDFAID}}}") and element.text:
            found[element.tag.split("}")[1]] = element.text
    return found


def _fonts_not_embedded(pdf: bytes) -> list[str]:
    """pdffonts' table: every font must say 'yes' under emb and uni."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.pdf"
        path.write_bytes(pdf)
        table = subprocess.run(
            ["pdffonts", str(path)], capture_output=True, text=True, check=True, timeout=60
        ).stdout.splitlines()[2:]
    bad = []
    for row in table:
        columns = row.split()
        # name type… encoding emb sub uni objnum gen: emb, sub, uni are the 6th-4th from the end.
        emb, _sub, uni = columns[-5], columns[-4], columns[-3]
        if emb != "yes" or uni != "yes":
            bad.append(columns[0])
    return bad if table else ["(no fonts at all)"]


def pdfa_problems(pdf: bytes) -> list[str]:
    """Everything the checks above find wrong with one PDF; empty when it passes."""
    problems: list[str] = []
    reader = PdfReader(io.BytesIO(pdf))
    ident = _pdfaid(reader)
    if ident.get("part") != "3" or ident.get("conformance") != "A":
        problems.append(f"XMP does not identify PDF/A-3a: {ident}")
    catalog: Any = reader.trailer["/Root"]
    intents = [_resolve(i) for i in catalog.get("/OutputIntents", [])]
    if not any(i.get("/S") == "/GTS_PDFA1" and "/DestOutputProfile" in i for i in intents):
        problems.append("no PDF/A output intent with an ICC profile")
    mark = catalog.get("/MarkInfo")
    if not mark or not _resolve(mark).get("/Marked"):
        problems.append("not marked as tagged")
    if not catalog.get("/Lang") or "/StructTreeRoot" not in catalog:
        problems.append("no language or structure tree")
    if "/Encrypt" in reader.trailer:
        problems.append("encrypted")
    problems += [f"font not embedded or without ToUnicode: {f}" for f in _fonts_not_embedded(pdf)]
    problems += [f".notdef glyph shown in {font}" for font in sorted(set(_notdef(pdf)))]
    text = "".join(page.extract_text() for page in reader.pages)
    if "\ufffd" in text:
        problems.append("text extraction yields U+FFFD")
    if not text.strip():
        problems.append("no extractable text")
    return problems
