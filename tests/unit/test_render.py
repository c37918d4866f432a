"""Notice rendering: German PDF/A-3a content, tagging, embedded fonts, strict templates, sandbox."""

from __future__ import annotations

import base64
import io
import shutil
import socket
import struct
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DictionaryObject,
    IndirectObject,
    PdfObject,
)

from backend.documents import NoticeRenderer, RenderError, TemplateResourceFetcher
from backend.documents.render import ResourceRefused, date_de, date_iso, money_de
from backend.domain.provenance import source_of
from backend.notices.qr import qr_data_url
from prefill.connectors.base import Provenance

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "services"
ARTIFACTS = REPO / "test-artifacts"
MELDE = Path("meldebescheinigung")
TEMPLATE = "bescheinigung.html"
TITLE = "Meldebescheinigung (einfach) nach § 18 Abs. 1 BMG"
CERTIFICATE_STATEMENT = (
    "Diese Bescheinigung wurde automatisiert erstellt und ist ohne Unterschrift gültig."
)
NOTICE_STATEMENT = "automatisiert erlassen (§ 35a VwVfG)"
VERIFY_URL = "https://knopfdruck.example/pruefen/KD-2026-000123"
PDFAID = "http://www.aiim.org/pdfa/ns/id/"


def erika_context() -> dict[str, Any]:
    fields = {
        "familienname": "Mustermann",
        "vornamen": "Erika",
        "geburtsdatum": date(1964, 8, 12),
        "geburtsort": "Berlin",
        "strasse": "Heidestraße",
        "hausnummer": "17",
        "plz": "51147",
        "ort": "Köln",
        "einzugsdatum": date(2009, 4, 1),
    }
    # 23:30 UTC on 20.11. is already 21.11. in Germany: the "Stand" must say 21.11.2026.
    as_of = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    provenance = {
        field_id: Provenance(registry="melderegister", registry_title="Melderegister", as_of=as_of)
        for field_id in fields
    }
    return {
        "source": _sources(fields, provenance),
        "authority": "Stadt Köln – Bürgeramt",
        "return_address": "Stadt Köln · Bürgeramt · 50667 Köln",
        "addressee": {"name": "Erika Mustermann", "lines": ["Heidestraße 17", "51147 Köln"]},
        "reference": "KD-2026-000123",
        "issued_on": date(2026, 11, 21),
        "automated": True,
        "fields": fields,
        "provenance": provenance,
        "qr_data_url": qr_data_url(VERIFY_URL),
        "verification_url": VERIFY_URL,
    }


def _sources(fields: dict[str, Any], provenance: dict[str, Provenance]) -> Any:
    """The source() helper as backend.notices.content builds it from a case's data."""
    data = {
        "values": fields,
        "provenance": {k: p.model_dump(mode="json") for k, p in provenance.items()},
    }
    return lambda field_id: source_of(data, field_id).sentence("de")


def notice_context(**extra: Any) -> dict[str, Any]:
    return {**erika_context(), "title": "Bescheid über Ihren Antrag", **extra}


def _text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _write_service(services: Path, slug: str, template: str, body: str) -> Path:
    templates = services / slug / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / template).write_text(
        '{% extends "base.html" %}{% block body %}' + body + "{% endblock %}", encoding="utf-8"
    )
    return Path(slug)


def _resolve(obj: PdfObject | None) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _struct_elements(node: Any) -> Iterator[DictionaryObject]:
    node = _resolve(node)
    if isinstance(node, ArrayObject):
        for child in node:
            yield from _struct_elements(child)
    elif isinstance(node, DictionaryObject) and "/S" in node:
        yield node
        yield from _struct_elements(node.get("/K"))


@pytest.fixture(scope="module")
def renderer() -> NoticeRenderer:
    return NoticeRenderer(SERVICES)


@pytest.fixture(scope="module")
def erika_pdf(renderer: NoticeRenderer) -> bytes:
    return renderer.render(MELDE, TEMPLATE, erika_context())


