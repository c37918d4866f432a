"""The PDF/A checks of tests/pdfa.py can fail: a plain PDF and a missing glyph are caught."""

from __future__ import annotations

from weasyprint import HTML

from tests.pdfa import pdfa_problems

PAGE = '<html lang="de"><body><p style="font-family: DejaVu Sans">{}</p></body></html>'


def test_an_archivable_pdf_passes() -> None:
    pdf = HTML(string=PAGE.format("Straße")).write_pdf(pdf_variant="pdf/a-3a")
    assert pdfa_problems(pdf) == []


def test_a_plain_pdf_lacks_identification_output_intent_and_tags() -> None:
    problems = pdfa_problems(HTML(string=PAGE.format("Straße")).write_pdf())
    assert any("PDF/A-3a" in p for p in problems), problems
    assert any("output intent" in p for p in problems), problems
    assert any("tagged" in p for p in problems), problems


def test_a_character_no_font_holds_is_a_missing_glyph() -> None:
    pdf = HTML(string=PAGE.format("Bello \U0001f436")).write_pdf(pdf_variant="pdf/a-3a")
    assert any(".notdef" in p for p in pdfa_problems(pdf))
