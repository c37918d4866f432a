"""Crafted uploads: active PDFs, archives, polyglots, bombs and images with hidden payloads."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.actions import JavaScript

from backend.uploads.files import (
    UploadRefused,
    checked_content,
    display_name,
    sniff_media_type,
)
from tests.conftest import Platform
from tests.integration.portalkit import log_in, start

FIXTURES = Path(__file__).resolve().parents[1] / "e2e" / "fixtures"
PLAIN_PDF = (FIXTURES / "rechnung.pdf").read_bytes()


def _assemble(objects: list[bytes], trailer: bytes) -> bytes:
    """A classic PDF (xref table) from numbered object bodies; offsets computed."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n" + trailer + b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


PAGES = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
]


def _pdf_with_catalog(catalog: bytes, *extra: bytes) -> bytes:
    objects = [catalog, *PAGES[1:], *extra]
    return _assemble(objects, b"<< /Size %d /Root 1 0 R >>" % (len(objects) + 1))


def _pdf_with_action_in_object_stream() -> bytes:
    """The JavaScript action sits compressed in an object stream: no byte scan can see it."""
    action = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"
    header = b"5 0 "
    packed = zlib.compress(header + action)
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    bodies = {
        1: b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>",
        2: PAGES[1],
        3: PAGES[2],
        4: b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(header), len(packed))
        + packed
        + b"\nendstream",
    }
    offsets: dict[int, int] = {}
    for number, body in bodies.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    offsets[6] = len(out)
    rows = [b"\x00" + (0).to_bytes(4, "big") + (65535).to_bytes(2, "big")]
    rows += [b"\x01" + offsets[n].to_bytes(4, "big") + b"\x00\x00" for n in (1, 2, 3, 4)]
    rows.append(b"\x02" + (4).to_bytes(4, "big") + (0).to_bytes(2, "big"))  # 5: in stream 4
    rows.append(b"\x01" + offsets[6].to_bytes(4, "big") + b"\x00\x00")
    data = b"".join(rows)
    out += (
        b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % len(data)
        + data
        + b"\nendstream\nendobj\n"
    )
    out += b"startxref\n%d\n%%%%EOF\n" % offsets[6]
    return bytes(out)


def _writer_pdf(configure: object) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    configure(writer)  # type: ignore[operator]
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _png(size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "white").save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(name: str = "rechnung.pdf", data: bytes = PLAIN_PDF) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


ACTIVE_PDFS = {
    "open action javascript": _pdf_with_catalog(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
    ),
    "name written with #-escapes": _pdf_with_catalog(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /J#61va#53cript /J#53 (x) >> >>"
    ),
    "launch action": _pdf_with_catalog(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /Launch /F (cmd.exe) >> >>"
    ),
    "javascript in a compressed object stream": _pdf_with_action_in_object_stream(),
    "pypdf open action": _writer_pdf(lambda w: w.add_open_action(JavaScript("app.alert(1)"))),
    "embedded file": _writer_pdf(lambda w: w.add_attachment("payload.exe", b"MZ\x90\x00")),
    "xfa form": _pdf_with_catalog(
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [] /XFA 4 0 R >> >>",
        b"<< /Length 0 >>\nstream\n\nendstream",
    ),
}


@pytest.mark.parametrize("name", sorted(ACTIVE_PDFS))
def test_pdfs_with_active_content_are_refused(name: str) -> None:
    content = ACTIVE_PDFS[name]
    assert sniff_media_type(content) == "application/pdf"
    with pytest.raises(UploadRefused) as refused:
        checked_content(content, "application/pdf")
    assert "aktive Inhalte" in refused.value.de or "beschädigt" in refused.value.de


def test_plain_and_rendered_pdfs_pass_unchanged() -> None:
    from weasyprint import HTML

    rendered = HTML(string="<h1>Rechnung</h1><p>Lastenrad, 1.000,00 €</p>").write_pdf()
    benign_open = _pdf_with_catalog(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>"  # "open at page 1"
    )
    for pdf in (PLAIN_PDF, rendered, benign_open):
        assert checked_content(pdf, "application/pdf") == pdf


