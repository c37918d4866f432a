"""The QR code printed on a document, as a PNG data: URL the notice renderer may embed."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.constants
from PIL import Image

MODULE_PX = 8
"""Pixels per QR module: at the 30 mm the templates print it, about 300 dpi per module edge."""

QUIET_ZONE = 4
"""Modules of white border the QR standard asks for around the code."""

MASK_PATTERN = 2
"""A fixed data mask. Any of the eight masks decodes; choosing the "best" one makes qrcode try
all eight in pure Python (≈ 70–90 ms per notice, most of a case's CPU time besides the PDF
layout; docs/performance.md). Readers do not need the best mask, only a valid one."""


def qr_png(text: str) -> bytes:
    """A 1-bit PNG of the code, scaled by whole pixels so every module stays a sharp square.

    A raster image rather than SVG: WeasyPrint lays out every segment of an SVG path, which
    made the QR code the most expensive element of a notice (≈ 120 ms → 260–800 ms).
    """
    code = qrcode.QRCode(
        # Level M survives a fold or a coffee stain on paper (15 % of modules).
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=QUIET_ZONE,
        mask_pattern=MASK_PATTERN,
    )
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()  # includes the quiet zone; True = dark module
    size = len(matrix)
    small = Image.new("1", (size, size), 1)
    small.putdata([0 if dark else 1 for row in matrix for dark in row])
    image = small.resize((size * MODULE_PX, size * MODULE_PX), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def qr_data_url(text: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(text)).decode("ascii")
