"""Signing keys, JWKS and token minting of the sandbox IdP, apart from its login routes.

Signing keys are persisted as PEM files, so issued tokens survive a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt

from sandbox.personas import Persona

KEY_FILE_NAME = "idp-signing-key.pem"
KEY_FILE_PATTERN = "idp-signing-key*.pem"
ACCESS_TOKEN_TYPE = "at+jwt"
"""RFC 9068 § 2.1: access tokens say what they are, so an ID token cannot pass for one."""
TOKEN_LIFETIME_S = 3600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """One RSA key of the IdP: the private half signs, the public JWK goes into the JWKS."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def from_private_key(cls, private_key: rsa.RSAPrivateKey) -> SigningKey:
        return cls(kid=rfc7638_thumbprint(private_key.public_key()), private_key=private_key)

    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
        }

    @cached_property
    def _jose_key(self) -> Any:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return jwk.construct(pem.decode("ascii"), "RS256")

    def sign(self, claims: Mapping[str, Any], *, typ: str = "JWT") -> str:
        token: str = jwt.encode(
            dict(claims),
            self._jose_key,
            algorithm="RS256",
            headers={"kid": self.kid, "typ": typ},
        )
        return token


def rfc7638_thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """The kid: a stable name for a key that any party can recompute from the JWK alone."""
    numbers = public_key.public_numbers()
    members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


class SigningKeyring:
    """The IdP's keys as PEM files in key_dir, so tokens stay verifiable across restarts."""

    # Every idp-signing-key*.pem is published, ordered by modification time, and the newest
    # signs: a rotation only has to add a newer file. The first key is made on first use.

    def __init__(self, key_dir: Path) -> None:
        self._key_dir = key_dir
        self._keys: list[SigningKey] | None = None
        self._lock = threading.Lock()

    @property
    def keys(self) -> list[SigningKey]:
        with self._lock:
            if self._keys is None:
                self._keys = self._load_or_create()
            return list(self._keys)

    @property
    def signing_key(self) -> SigningKey:
        return self.keys[-1]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.public_jwk() for key in self.keys]}

    def _load_or_create(self) -> list[SigningKey]:
        self._key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        paths = sorted(
            self._key_dir.glob(KEY_FILE_PATTERN), key=lambda p: (p.stat().st_mtime_ns, p.name)
        )
        if not paths:
            paths = [self._create(self._key_dir / KEY_FILE_NAME)]
        return [SigningKey.from_private_key(_read_private_key(path)) for path in paths]

    @staticmethod
    def _create(path: Path) -> Path:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".idp-key-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(pem)
            # link() fails if another process created the key first; then that key wins.
            os.link(tmp_name, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp_name)
        return path


def _read_private_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise RuntimeError(f"cannot read the sandbox IdP signing key {path}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise RuntimeError(f"the sandbox IdP signing key {path} is not an RSA key")
    return key


def pkce_matches(code_verifier: str, code_challenge: str) -> bool:
    """RFC 7636 § 4.6: the token request proves it comes from whoever started the login."""
    computed = _b64url(hashlib.sha256(code_verifier.encode("ascii")).digest())
    return hmac.compare_digest(computed, code_challenge)


def persona_claims(persona: Persona) -> dict[str, Any]:
    """The identity claims of a persona, the same in access and ID tokens."""
    claims: dict[str, Any] = {
        "sub": persona.sub,
        "name": persona.name,
        "given_name": persona.given_name,
        "family_name": persona.family_name,
        "trust_level": persona.trust_level,
    }
    if persona.is_clerk:
        claims["department"] = persona.department
        claims["roles"] = list(persona.roles)
        if persona.tenant is not None:
            claims["tenant"] = persona.tenant
    else:
        if persona.idnr is not None:
            claims["idnr"] = persona.idnr
        if persona.birthdate is not None:
            claims["birthdate"] = persona.birthdate.isoformat()
    return claims


class TokenMinter:
    """Signs access and ID tokens for personas with the keyring's newest key."""

    def __init__(self, issuer: str, keyring: SigningKeyring, access_audience: str) -> None:
        self._issuer = issuer
        self._keyring = keyring
        self._access_audience = access_audience

    def _claims(self, persona: Persona, audience: str) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self._issuer,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME_S,
            "jti": str(uuid.uuid4()),
            **persona_claims(persona),
        }

    def access_token(self, persona: Persona, client_id: str) -> str:
        claims = self._claims(persona, self._access_audience)
        claims["client_id"] = client_id  # RFC 9068 § 2.2: the client the token was issued to
        return self._keyring.signing_key.sign(claims, typ=ACCESS_TOKEN_TYPE)

    def id_token(self, persona: Persona, client_id: str, nonce: str) -> str:
        claims = self._claims(persona, client_id)
        claims["nonce"] = nonce
        claims["auth_time"] = claims["iat"]
        claims["azp"] = client_id
        return self._keyring.signing_key.sign(claims)
