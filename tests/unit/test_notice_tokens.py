"""The signed key data in a notice's QR code: what is signed, and what is refused."""

from __future__ import annotations

import base64
import io
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from jose import jws
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws
from PIL import Image

from backend.notices.claims import ClaimsError, NoticeClaims, content_sha256
from backend.notices.qr import QUIET_ZONE, qr_data_url, qr_png
from backend.notices.signing import (
    KEY_FILE,
    NoticeSigner,
    TokenRejected,
    load_or_create_key,
    verify_token,
)

CONTENT = {
    "reference": "KD-2026-ABCD-EF23",
    "outcome": "approved",
    "amounts": {"gebuehr": "36.00"},
    "reasons": [{"text": "Im Melderegister ist eine Wohnung gespeichert.", "ref": "§ 18 BMG"}],
}


def _claims(**changes: Any) -> NoticeClaims:
    values: dict[str, Any] = {
        "reference": "KD-2026-ABCD-EF23",
        "service": "meldebescheinigung",
        "kind": "certificate",
        "outcome": "approved",
        "issued_on": date(2026, 11, 22),
        "content_sha256": content_sha256(CONTENT),
    }
    values.update(changes)
    return NoticeClaims(**values)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def signer(tmp_path: Path) -> NoticeSigner:
    return NoticeSigner(tmp_path / KEY_FILE)


def _keys(signer: NoticeSigner) -> dict[str, dict[str, str]]:
    return {signer.kid: signer.public_jwk}


def test_content_digest_is_canonical_and_sensitive() -> None:
    reordered = dict(reversed(list(CONTENT.items())))
    assert content_sha256(reordered) == content_sha256(CONTENT)
    changed = {**CONTENT, "amounts": {"gebuehr": "360.00"}}
    assert content_sha256(changed) != content_sha256(CONTENT)


def test_claims_round_trip_and_stay_small() -> None:
    claims = _claims()
    payload = claims.to_payload()
    assert NoticeClaims.from_payload(payload) == claims
    assert set(payload) == {"v", "ref", "svc", "knd", "out", "day", "sha"}
    assert len(json.dumps(payload, separators=(",", ":"))) < 200


@pytest.mark.parametrize(
    "broken",
    [
        {"ref": "KD-2026-ABCD-EF2O"},  # O is not in the reference alphabet
        {"out": "maybe"},
        {"knd": "letter"},
        {"day": "22.11.2026"},
        {"sha": "short"},
        {"v": 2},
        {"extra": "x"},
        {"svc": "../etc"},
        {"ref": 7},
    ],
)
def test_claims_are_checked_strictly(broken: dict[str, Any]) -> None:
    payload = {**_claims().to_payload(), **broken}
    with pytest.raises(ClaimsError):
        NoticeClaims.from_payload(payload)


def test_a_signed_token_verifies(signer: NoticeSigner) -> None:
    token = signer.sign(_claims())
    assert verify_token(token, _keys(signer)) == _claims()
    header = jws.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == signer.kid


def test_an_independent_library_verifies_our_token(signer: NoticeSigner) -> None:
    token = signer.sign(_claims())
    key = jwcrypto_jwk.JWK(**signer.public_jwk)
    checked = jwcrypto_jws.JWS()
    checked.deserialize(token)
    checked.verify(key, alg="ES256")
    assert json.loads(checked.payload)["ref"] == "KD-2026-ABCD-EF23"


def test_a_changed_payload_is_rejected(signer: NoticeSigner) -> None:
    header, _payload, signature = signer.sign(_claims()).split(".")
    forged = _claims(outcome="rejected").to_payload()
    tampered = ".".join([header, _b64(json.dumps(forged).encode()), signature])
    with pytest.raises(TokenRejected, match="signature"):
        verify_token(tampered, _keys(signer))


def test_a_changed_signature_is_rejected(signer: NoticeSigner) -> None:
    token = signer.sign(_claims())
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(TokenRejected):
        verify_token(flipped, _keys(signer))


def test_another_key_is_not_ours(signer: NoticeSigner, tmp_path: Path) -> None:
    stranger = NoticeSigner(tmp_path / "other" / KEY_FILE)
    token = stranger.sign(_claims())
    with pytest.raises(TokenRejected, match="unknown key"):
        verify_token(token, _keys(signer))
    # Claiming our kid does not help either.
    header = _b64(json.dumps({"alg": "ES256", "kid": signer.kid}).encode())
    relabelled = ".".join([header, *token.split(".")[1:]])
    with pytest.raises(TokenRejected, match="signature"):
        verify_token(relabelled, _keys(signer))


def test_algorithm_confusion_is_refused(signer: NoticeSigner) -> None:
    payload = _b64(json.dumps(_claims().to_payload()).encode())
    none_header = _b64(json.dumps({"alg": "none", "kid": signer.kid}).encode())
    with pytest.raises(TokenRejected, match="algorithm"):
        verify_token(f"{none_header}.{payload}.", _keys(signer))
    # HS256 keyed with the public JWK's text: the classic confusion attack.
    hs = jws.sign(
        _claims().to_payload(),
        json.dumps(signer.public_jwk),
        headers={"kid": signer.kid},
        algorithm="HS256",
    )
    with pytest.raises(TokenRejected, match="algorithm"):
        verify_token(hs, _keys(signer))


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 5000, "...."])
def test_garbage_is_rejected_not_crashed(signer: NoticeSigner, garbage: str) -> None:
    with pytest.raises(TokenRejected):
        verify_token(garbage, _keys(signer))


def test_the_key_is_made_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / KEY_FILE
    first = load_or_create_key(path)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    second = load_or_create_key(path)
    assert first.private_numbers() == second.private_numbers()
    assert NoticeSigner(path).kid == NoticeSigner(path).kid


def test_qr_code_is_a_sharp_png_that_decodes_to_the_link() -> None:
    link = "http://127.0.0.1:8000/verify?t=" + "eyJhbGciOiJFUzI1NiJ9.abc.def" * 4
    image = Image.open(io.BytesIO(qr_png(link)))
    assert image.mode == "L" and image.width == image.height
    # One pixel per module: a QR symbol is 17 + 4 × version modules wide, plus the quiet zone.
    assert (image.width - 2 * QUIET_ZONE - 17) % 4 == 0
    assert set(image.tobytes()) == {0, 255}  # black and white, nothing in between
    border = [image.getpixel((x, y)) for x in range(image.width) for y in range(QUIET_ZONE)]
    assert set(border) == {255}
    # As printed: each module a square of pixels (the PDF says /Interpolate false).
    printed = image.resize((image.width * 4, image.height * 4), Image.Resampling.NEAREST)
    [code] = zxingcpp.read_barcodes(printed)
    assert code.text == link
    assert code.ec_level == "M"
    assert qr_data_url("x").startswith("data:image/png;base64,")
