"""Pure checks of an uploaded file: what it really is, and a name that is safe to show."""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
import zipfile
from typing import Any

from PIL import Image, ImageOps
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

# Signatures at the very start of the file. A browser's Content-Type and the file name are
# what the sender claims; only the content says what the file is.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)

TYPE_NAMES: dict[str, str] = {"application/pdf": "PDF", "image/jpeg": "JPG", "image/png": "PNG"}
"""How citizens know the file types (the name they see in their file manager)."""

EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
}

MAX_NAME = 120


def sniff_media_type(content: bytes) -> str | None:
    """The media type the file's content shows, or None when it is none we accept."""
    for signature, media_type in _SIGNATURES:
        if content.startswith(signature):
            return media_type
    return None


def display_name(raw: str | None, media_type: str) -> str:
    """The citizen's file name for display only: no directories, no control characters.

    The name never becomes a path or a header value unescaped; this only keeps the list of
    uploads readable and stops a crafted name from spoofing text around it.
    """
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C"
    )
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        name = "Dokument" + EXTENSIONS[media_type][0]
    if len(name) > MAX_NAME:
        _stem, dot, ext = name.rpartition(".")
        keep = ("." + ext) if dot and len(ext) <= 5 else ""
        name = name[: MAX_NAME - len(keep)].rstrip() + keep
    return name


def download_name(field_id: str, media_type: str) -> str:
    """The file name a download gets: made by us, so nothing the citizen typed reaches a header."""
    return f"{field_id}{EXTENSIONS[media_type][0]}"


MAX_IMAGE_PIXELS = 40_000_000
"""A 40-megapixel photo is more than any phone takes; a larger canvas is a decompression bomb."""

# Names in a PDF that run code, open other files or carry files inside: a reader that honours
# them turns a scanned invoice into a delivery vehicle. /XFA forms carry scripts as well.
# /OpenAction and /AA are only pointers (often "open at page 1"); what they point to is checked.
_PDF_ACTIVE_KEYS = frozenset(
    {"/JS", "/JavaScript", "/EmbeddedFile", "/EmbeddedFiles", "/EF", "/Launch", "/RichMedia"}
    | {"/XFA"}
)
_PDF_ACTIVE_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/GoToE", "/RichMediaExecute"}
)
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
# Only long names in the raw scan: short ones like /JS occur by chance in compressed streams.
_PDF_RAW_ACTIVE = re.compile(rb"/(?:JavaScript|EmbeddedFiles?|Launch|RichMedia)(?![A-Za-z0-9])")


class UploadRefused(ValueError):
    """Content that passed the type sniff but must not be stored; carries a German and an
    English reason a citizen can act on."""

    def __init__(self, de: str, en: str) -> None:
        super().__init__(en)
        self.de = de
        self.en = en


def _refuse_pdf(en_detail: str) -> UploadRefused:
    return UploadRefused(
        "Die PDF-Datei enthält aktive Inhalte (Skripte, Aktionen oder eingebettete Dateien) "
        "und kann nicht angenommen werden. Bitte drucken Sie das Dokument als neue PDF-Datei "
        "oder laden Sie einen Scan hoch.",
        f"The PDF contains active content ({en_detail}) and cannot be accepted. Print the "
        "document to a new PDF or upload a scan.",
    )


def _unreadable(kind_de: str, kind_en: str) -> UploadRefused:
    return UploadRefused(
        f"Die Datei ist beschädigt oder kein lesbares {kind_de}. Bitte wählen Sie eine andere.",
        f"The file is damaged or not a readable {kind_en}. Choose another file.",
    )


def _too_many_pixels() -> UploadRefused:
    return UploadRefused(
        "Das Bild hat zu viele Bildpunkte. Bitte wählen Sie eine geringere Auflösung.",
        "The image has too many pixels. Choose a lower resolution.",
    )


def check_not_archive(content: bytes) -> None:
    """Refuse ZIP archives and polyglots (a PDF or image with a ZIP appended).

    A ZIP reader finds its directory from the end of the file, so a file that starts like a
    PDF can still be unpacked as an archive; the end-of-directory record gives it away.
    """
    if zipfile.is_zipfile(io.BytesIO(content)):
        raise UploadRefused(
            "Archive (zum Beispiel ZIP) werden nicht angenommen. Bitte laden Sie die "
            "Dokumente einzeln hoch.",
            "Archives (such as ZIP) are not accepted. Upload the documents one by one.",
        )


def check_pdf(content: bytes) -> None:
    """Refuse PDFs with JavaScript, actions, embedded files, XFA, or that cannot be inspected.

    Two looks: every object reachable from the trailer is walked with pypdf (this sees inside
    compressed object streams), and the raw bytes are scanned with name escapes (#4A) undone
    (this sees objects no reference points to, which lenient readers may still revive).
    """
    unescaped = _PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), content)
    found = _PDF_RAW_ACTIVE.search(unescaped)
    if found is not None:
        raise _refuse_pdf(found.group().decode("ascii"))
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            # An encrypted PDF cannot be inspected, nor read by the clerk without the password.
            raise _unreadable("PDF (verschlüsselt)", "PDF (encrypted)")
        _walk_pdf(reader.trailer, set())
    except UploadRefused:
        raise
    except Exception as exc:  # pypdf's error zoo on attacker-controlled bytes
        raise _unreadable("PDF", "PDF") from exc


def _walk_pdf(root: Any, seen: set[int]) -> None:
    """Visit every dictionary and array reachable from root; refuse active keys and actions."""
    stack = [root]
    visited = 0
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            if item.idnum in seen:
                continue
            seen.add(item.idnum)
            item = item.get_object()
        visited += 1
        if visited > 200_000:
            raise _unreadable("PDF", "PDF")
        if isinstance(item, DictionaryObject):
            for key, value in item.items():
                if key in _PDF_ACTIVE_KEYS:
                    raise _refuse_pdf(str(key))
                if key == "/S" and value in _PDF_ACTIVE_ACTIONS:
                    raise _refuse_pdf(str(value))
                stack.append(value)
        elif isinstance(item, ArrayObject):
            stack.extend(item)


def reencode_image(content: bytes, media_type: str) -> bytes:
    """Decode and encode the image again: only pixels survive, no metadata, no trailing bytes.

    Re-encoding removes EXIF (GPS position, camera serial), comments and anything appended to
    or hidden in the file, so a clerk's viewer only ever parses an image we wrote ourselves.
    """
    fmt = "JPEG" if media_type == "image/jpeg" else "PNG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[fmt]) as probe:
                width, height = probe.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise _too_many_pixels()
                probe.load()
                image = ImageOps.exif_transpose(probe)
    except UploadRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels() from exc
    except (OSError, ValueError, SyntaxError, Warning) as exc:
        name = TYPE_NAMES[media_type]
        raise _unreadable(f"{name}-Bild", f"{name} image") from exc
    # Nothing but pixels goes on: no EXIF, comment, ICC profile or text chunks.
    image.info = {}
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if fmt == "PNG" and image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        image = image.convert("RGBA")
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, format="JPEG", quality=90, optimize=True)
    else:
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def checked_content(content: bytes, media_type: str) -> bytes:
    """The bytes to store for a sniffed file: refused when active or an archive; images redrawn."""
    check_not_archive(content)
    if media_type == "application/pdf":
        check_pdf(content)
        return content
    return reencode_image(content, media_type)