def test_certificate_shows_person_reference_and_sources(erika_pdf: bytes) -> None:
    (text,) = _text(erika_pdf)
    for expected in (
        "Mustermann",
        "Erika",
        "Heidestraße 17",
        "51147 Köln",
        "12.08.1964",
        "01.04.2009",
        "Berlin",
        "KD-2026-000123",
        "21.11.2026",
        TITLE,
        "mit Hauptwohnung gemeldet",
        "Quelle: Melderegister, Stand 21.11.2026",
        CERTIFICATE_STATEMENT,
        VERIFY_URL,
        "Seite 1 von 1",
        "Az. KD-2026-000123",
    ):
        assert expected in text, expected
    assert NOTICE_STATEMENT not in text


def test_qr_code_is_printed_one_pixel_per_module_and_never_smoothed(erika_pdf: bytes) -> None:
    """Smoothing would blur a 1-pixel-per-module code into grey squares a phone misreads."""
    [page] = PdfReader(io.BytesIO(erika_pdf)).pages
    xobjects = page["/Resources"]["/XObject"]  # type: ignore[index]
    objects = [x.get_object() for x in xobjects.values()]
    [qr] = [x for x in objects if x["/Subtype"] == "/Image"]
    assert qr["/ColorSpace"] == "/DeviceGray"
    assert qr["/Interpolate"] == BooleanObject(False)  # image-rendering: pixelated
    assert qr["/Width"] == qr["/Height"] < 120  # modules, not a scaled-up raster


def test_declares_pdf_a_3a_in_xmp(erika_pdf: bytes) -> None:
    xmp = PdfReader(io.BytesIO(erika_pdf)).xmp_metadata
    assert xmp is not None
    root = ET.fromstring(xmp.stream.get_data())
    properties: dict[str, str] = {}
    for element in root.iter():
        for key, value in element.attrib.items():
            if key.startswith(f"{{{PDFAID}}}"):
                properties[key.split("}")[1]] = value
        if element.tag.startswith(f"{{{PDFAID}}}") and element.text:
            properties[element.tag.split("}")[1]] = element.text
    assert properties.get("part") == "3"
    assert properties.get("conformance") == "A"


def test_is_tagged_german_with_title_and_metadata(erika_pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(erika_pdf))
    catalog: Any = reader.trailer["/Root"]
    assert catalog["/MarkInfo"]["/Marked"].value is True
    assert catalog["/Lang"] == "de"
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    info: Any = reader.metadata
    assert info.title == TITLE
    assert info["/aktenzeichen"] == "KD-2026-000123"
    assert info["/CreationDate"].startswith("D:20261121")
    elements = list(_struct_elements(catalog["/StructTreeRoot"]["/K"]))
    tags = {str(element["/S"]) for element in elements}
    assert {"/Document", "/H1", "/P", "/Table", "/TR", "/TH", "/TD", "/Figure"} <= tags
    figures = [element for element in elements if str(element["/S"]) == "/Figure"]
    assert all(str(figure.get("/Alt", "")).startswith("QR-Code") for figure in figures)


def test_all_fonts_are_embedded_dejavu(erika_pdf: bytes) -> None:
    seen: list[str] = []
    for page in PdfReader(io.BytesIO(erika_pdf)).pages:
        resources: Any = page["/Resources"]
        for font in resources["/Font"].values():
            font = _resolve(font)
            seen.append(str(font["/BaseFont"]))
            described = [_resolve(d) for d in font.get("/DescendantFonts", [])] or [font]
            for part in described:
                descriptor = _resolve(part["/FontDescriptor"])
                assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), part
    assert seen
    assert all("DejaVu" in name for name in seen), seen


def test_same_inputs_give_identical_bytes(renderer: NoticeRenderer, erika_pdf: bytes) -> None:
    assert renderer.render(MELDE, TEMPLATE, erika_context()) == erika_pdf


