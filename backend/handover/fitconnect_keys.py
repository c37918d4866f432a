"""The checks FIT-Connect requires of a destination's encryption key before anything is sent.

A destination publishes its public key as a JWK (Submission API 1.1.3, schema ``JWK``): RSA,
``alg`` RSA-OAEP-256, ``key_ops`` exactly ``["wrapKey"]``, exponent AQAB, a modulus of at least
4096 bits, a ``kid``, and an ``x5c`` certificate chain. The chain must be intact (each
certificate signed by the next, all currently valid, issuers are CAs), its first certificate
must hold exactly this key, and its last must be, or be issued by, a trust anchor the operator
configured (the sandbox's own CA only when deliveries go to the sandbox in this process).
Revocation (OCSP/CRL) is not checked; docs/standards/fit-connect.md says so.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_ALGORITHM = "RSA-OAEP-256"
MIN_RSA_BITS = 4096
EXPONENT = "AQAB"
MAX_KEYS = 20
MAX_CHAIN = 5


class UnusableKey(ValueError):
    """The destination publishes no key we may encrypt to; nothing is sent."""


@dataclass(frozen=True)
class Refusal:
    """Why one published key was not used: its kid (or position) and the failed check."""

    key: str
    reason: str


def load_anchors(path: Path) -> list[x509.Certificate]:
    """The trusted root certificates (PEM, one or more) destination chains must end in."""
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise UnusableKey(f"trust anchors in {path.name} cannot be read: {exc}") from None


def _b64url_int(text: Any) -> int:
    if not isinstance(text, str):
        raise ValueError("not a string")
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def key_problem(
    key: Any,
    anchors: list[x509.Certificate],
    now: datetime | None = None,
    *,
    signing: bool = False,
) -> str | None:
    """None when the key passes every check the specification requires, else the first failure.

    An encryption key wraps (RSA-OAEP-256, ``wrapKey``); a signing key verifies (PS512,
    ``verify``); everything else is checked the same way.
    """
    alg, operation, use = (
        ("PS512", "verify", "sig") if signing else (KEY_ALGORITHM, "wrapKey", "enc")
    )
    if not isinstance(key, dict):
        return "not a JSON object"
    if key.get("kty") != "RSA":
        return "kty is not RSA"
    if key.get("alg") != alg:
        return f"alg is not {alg}"
    if key.get("key_ops") != [operation]:
        return f'key_ops is not ["{operation}"]'
    if key.get("use", use) != use:
        return f"use is not {use}"
    kid = key.get("kid")
    if not isinstance(kid, str) or not 8 <= len(kid) <= 64:
        return "kid missing or not 8 to 64 characters"
    if key.get("e") != EXPONENT:
        return f"exponent is not {EXPONENT}"
    try:
        modulus = _b64url_int(key.get("n"))
    except (ValueError, binascii.Error):
        return "modulus n is not base64url"
    if modulus.bit_length() < MIN_RSA_BITS:
        return f"modulus shorter than {MIN_RSA_BITS} bits"
    return _chain_problem(key.get("x5c"), modulus, anchors, now or datetime.now(UTC))


def _chain_problem(
    x5c: Any, modulus: int, anchors: list[x509.Certificate], now: datetime
) -> str | None:
    if not isinstance(x5c, list) or not x5c or len(x5c) > MAX_CHAIN:
        return f"x5c missing or not 1 to {MAX_CHAIN} certificates"
    try:
        chain = [x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in x5c]
    except (ValueError, TypeError, binascii.Error):
        return "x5c holds something that is not a base64 DER certificate"
    public = chain[0].public_key()
    if not isinstance(public, rsa.RSAPublicKey) or public.public_numbers().n != modulus:
        return "the certificate in x5c does not hold this key"
    for cert in chain:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return "a certificate in x5c is not valid now"
    for child, parent in pairwise(chain):
        if not _is_ca(parent) or not _issued_by(child, parent):
            return "the x5c chain is broken"
    if not anchors:
        return "no trust anchor configured for destination certificates"
    last = chain[-1]
    if not any(last == a or (_is_ca(a) and _issued_by(last, a)) for a in anchors):
        return "the x5c chain does not end in a trusted certificate"
    return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def encryption_key(
    jwks: Any, anchors: list[x509.Certificate], now: datetime | None = None
) -> dict[str, Any]:
    """The first published key that passes every check; refuse all if none does."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise UnusableKey("the destination's JWKS has no 'keys' list")
    refusals: list[Refusal] = []
    for position, key in enumerate(keys[:MAX_KEYS]):
        problem = key_problem(key, anchors, now)
        if problem is None:
            return dict(key)
        kid = key.get("kid") if isinstance(key, dict) else None
        refusals.append(Refusal(str(kid)[:64] if kid else f"#{position}", problem))
    detail = "; ".join(f"{r.key}: {r.reason}" for r in refusals[:3]) or "no keys"
    raise UnusableKey(f"the destination publishes no usable encryption key ({detail})"[:500])
