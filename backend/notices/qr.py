"""The QR code printed on a document, as an SVG data: URL the notice renderer may embed."""

from __future__ import annotations

import base64

import qrcode
import qrcode.constants
import qrcode.image.svg


def qr_svg(text: str) -> bytes:
    """Vector QR code: sharp in the PDF at any print size, no raster library needed."""
    code = qrcode.QRCode(
        # Level M survives a fold or a coffee stain on paper (15 % of modules).
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=4,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    code.add_data(text)
    code.make(fit=True)
    svg = code.make_image().to_string()
    return svg if isinstance(svg, bytes) else svg.encode("utf-8")


def qr_data_url(text: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(text)).decode("ascii")
