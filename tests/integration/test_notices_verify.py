"""A document's QR code verifies on /verify; a tampered code, file or record does not."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import zxingcpp
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.db import unit_of_work
from backend.notices.models import IssuedNotice
from tests.conftest import Platform
from tests.integration.enginekit import engine, notified_case


def _verdict(page: httpx.Response) -> str:
    found = re.search(r'data-verdict="([a-z]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def _certificate(platform: Platform) -> tuple[dict[str, object], bytes]:
    api, case_id = notified_case(platform)
    case = api.get(f"/cases/{case_id}").json()
    (document,) = case["documents"]
    pdf = api.get(f"/cases/{case_id}/documents/{document['id']}").content
    return case, pdf


def _link(pdf: bytes) -> str:
    metadata = PdfReader(io.BytesIO(pdf)).metadata
    assert metadata is not None
    return str(metadata["/pruefadresse"])


def _printed_qr(pdf: bytes, tmp_path: Path) -> str:
    """What a phone reads off the printed page: rasterise page 1 at 150 dpi, decode its QR."""
    (tmp_path / "notice.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "notice.pdf", "page"],
        cwd=tmp_path,
        check=True,
        timeout=60,
    )
    [page] = tmp_path.glob("page*.png")
    codes = zxingcpp.read_barcodes(Image.open(page))
    assert [c.format for c in codes] == [zxingcpp.BarcodeFormat.QRCode], codes
    return str(codes[0].text)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_qr_code_verifies_and_a_tampered_one_does_not(
    platform: Platform, tmp_path: Path
) -> None:
    case, pdf = _certificate(platform)
    link = _link(pdf)
    assert link.startswith(f"{platform.base_url}/verify?t=")
    assert _printed_qr(pdf, tmp_path) == link
    token = parse_qs(urlsplit(link).query)["t"][0]

    page = httpx.get(link, timeout=30)
    assert page.status_code == 200 and _verdict(page) == "genuine"
    assert str(case["reference"]) in page.text and "Meldebescheinigung" in page.text
    # The page proves the document without showing whom it is about.
    assert "Mustermann" not in page.text and "Heidestraße" not in page.text

    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["out"] = "rejected"
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in (forged, flipped, "kein-gueltiger-code", token + "x"):
        answer = httpx.get(f"{platform.base_url}/verify", params={"t": bad}, timeout=30)
        assert answer.status_code == 200 and _verdict(answer) == "invalid", bad


def test_anyone_can_check_the_signature_with_the_published_keys(platform: Platform) -> None:
    _case, pdf = _certificate(platform)
    token = parse_qs(urlsplit(_link(pdf)).query)["t"][0]
    jwks = httpx.get(f"{platform.base_url}/.well-known/knopfdruck-notice-keys.json", timeout=30)
    assert jwks.status_code == 200
    keys = {key["kid"]: key for key in jwks.json()["keys"]}
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]
    assert keys[kid]["alg"] == "ES256" and "d" not in keys[kid]  # public half only
    checked = jwcrypto_jws.JWS()
    checked.deserialize(token)
    checked.verify(jwcrypto_jwk.JWK(**keys[kid]), alg="ES256")
    assert json.loads(checked.payload)["svc"] == "meldebescheinigung"


def test_the_pdf_file_or_its_hash_verifies_and_a_changed_file_does_not(
    platform: Platform,
) -> None:
    case, pdf = _certificate(platform)
    url = f"{platform.base_url}/verify"
    original = httpx.post(url, files={"file": ("m.pdf", pdf, "application/pdf")}, timeout=30)
    assert original.status_code == 200 and _verdict(original) == "genuine"
    assert str(case["reference"]) in original.text
    changed = pdf.replace(b"Mustermann", b"Musterfrau", 1) if b"Mustermann" in pdf else pdf + b"\n"
    assert _verdict(httpx.post(url, files={"file": ("m.pdf", changed)}, timeout=30)) == "unknown"
    not_pdf = httpx.post(url, files={"file": ("m.pdf", b"hello")}, timeout=30)
    assert _verdict(not_pdf) == "invalid"
    digest = case["documents"][0]["sha256"]  # type: ignore[index]
    assert _verdict(httpx.get(url, params={"t": digest}, timeout=30)) == "genuine"
    assert _verdict(httpx.get(url, params={"t": "0" * 64}, timeout=30)) == "unknown"
    empty = httpx.get(url, timeout=30)
    assert empty.status_code == 200 and "data-verdict" not in empty.text


def test_a_record_altered_after_issue_is_reported(platform: Platform) -> None:
    case, pdf = _certificate(platform)
    link = _link(pdf)
    with unit_of_work(engine(platform)) as session:
        row = session.exec(
            select(IssuedNotice).where(IssuedNotice.reference == case["reference"])
        ).one()
        content = {**row.content, "outcome": "rejected"}
        session.execute(
            update(IssuedNotice)
            .where(col(IssuedNotice.document_id) == row.document_id)
            .values(content=content)
        )
    assert _verdict(httpx.get(link, timeout=30)) == "altered"
    with Session(engine(platform)) as session:
        assert session.exec(select(IssuedNotice)).first() is not None


def test_verify_page_speaks_english_too(platform: Platform) -> None:
    _case, pdf = _certificate(platform)
    link = _link(pdf)
    with httpx.Client(timeout=30) as browser:
        browser.get(f"{platform.base_url}/lang/en?next={quote('/verify')}")
        page = browser.get(link)
    assert _verdict(page) == "genuine" and "Genuine and unaltered" in page.text