def test_broken_and_encrypted_pdfs_are_refused() -> None:
    with pytest.raises(UploadRefused):
        checked_content(b"%PDF-1.4\n" + b"\x00" * 200, "application/pdf")

    def encrypt(writer: PdfWriter) -> None:
        writer.encrypt("geheim", algorithm="AES-128")

    with pytest.raises(UploadRefused):
        checked_content(_writer_pdf(encrypt), "application/pdf")


def test_archives_and_polyglots_are_refused() -> None:
    archive = _zip()
    assert sniff_media_type(archive) is None  # a ZIP named rechnung.pdf is not a PDF
    for polyglot, media_type in (
        (PLAIN_PDF + archive, "application/pdf"),
        (_png() + archive, "image/png"),
    ):
        assert sniff_media_type(polyglot) == media_type
        with pytest.raises(UploadRefused) as refused:
            checked_content(polyglot, media_type)
        assert "Archive" in refused.value.de


def test_images_are_redrawn_without_metadata_or_trailing_bytes() -> None:
    photo = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "GeheimKamera"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° to display
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif.tobytes(), comment=b"<script>alert(1)</script>")
    original = buffer.getvalue() + b"<?php system($_GET['c']); ?>"
    assert b"GeheimKamera" in original

    stored = checked_content(original, "image/jpeg")
    assert b"GeheimKamera" not in stored and b"<script>" not in stored and b"<?php" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert image.size == (48, 64)  # the orientation was applied, then dropped
        assert not image.getexif()

    png = _png() + b"trailing payload"
    stored_png = checked_content(png, "image/png")
    assert b"trailing payload" not in stored_png
    with Image.open(io.BytesIO(stored_png)) as image:
        assert image.format == "PNG" and image.size == (40, 30)


def test_decompression_bombs_and_broken_images_are_refused() -> None:
    bomb = _png((9_000, 9_000), "1")  # 81 megapixels in a few kilobytes
    assert len(bomb) < 100_000
    with pytest.raises(UploadRefused) as refused:
        checked_content(bomb, "image/png")
    assert "Bildpunkte" in refused.value.de
    with pytest.raises(UploadRefused):
        checked_content(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
    with pytest.raises(UploadRefused):
        checked_content(b"\xff\xd8\xff\xe0" + b"A" * 500, "image/jpeg")
    # A PNG sent as JPEG is refused rather than guessed: the sniffed type is the only truth.
    with pytest.raises(UploadRefused):
        checked_content(_png(), "image/jpeg")


@pytest.mark.parametrize(
    "raw",
    ["../../etc/passwd.pdf", "/etc/shadow.pdf", "C:\\Windows\\system32\\x.pdf", "a\x00b\r\n.pdf"],
)
def test_file_names_lose_every_path_part(raw: str) -> None:
    name = display_name(raw, "application/pdf")
    assert "/" not in name and "\\" not in name and "\x00" not in name and "\n" not in name
    assert not name.startswith(".")


def test_portal_refuses_active_pdf_and_stores_redrawn_image(platform: Platform) -> None:
    citizen = log_in(platform, "jonas")
    application = start(citizen, "lastenrad-zuschuss")
    base = f"/applications/{application}/topics/kauf"
    active = ACTIVE_PDFS["javascript in a compressed object stream"]
    r = citizen.post(base, files={"file__rechnung": ("rechnung.pdf", active, "application/pdf")})
    assert r.status_code == 422
    assert "aktive Inhalte" in r.text
    archive = citizen.post(
        base, files={"file__rechnung": ("rechnung.pdf", PLAIN_PDF + _zip(), "application/pdf")}
    )
    assert archive.status_code == 422 and "Archive" in archive.text

    photo = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "GeheimKamera"
    Image.new("RGB", (32, 32), "blue").save(photo, format="JPEG", exif=exif.tobytes())
    ok = citizen.post(
        base,
        {"action": "save"},
        files={"file__rechnung": ("foto.jpg", photo.getvalue(), "image/jpeg")},
    )
    assert ok.status_code == 303, ok.text
    link = re.search(r'href="(/applications/[0-9a-f]+/files/[0-9a-f]{32})"', citizen.get(base).text)
    assert link is not None
    stored = citizen.get(link.group(1)).content
    assert stored != photo.getvalue() and b"GeheimKamera" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (32, 32)
