"""Signing and checking the compact JWS in a notice's QR code (ES256, python-jose).

Each process that issues documents holds its own P-256 key in ``data_dir`` and publishes the
public half in the ``notice_keys`` table; /verify and the JWKS read the table. So any number
of workers on any number of machines sign, and their private keys never leave the machine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Mapping
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jws
from jose.exceptions import JOSEError
from sqlmodel import Session, col, select

from backend.notices.claims import ClaimsError, NoticeClaims
from backend.notices.models import NoticeKey
from backend.secret_files import create_once

ALGORITHM = "ES256"
KEY_FILE = "notice-signing-key.pem"
TOKEN_TYPE = "JOSE"
MAX_TOKEN_LENGTH = 2048
KID_LENGTH = 16


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public key as a JWK; its kid is cut from the RFC 7638 thumbprint, anyone can check it."""
    numbers = public_key.public_numbers()
    members = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("ascii")
    # The RFC 7638 thumbprint, shortened: every byte of the token enlarges the printed QR code.
    kid = _b64url(hashlib.sha256(canonical).digest())[:KID_LENGTH]
    return {**members, "kid": kid, "use": "sig", "alg": ALGORITHM}


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Read the key, or create it once; two processes starting together end up with one key."""

    def make() -> bytes:
        return ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    loaded = serialization.load_pem_private_key(create_once(path, make), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or loaded.curve.name != "secp256r1":
        raise ValueError(f"{path} is not a P-256 private key")
    return loaded


class NoticeSigner:
    """This process's notice key of one tenant: signs claims, knows its public JWK."""

    def __init__(self, key_file: Path, tenant: str | None = None) -> None:
        self._key_file = key_file
        self.tenant = tenant
        self._lock = threading.Lock()
        self._key: ec.EllipticCurvePrivateKey | None = None

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        with self._lock:
            if self._key is None:
                self._key = load_or_create_key(self._key_file)
            return self._key

    @cached_property
    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.private_key.public_key())

    @property
    def kid(self) -> str:
        return self.public_jwk["kid"]

    @cached_property
    def _jose_key(self) -> Any:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return jwk.construct(pem.decode("ascii"), ALGORITHM)

    def sign(self, claims: NoticeClaims) -> str:
        token: str = jws.sign(
            claims.to_payload(),
            self._jose_key,
            headers={"kid": self.kid, "typ": TOKEN_TYPE},
            algorithm=ALGORITHM,
        )
        return token


def key_file(data_dir: Path, tenant: str | None = None) -> Path:
    """Where a tenant's notice key lives: the home tenant keeps the platform's first key, so
    documents from before tenancy and after are signed alike (issue 13, item 5)."""
    name = KEY_FILE if tenant is None else f"notice-signing-key-{tenant}.pem"
    return data_dir.resolve() / name


@lru_cache(maxsize=256)
def signer_for(data_dir: Path, tenant: str | None = None) -> NoticeSigner:
    """One signer per tenant's key file and process, so the key is read once."""
    return NoticeSigner(key_file(data_dir, tenant), tenant)


def rotate_key(data_dir: Path, tenant: str | None = None) -> Path | None:
    """Set one tenant's key aside so the next process signing for it makes a new one.

    The old public key stays published (its row is not retired), so every document it signed
    still verifies; other tenants' keys are untouched. Returns where the old key went, or None
    when the tenant had none yet. Processes that already loaded the old key sign with it until
    they restart (docs/operations.md)."""
    current = key_file(data_dir, tenant)
    if not current.exists():
        return None
    kid = public_jwk(load_or_create_key(current).public_key())["kid"]
    retired = current.with_name(f"{current.stem}.{kid}.retired")
    current.rename(retired)
    signer_for.cache_clear()
    return retired


def publish_key(session: Session, signer: NoticeSigner) -> None:
    """Make this process's public key known to every verifier (idempotent)."""
    if session.get(NoticeKey, signer.kid) is None:
        session.add(
            NoticeKey(
                kid=signer.kid,
                alg=ALGORITHM,
                public_jwk=dict(signer.public_jwk),
                tenant=signer.tenant,
            )
        )
        session.flush()


def published_keys(session: Session) -> dict[str, dict[str, Any]]:
    """Public JWKs by kid that may still verify documents."""
    rows = session.exec(select(NoticeKey).where(col(NoticeKey.retired_at).is_(None))).all()
    return {row.kid: dict(row.public_jwk) for row in rows}


class TokenRejected(ValueError):
    """The token is not a genuine, well-formed notice token; the reason is for logs, not users."""


def verify_token(token: str, keys: Mapping[str, Mapping[str, Any]]) -> NoticeClaims:
    """The claims of a genuine token; raises TokenRejected for anything else."""
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise TokenRejected("not a compact JWS")
    try:
        header = jws.get_unverified_header(token)
    except JOSEError as exc:
        raise TokenRejected("unreadable header") from exc
    # The algorithm is fixed before any key is touched: no 'none', no HS256 with a public key.
    if header.get("alg") != ALGORITHM:
        raise TokenRejected("algorithm not allowed")
    if "crit" in header:
        raise TokenRejected("unsupported critical header")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise TokenRejected("unknown key")
    try:
        payload = jws.verify(token, dict(keys[kid]), algorithms=[ALGORITHM])
    except JOSEError as exc:
        raise TokenRejected("signature does not verify") from exc
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenRejected("payload is not JSON") from exc
    if not isinstance(data, dict):
        raise TokenRejected("payload is not an object")
    try:
        return NoticeClaims.from_payload(data)
    except ClaimsError as exc:
        raise TokenRejected(str(exc)) from exc