def test_template_path_as_written_in_service_yaml(
    renderer: NoticeRenderer, erika_pdf: bytes
) -> None:
    assert renderer.render(MELDE, "templates/bescheinigung.html", erika_context()) == erika_pdf


def test_renders_without_weasyprint_complaints(
    renderer: NoticeRenderer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="weasyprint"):
        renderer.render(MELDE, TEMPLATE, erika_context())
    assert [record.getMessage() for record in caplog.records] == []


def test_optional_values_may_be_absent(renderer: NoticeRenderer) -> None:
    context = erika_context()
    for optional in ("provenance", "source", "qr_data_url", "verification_url", "return_address"):
        del context[optional]
    del context["fields"]["einzugsdatum"]
    (text,) = _text(renderer.render(MELDE, TEMPLATE, context))
    assert "Mustermann" in text
    assert "Quelle" not in text
    assert "Einzugsdatum" not in text
    assert "Echtheit" not in text


def test_value_without_register_provenance_says_it_is_the_citizens_statement(
    renderer: NoticeRenderer,
) -> None:
    context = erika_context()
    held = {"familienname": context["provenance"]["familienname"]}
    context["provenance"] = held
    context["source"] = _sources(context["fields"], held)
    (text,) = _text(renderer.render(MELDE, TEMPLATE, context))
    assert text.count("Quelle: Melderegister") == 1
    assert "Ihre Angabe" in text


def test_missing_field_raises_render_error_naming_template_and_value(
    renderer: NoticeRenderer,
) -> None:
    context = erika_context()
    del context["fields"]["plz"]
    with pytest.raises(RenderError) as caught:
        renderer.render(MELDE, TEMPLATE, context)
    assert caught.value.template == TEMPLATE
    assert caught.value.line is not None
    assert "'plz'" in str(caught.value)
    assert TEMPLATE in str(caught.value)
    assert caught.value.status_code == 500


def test_missing_layout_value_names_the_shared_layout(renderer: NoticeRenderer) -> None:
    context = erika_context()
    del context["reference"]
    with pytest.raises(RenderError, match=r"'base\.html', line \d+ .*'reference' is undefined"):
        renderer.render(MELDE, TEMPLATE, context)


def test_values_are_escaped_not_markup(renderer: NoticeRenderer) -> None:
    context = erika_context()
    context["fields"]["familienname"] = "<script>alert(1)</script>"
    markup = renderer.render_html(MELDE, TEMPLATE, context)
    assert "<script>" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    (text,) = _text(renderer.render(MELDE, TEMPLATE, context))
    assert "<script>alert(1)</script>" in text


def test_sandbox_blocks_python_internals(renderer: NoticeRenderer, tmp_path: Path) -> None:
    slug = _write_service(tmp_path, "evil", "n.html", "{{ fields.__class__.__mro__ }}")
    with pytest.raises(RenderError, match=r"sandbox forbids.*__class__"):
        NoticeRenderer(tmp_path).render(slug, "n.html", notice_context())


@pytest.mark.parametrize(
    ("markup", "url"),
    [
        ('<img src="http://example.org/x.png" alt="x">', "http://example.org/x.png"),
        ('<img src="file:///etc/passwd" alt="x">', "file:///etc/passwd"),
        ('<p style="background: url(file:///etc/passwd)">x</p>', "file:///etc/passwd"),
        ('<link rel="stylesheet" href="https://example.org/a.css">', "https://example.org/a.css"),
        ('<img src="../../../../../../etc/passwd" alt="x">', "/etc/passwd"),
    ],
)
def test_templates_cannot_reach_network_or_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, markup: str, url: str
) -> None:
    attempts: list[object] = []

    def record(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "getaddrinfo", record)
    monkeypatch.setattr(socket.socket, "connect", record)
    slug = _write_service(tmp_path, "leaky", "n.html", markup)
    with pytest.raises(RenderError, match="may not use") as caught:
        NoticeRenderer(tmp_path).render(slug, "n.html", notice_context())
    assert url in str(caught.value)
    assert attempts == []


