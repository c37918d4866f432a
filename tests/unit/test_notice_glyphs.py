"""Notices print every DIN 91379 character (issue 20, item 6): the fonts the notice CSS names
cover the whole list, a name from many groups prints with embedded fonts and no missing glyph,
and a character outside the list (the dog emoji) would be caught by the same check."""

from __future__ import annotations

import io
import re
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from pypdf.generic import ContentStream, IndirectObject

from backend.documents import NoticeRenderer
from backend.domain.din91379 import DataType, all_units
from tests.unit.test_render import MELDE, SERVICES, TEMPLATE, erika_context

CSS = Path(__file__).resolve().parents[2] / "backend/documents/templates/notice.css"
LAYOUT_CHARACTERS = {0x09, 0x0A, 0x0D}  # white space the layout turns into space, never a glyph

NAME = unicodedata.normalize("NFC", "Džemal Ŀuçić-Øster L\u0325\u0304 K\u035fH Ẃ Ǻ")
GREEK = "Σωκράτης Παπαδόπουλος"
CYRILLIC = "Дмитрий Щербаков"


def _font_file(family: str, bold: bool) -> str:
    pattern = f"{family}:weight={'bold' if bold else 'regular'}"
    found = subprocess.run(
        ["fc-match", "-f", "%{family[0]}|%{file}", pattern], capture_output=True, text=True
    ).stdout
    matched, path = found.split("|", 1)
    assert matched == family, f"{family} is not installed (scripts/system-packages)"
    return path


def _font_chains() -> list[list[str]]:
    chains = []
    for declaration in re.findall(r"font(?:-family)?:([^;]+);", CSS.read_text(encoding="utf-8")):
        chains.append(re.findall(r'"([^"]+)"', declaration))
    return [chain for chain in chains if chain]


def test_the_fonts_the_notice_css_names_cover_every_din91379_character() -> None:
    needed = {ord(c) for unit in all_units(DataType.E) for c in unit} - LAYOUT_CHARACTERS
    chains = _font_chains()
    assert chains
    for chain in chains:
        for bold in (False, True):
            covered: set[int] = set()
            for family in chain:
                covered |= set(TTFont(_font_file(family, bold)).getBestCmap())
            missing = sorted(f"U+{cp:04X}" for cp in needed - covered)
            assert missing == [], (chain, "bold" if bold else "regular", missing)


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _code_to_cid(font: Any) -> Any:
    """Code → CID of a Type0 font: Identity-H, or the embedded CMap WeasyPrint writes."""
    encoding = _resolve(font["/Encoding"])
    if encoding == "/Identity-H":
        return lambda code: code
    cmap = encoding.get_data().decode("ascii")
    table: dict[int, int] = {}
    for block in re.findall(r"begincidchar(.*?)endcidchar", cmap, re.S):
        for code, cid in re.findall(r"<([0-9a-fA-F]+)>\s+(\d+)", block):
            table[int(code, 16)] = int(cid)
    for block in re.findall(r"begincidrange(.*?)endcidrange", cmap, re.S):
        for low, high, cid in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s+(\d+)", block):
            for offset in range(int(high, 16) - int(low, 16) + 1):
                table[int(low, 16) + offset] = int(cid) + offset
    return lambda code: table.get(code, 0)  # an unmapped code shows CID 0 as well


def _glyph_ids(pdf: bytes) -> list[tuple[str, int]]:
    """(font, glyph id) of every glyph shown; all fonts are CID fonts with 2-byte codes."""
    shown: list[tuple[str, int]] = []
    reader = PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        fonts: Any = _resolve(page["/Resources"])["/Font"]
        current = ""
        for operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator == b"Tf":
                current = str(operands[0])
            elif operator in (b"Tj", b"TJ"):
                font = _resolve(fonts[current])
                assert font["/Subtype"] == "/Type0"
                [descendant] = [_resolve(d) for d in font["/DescendantFonts"]]
                assert descendant.get("/CIDToGIDMap", "/Identity") == "/Identity"
                cid = _code_to_cid(font)
                parts = operands[0] if operator == b"TJ" else [operands[0]]
                for part in parts:
                    if isinstance(part, bytes | str):
                        data = getattr(part, "original_bytes", part)
                        shown += [
                            (str(font["/BaseFont"]), cid(int.from_bytes(data[i : i + 2], "big")))
                            for i in range(0, len(data), 2)
                        ]
    return shown


def _notdef(pdf: bytes) -> list[str]:
    return [font for font, glyph in _glyph_ids(pdf) if glyph == 0]


def _embedded_fonts(pdf: bytes) -> list[str]:
    names = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in _resolve(page["/Resources"])["/Font"].values():
            font = _resolve(font)
            for part in [_resolve(d) for d in font.get("/DescendantFonts", [])] or [font]:
                descriptor = _resolve(part["/FontDescriptor"])
                assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), part
                names.append(str(font["/BaseFont"]))
    return names


@pytest.fixture(scope="module")
def renderer() -> NoticeRenderer:
    return NoticeRenderer(SERVICES)


def _context(name: str, first: str, authority: str | None = None) -> dict[str, Any]:
    context = erika_context()
    context["fields"]["familienname"] = name
    context["fields"]["vornamen"] = first
    context["addressee"] = {"name": f"{first} {name}", "lines": ["Heidestraße 17", "51147 Köln"]}
    if authority is not None:
        context["authority"] = authority  # printed in DejaVu Serif, bold
    return context


def test_a_name_from_many_din91379_groups_prints_with_embedded_fonts_and_no_missing_glyph(
    renderer: NoticeRenderer,
) -> None:
    pdf = renderer.render(MELDE, TEMPLATE, _context(NAME, GREEK, authority=f"{NAME} {CYRILLIC}"))

    assert _notdef(pdf) == []
    assert all("DejaVu" in font for font in _embedded_fonts(pdf))
    (text,) = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    text = unicodedata.normalize("NFC", text)
    for expected in ("Džemal Ŀuçić-Øster", "Ẃ Ǻ", GREEK, CYRILLIC, "L\u0325\u0304"):
        assert expected in text, expected


def test_the_check_sees_a_character_no_font_holds(renderer: NoticeRenderer) -> None:
    """What intake now refuses: before, "Bello 🐶" printed .notdef, which PDF/A forbids."""
    pdf = renderer.render(MELDE, TEMPLATE, _context("Bello 🐶", "Erika"))
    assert _notdef(pdf) != []
