"""Pure checks of an uploaded file: what it really is, and a name that is safe to show."""

from __future__ import annotations

import re
import unicodedata

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