def test_own_template_files_and_data_urls_are_served(tmp_path: Path) -> None:
    slug = _write_service(
        tmp_path, "logo", "n.html", '<img src="wappen.png" alt="Wappen der Stadt">'
    )
    png = base64.b64decode(qr_data_url("x").split(",", 1)[1])
    (tmp_path / slug / "templates" / "wappen.png").write_bytes(png)
    pdf = NoticeRenderer(tmp_path).render(slug, "n.html", notice_context())
    images = [image for page in PdfReader(io.BytesIO(pdf)).pages for image in page.images]
    assert len(images) == 2  # the template's own image and the QR code from its data: URL


def test_fetcher_refuses_symlinks_out_and_foreign_hosts(tmp_path: Path) -> None:
    allowed = tmp_path / "templates"
    allowed.mkdir()
    (allowed / "ok.css").write_text("p { color: red }", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("geheim", encoding="utf-8")
    (allowed / "link.txt").symlink_to(secret)
    fetcher = TemplateResourceFetcher([allowed])
    assert fetcher.fetch((allowed / "ok.css").as_uri()).read() == b"p { color: red }"
    assert fetcher.fetch("data:text/plain;base64,aGFsbG8=").read() == b"hallo"
    for refused in (
        (allowed / "link.txt").as_uri(),
        secret.as_uri(),
        "file://otherhost" + str(allowed / "ok.css"),
        "ftp://example.org/x",
    ):
        with pytest.raises(ResourceRefused):
            fetcher.fetch(refused)


def test_service_folder_outside_services_dir_is_refused(
    renderer: NoticeRenderer, tmp_path: Path
) -> None:
    slug = _write_service(tmp_path, "outside", "n.html", "<p>x</p>")
    with pytest.raises(RenderError, match="outside"):
        renderer.render(tmp_path / slug, "n.html", erika_context())


def test_shared_layout_alone_is_not_a_service_template(renderer: NoticeRenderer) -> None:
    with pytest.raises(RenderError, match="shared layout"):
        renderer.render(MELDE, "base.html", erika_context())


def test_unknown_template_is_a_render_error(renderer: NoticeRenderer) -> None:
    with pytest.raises(RenderError, match=r"'nope\.html' not found"):
        renderer.render(MELDE, "nope.html", erika_context())


def test_syntax_error_names_template_and_line(tmp_path: Path) -> None:
    slug = _write_service(tmp_path, "broken", "n.html", "<p>\n{% if %}</p>")
    with pytest.raises(RenderError, match=r"'n\.html', line 2: syntax error") as caught:
        NoticeRenderer(tmp_path).render(slug, "n.html", notice_context())
    assert caught.value.line == 2


def test_a_none_is_never_printed_as_the_word_none(tmp_path: Path) -> None:
    # A legal notice saying "Kennzeichen None" must not be issued; a guarded value is fine.
    slug = _write_service(tmp_path, "nones", "n.html", "<p>Kennzeichen\n{{ fields.k }}</p>")
    context = notice_context()
    context["fields"] = {"k": None}
    with pytest.raises(RenderError, match=r"'n\.html', line 2 .*missing \(None\)"):
        NoticeRenderer(tmp_path).render(slug, "n.html", context)
    guarded = _write_service(
        tmp_path, "guarded", "n.html", "<p>{% if fields.k %}{{ fields.k }}{% endif %}</p>"
    )
    assert NoticeRenderer(tmp_path).render(guarded, "n.html", context).startswith(b"%PDF")


def test_notice_carries_section_35a_statement_only_when_automated(tmp_path: Path) -> None:
    slug = _write_service(tmp_path, "bescheid", "n.html", "<p>Ihr Antrag wird bewilligt.</p>")
    renderer = NoticeRenderer(tmp_path)
    context = notice_context()
    (automated,) = _text(renderer.render(slug, "n.html", context))
    assert NOTICE_STATEMENT in automated
    assert "Bescheid über Ihren Antrag" in automated
    (manual,) = _text(renderer.render(slug, "n.html", {**context, "automated": False}))
    assert NOTICE_STATEMENT not in manual
    assert "Ihr Antrag wird bewilligt." in manual


def test_long_notice_numbers_pages_and_repeats_reference(tmp_path: Path) -> None:
    paragraph = "<p>" + "Begründung des Bescheids. " * 40 + "</p>"
    slug = _write_service(tmp_path, "lang", "n.html", paragraph * 12)
    pdf = NoticeRenderer(tmp_path).render(slug, "n.html", notice_context())
    pages = _text(pdf)
    assert len(pages) >= 2
    total = len(pages)
    for number, text in enumerate(pages, start=1):
        assert f"Seite {number} von {total}" in text
        assert "Az. KD-2026-000123" in text


def test_german_filters() -> None:
    assert date_de(date(1964, 8, 12)) == "12.08.1964"
    assert date_de("1964-08-12") == "12.08.1964"
    assert date_de(datetime(2026, 11, 20, 23, 30, tzinfo=UTC)) == "21.11.2026"
    assert date_iso(datetime(2026, 6, 30, 22, 15, tzinfo=UTC)) == "2026-07-01"
    assert money_de(Decimal("36")) == "36,00\xa0€"
    assert money_de(Decimal("1234.5")) == "1.234,50\xa0€"
    assert money_de(12) == "12,00\xa0€"
    assert money_de("0.10") == "0,10\xa0€"
    with pytest.raises(TypeError):
        money_de(36.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        date_de(19640812)  # type: ignore[arg-type]


def test_money_filter_in_template_and_float_is_render_error(tmp_path: Path) -> None:
    slug = _write_service(tmp_path, "gebuehr", "n.html", "<p>Gebühr: {{ fee | money_de }}</p>")
    renderer = NoticeRenderer(tmp_path)
    context = notice_context(title="Gebührenbescheid")
    (text,) = _text(renderer.render(slug, "n.html", {**context, "fee": Decimal("36.00")}))
    assert "Gebühr: 36,00\xa0€" in text or "Gebühr: 36,00 €" in text
    with pytest.raises(RenderError, match=r"'n\.html', line 1 failed: TypeError"):
        renderer.render(slug, "n.html", {**context, "fee": 36.0})


def test_first_page_preview_png(erika_pdf: bytes) -> None:
    """Writes test-artifacts/meldebescheinigung-1.png for a human look at the layout."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm (poppler-utils) not installed")
    ARTIFACTS.mkdir(exist_ok=True)
    source = ARTIFACTS / "meldebescheinigung.pdf"
    source.write_bytes(erika_pdf)
    prefix = ARTIFACTS / "meldebescheinigung"
    subprocess.run(
        [pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1", str(source), str(prefix)],
        check=True,
    )
    png = next(ARTIFACTS.glob("meldebescheinigung-*1.png")).read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    # A4 at 60 dpi: 210 mm x 297 mm is 496 x 702 pixels.
    assert abs(width - 496) <= 1
    assert abs(height - 702) <= 1


def test_the_default_relative_services_dir_finds_the_templates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`./scripts/run` starts with services_dir=services (relative): the catalogue's folder and
    the renderer's services dir must name the same templates folder."""
    from backend.context import connectors_for
    from backend.definitions.catalogue import load_catalogue
    from backend.settings import Settings

    monkeypatch.chdir(REPO)
    settings = Settings(_env_file=None, services_dir=Path("services"))
    catalogue = load_catalogue(settings.services_dir, connectors_for(settings))
    renderer = NoticeRenderer(settings.services_dir)
    pdf = renderer.render(catalogue.folder("meldebescheinigung"), TEMPLATE, erika_context())
    assert pdf.startswith(b"%PDF-")
