"""Sandbox FIT-Connect destination: a department's Fachverfahren that receives encrypted cases.

Like the real service it serves only authenticated clients: a sender gets a bearer token at
``/token`` with the OAuth2 client credentials grant, and sees only its own submissions. It
publishes an RSA encryption key per destination (JWKS), stores submissions idempotently by
submission id, decrypts them with its private key, checks every SHA-512 in the metadata, and
reports ``accepted`` or ``rejected`` to the platform's callback URL, signed with HMAC-SHA512
over ``<timestamp>.<body>`` with the sandbox's own callback secret (never the platform's).
Private keys are PEM files in the key directory, so a test can decrypt what the platform sent
with an independent JOSE library.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from jose import jwe
from jose.exceptions import JOSEError
from pydantic import BaseModel, ConfigDict, Field

KEY_ALGORITHM = "RSA-OAEP-256"
TOKEN_LIFETIME_S = 1800
# FIT-Connect requires 4096-bit keys for its destinations.
KEY_BITS = 4096
DESTINATIONS: dict[str, str] = {
    "fv-tiefbauamt-koeln": "Sondernutzungen, Amt für Straßen und Verkehr Köln (Sandbox)",
    "fv-ordnungsamt-koeln": "Gewerbe und Veranstaltungen, Ordnungsamt Köln (Sandbox)",
    "fv-bauaufsicht-koeln": "Bauanträge, Bauaufsicht Köln (Sandbox)",
}


CA_BITS = 3072
CA_FILE = "fitconnect-ca.pem"
"""The sandbox's root certificate: the trust anchor a platform delivering here is given."""
CA_KEY_FILE = "fitconnect-ca-key.pem"

ROUTES: dict[tuple[str, str], str] = {
    ("99000000000800", "053150000000"): "fv-ordnungsamt-koeln",
    ("99034004000000", "053150000000"): "fv-tiefbauamt-koeln",
}
"""The sandbox's Routing API: (LeiKa key, ARS) to the responsible destination, as an
authority would have registered its services and regions (Köln has ARS 053150000000)."""
LEIKA_KEY = r"^99\d{12}$"
REGION_KEY = r"^\d{12}$"


def key_file(key_dir: Path, destination: str) -> Path:
    """Where the destination's private key lives (tests read it to decrypt independently)."""
    return key_dir / f"fitconnect-{destination}.pem"


def certificate_file(key_dir: Path, destination: str) -> Path:
    """The destination key's certificate, issued by the sandbox CA."""
    return key_dir / f"fitconnect-{destination}.crt"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Knopfdruck Sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


class _Authority:
    """The sandbox's own root CA, standing in for the Verwaltungs-PKI, made once per key_dir."""

    def __init__(self, key_dir: Path) -> None:
        key_path, cert_path = key_dir / CA_KEY_FILE, key_dir / CA_FILE
        if not key_path.exists() or not cert_path.exists():
            key_dir.mkdir(parents=True, exist_ok=True)
            private = rsa.generate_private_key(public_exponent=65537, key_size=CA_BITS)
            now = datetime.now(UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(_name("Knopfdruck Sandbox FIT-Connect CA"))
                .issuer_name(_name("Knopfdruck Sandbox FIT-Connect CA"))
                .public_key(private.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=False,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .sign(private, hashes.SHA256())
            )
            _write_private(
                key_path,
                private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{key_path} does not hold an RSA key")
        self.private = loaded
        self.certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())

    def issue(
        self, destination: str, public: rsa.RSAPublicKey, *, signing: bool = False
    ) -> x509.Certificate:
        """A certificate for an encryption key (key encipherment) or a signing key."""
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(_name(destination))
            .issuer_name(self.certificate.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=730))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=signing,
                    content_commitment=False,
                    key_encipherment=not signing,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.private, hashes.SHA256())
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class _DestinationKey:
    kid: str
    private_pem: bytes
    public_jwk: dict[str, Any]


class _Keys:
    """One persisted RSA key per destination, made on first use."""

    def __init__(self, key_dir: Path) -> None:
        self.key_dir = key_dir
        self._keys: dict[str, _DestinationKey] = {}
        self._lock = threading.Lock()
        self._authority: _Authority | None = None
        self._signer: _EventSigner | None = None

    def signer(self) -> _EventSigner:
        """The event log's signing key, certified by the same CA, made on first use."""
        with self._lock:
            if self._authority is None:
                self._authority = _Authority(self.key_dir)
            if self._signer is None:
                self._signer = _EventSigner(self.key_dir, self._authority)
            return self._signer

    def get(self, destination: str) -> _DestinationKey:
        with self._lock:
            if self._authority is None:
                self._authority = _Authority(self.key_dir)
            if destination not in self._keys:
                self._keys[destination] = self._load_or_create(destination)
            return self._keys[destination]

    def _load_or_create(self, destination: str) -> _DestinationKey:
        path = key_file(self.key_dir, destination)
        if not path.exists():
            self.key_dir.mkdir(parents=True, exist_ok=True)
            private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_private(path, pem)
        pem = path.read_bytes()
        loaded = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA key")
        numbers = loaded.public_key().public_numbers()
        n, e = _uint(numbers.n), _uint(numbers.e)
        # RFC 7638 thumbprint as key id, like the sandbox IdP.
        canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"))
        kid = _b64url(hashlib.sha256(canonical.encode()).digest())
        assert self._authority is not None
        cert_path = certificate_file(self.key_dir, destination)
        certificate = (
            x509.load_pem_x509_certificate(cert_path.read_bytes()) if cert_path.exists() else None
        )
        if certificate is None or certificate.public_key() != loaded.public_key():
            certificate = self._authority.issue(destination, loaded.public_key())
            cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        chain = [certificate, self._authority.certificate]
        jwk = {
            "kty": "RSA",
            "kid": kid,
            "use": "enc",
            "alg": KEY_ALGORITHM,
            "key_ops": ["wrapKey"],
            "n": n,
            "e": e,
            "x5c": [
                base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain
            ],
        }
        return _DestinationKey(kid=kid, private_pem=pem, public_jwk=jwk)


SIGNING_KEY_FILE = "fitconnect-signing.pem"
SET_TYPE = "secevent+jwt"
SET_SCHEMA = "https://schema.fitko.de/fit-connect/set-payload/1.0.0/set-payload.schema.json"
EVENTS = "https://schema.fitko.de/fit-connect/events/"


def _pem_key(path: Path, bits: int) -> rsa.RSAPrivateKey:
    """An RSA key persisted as PKCS#8 PEM (mode 0600), made on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        _write_private(
            path,
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA key")
    return loaded


class _EventSigner:
    """The Zustelldienst's PS512 key that signs the event log, published as JWKS."""

    def __init__(self, key_dir: Path, authority: _Authority) -> None:
        self.private = _pem_key(key_dir / SIGNING_KEY_FILE, KEY_BITS)
        numbers = self.private.public_key().public_numbers()
        n, e = _uint(numbers.n), _uint(numbers.e)
        canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"))
        self.kid = _b64url(hashlib.sha256(canonical.encode()).digest())
        cert = authority.issue(
            "FIT-Connect Zustelldienst (Sandbox)", self.private.public_key(), signing=True
        )
        self.jwk = {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "PS512",
            "key_ops": ["verify"],
            "n": n,
            "e": e,
            "x5c": [
                base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                for c in (cert, authority.certificate)
            ],
        }

    def token(self, claims: dict[str, Any]) -> str:
        """A Security Event Token: compact JWS, PS512 (RSASSA-PSS, SHA-512, 64-byte salt)."""
        header = {"typ": SET_TYPE, "alg": "PS512", "kid": self.kid}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self.private.sign(
            signing_input.encode(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64),
            hashes.SHA512(),
        )
        return signing_input + "." + _b64url(signature)


def _uuid(hex_id: str) -> str:
    return str(uuid.UUID(hex=hex_id))


def event_claims(
    issuer: str, submission_id: str, case_id: str, event: str, detail: dict[str, Any]
) -> dict[str, Any]:
    """The claims of one event of a submission in its case's event log."""
    return {
        "$schema": SET_SCHEMA,
        "jti": str(uuid.uuid4()),
        "iss": issuer,
        "iat": int(time.time()),
        "sub": f"submission:{_uuid(submission_id)}",
        "txn": f"case:{case_id}",
        "events": {EVENTS + event: detail},
    }


class Dienst(BaseModel):
    """The public service the submission belongs to (LeiKa URN and name)."""

    identifier: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=300)


class Einreichung(BaseModel):
    """A submission as it arrives: routing data in clear, everything else encrypted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    submission_id: str = Field(alias="submissionId", pattern=r"^[0-9a-f]{32}$")
    destination_id: str = Field(alias="destinationId", min_length=1, max_length=64)
    service_type: Dienst = Field(alias="serviceType")
    encrypted_metadata: str = Field(alias="encryptedMetadata", min_length=1)
    encrypted_data: str = Field(alias="encryptedData", min_length=1)
    encrypted_attachments: dict[str, str] = Field(alias="encryptedAttachments")
    case_id: str | None = Field(
        None,
        alias="caseId",
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    )
    """The FIT-Connect case (Vorgang) whose event log records this submission."""


@dataclass
class _Stored:
    owner: str
    body: dict[str, Any]
    received_at: datetime
    callbacks: list[dict[str, Any]] = field(default_factory=list)


def _fehler(status_code: int, code: str, **details: Any) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"fehler": code, **details})


def check_submission(submission: Einreichung, private_pem: bytes) -> str | None:
    """Decrypt everything and compare every hash; None when intact, else why not."""
    try:
        metadata = json.loads(jwe.decrypt(submission.encrypted_metadata, private_pem))
        data = jwe.decrypt(submission.encrypted_data, private_pem)
    except (JOSEError, ValueError):
        return "metadata or data cannot be decrypted"
    structure = metadata.get("contentStructure", {})
    expected = structure.get("data", {}).get("hash", {})
    if (
        expected.get("type") != "sha512"
        or expected.get("content") != hashlib.sha512(data).hexdigest()
    ):
        return "hash of the data does not match the metadata"
    announced = {a.get("attachmentId"): a for a in structure.get("attachments", [])}
    if set(announced) != set(submission.encrypted_attachments):
        return "attachments do not match the metadata"
    for attachment_id, token in submission.encrypted_attachments.items():
        try:
            content = jwe.decrypt(token, private_pem)
        except (JOSEError, ValueError):
            return f"attachment {attachment_id} cannot be decrypted"
        digest = announced[attachment_id].get("hash", {}).get("content")
        if digest != hashlib.sha512(content).hexdigest():
            return f"hash of attachment {attachment_id} does not match the metadata"
    return None


def signed_callback(
    secret: str, payload: dict[str, Any], now: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a callback: HMAC-SHA512 over ``<timestamp>.<body>``, hex."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time() if now is None else now))
    signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha512)
    return body, {
        "callback-authentication": signature.hexdigest(),
        "callback-timestamp": timestamp,
        "Content-Type": "application/json",
    }


class _Tokens:
    """Opaque bearer tokens issued to clients, each valid for TOKEN_LIFETIME_S."""

    def __init__(self) -> None:
        self._issued: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._issued = {t: v for t, v in self._issued.items() if v[1] > now}
            self._issued[token] = (client_id, now + TOKEN_LIFETIME_S)
        return token

    def client(self, token: str) -> str | None:
        with self._lock:
            found = self._issued.get(token)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]


def _client_from_form(form: Any, request: Request) -> tuple[str, str]:
    """Client id and secret from HTTP Basic or the form, as RFC 6749 allows."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return "", ""
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret
    return str(form.get("client_id") or ""), str(form.get("client_secret") or "")


def build_fitconnect_router(
    key_dir: Path, callback_url: str, *, clients: dict[str, str], callback_secret: str
) -> APIRouter:
    """A fresh destination service with its own submissions; keys persist in key_dir.

    ``clients`` maps each accepted client id to its secret; ``callback_secret`` is the sandbox's
    own, which the platform trusts only when it is configured to.
    """
    if not clients or not all(clients.values()) or not callback_secret:
        raise ValueError("the sandbox FIT-Connect needs client credentials and a callback secret")
    keys = _Keys(key_dir)
    tokens = _Tokens()
    stored: dict[str, _Stored] = {}
    event_log: dict[str, list[tuple[str, str]]] = {}
    """caseId to (owner, SET) in the order written."""
    router = APIRouter(tags=["FIT-Connect (Sandbox)"])

    async def log_event(
        owner: str, submission: Einreichung, event: str, detail: dict[str, Any]
    ) -> None:
        """Append a signed event to the submission's case log, if it names a case."""
        if submission.case_id is None:
            return
        signer = await asyncio.to_thread(keys.signer)
        claims = event_claims(
            submission.destination_id, submission.submission_id, submission.case_id, event, detail
        )
        event_log.setdefault(submission.case_id, []).append((owner, signer.token(claims)))

    def known(destination: str) -> JSONResponse | None:
        if destination not in DESTINATIONS:
            return _fehler(404, "zustellpunkt_unbekannt")
        return None

    @router.post("/token")
    async def token(request: Request) -> Any:
        """OAuth2 client credentials grant (RFC 6749, 4.4), like FIT-Connect's token service."""
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        client_id, client_secret = _client_from_form(form, request)
        expected = clients.get(client_id)
        if expected is None or not hmac.compare_digest(expected.encode(), client_secret.encode()):
            return JSONResponse(
                {"error": "invalid_client"},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="sandbox-fitconnect"'},
            )
        return JSONResponse(
            {
                "access_token": tokens.issue(client_id),
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME_S,
            },
            headers={"Cache-Control": "no-store"},
        )

    def caller(request: Request) -> str:
        """The client behind the bearer token; 401 before anything is looked up or listed."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        client = tokens.client(value.strip()) if scheme.lower() == "bearer" else None
        if client is None:
            raise HTTPException(
                401,
                "nicht_angemeldet",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return client

    # A local dependency: string annotations (PEP 563) could not name it, a default can.
    authenticated = Depends(caller)

    @router.get("/.well-known/jwks.json")
    async def signing_keys() -> Any:
        """The keys the event log is signed with (public, as the real Zustelldienst's)."""
        signer = await asyncio.to_thread(keys.signer)
        return {"keys": [signer.jwk]}

    @router.get("/v1/cases/{case_id}/events")
    async def case_events(case_id: str, client: str = authenticated) -> Any:
        """A case's event log as Security Event Tokens; only the sender's own, else 404."""
        own = [token for owner, token in event_log.get(case_id, []) if owner == client]
        if not own:
            return _fehler(404, "vorgang_unbekannt")
        return {"eventLog": own}

    @router.get("/v1/routes")
    async def routes(
        request: Request,
        leika_key: str | None = Query(None, alias="leikaKey", max_length=14),
        ars: str | None = Query(None, max_length=12),
    ) -> Any:
        """Routing API: the destinations for a service (LeiKa) in a region (ARS); public."""
        if leika_key is None or not re.match(LEIKA_KEY, leika_key):
            return _fehler(400, "leikaKey_ungueltig")
        if ars is None or not re.match(REGION_KEY, ars):
            return _fehler(400, "ars_ungueltig")
        found = ROUTES.get((leika_key, ars))
        submission_url = str(request.url).split("/v1/routes", 1)[0]
        routes = []
        if found is not None:
            key = await asyncio.to_thread(keys.get, found)
            routes.append(
                {
                    "destinationId": found,
                    "destinationName": DESTINATIONS[found],
                    "destinationParameters": {
                        "encryptionKid": key.kid,
                        "metadataVersions": ["1.0.0"],
                        "publicKeys": {"keys": [key.public_jwk]},
                        "status": "active",
                        "submissionUrl": submission_url,
                    },
                }
            )
        return {"count": len(routes), "offset": 0, "totalCount": len(routes), "routes": routes}

    @router.get("/destinations/{destination}")
    async def destination_info(destination: str, _client: str = authenticated) -> Any:
        """The destination's name and its current encryption key id."""
        if (missing := known(destination)) is not None:
            return missing
        key = await asyncio.to_thread(keys.get, destination)
        return {
            "destinationId": destination,
            "name": DESTINATIONS[destination],
            "status": "active",
            "encryptionKid": key.kid,
        }

    @router.get("/destinations/{destination}/keys")
    async def jwks(destination: str, _client: str = authenticated) -> Any:
        """The public key senders encrypt to (RSA-OAEP-256)."""
        if (missing := known(destination)) is not None:
            return missing
        key = await asyncio.to_thread(keys.get, destination)
        return {"keys": [key.public_jwk]}

    async def report(destination: str, submission: Einreichung) -> None:
        """Check the submission as a Fachverfahren would, then tell the platform."""
        key = await asyncio.to_thread(keys.get, destination)
        problem = await asyncio.to_thread(check_submission, submission, key.private_pem)
        owner = stored[submission.submission_id].owner
        if problem:
            detail = {"problems": [{"type": EVENTS + "problems/submission", "title": problem}]}
            await log_event(owner, submission, "reject-submission", detail)
        else:
            await log_event(owner, submission, "accept-submission", {})
        payload = {
            "eventId": uuid.uuid4().hex,
            "submissionId": submission.submission_id,
            "status": "rejected" if problem else "accepted",
            "reason": problem,
        }
        record = stored[submission.submission_id]
        async with httpx.AsyncClient(timeout=10) as client:
            for attempt in range(3):
                body, headers = signed_callback(callback_secret, payload)
                try:
                    response = await client.post(callback_url, content=body, headers=headers)
                    record.callbacks.append({**payload, "http_status": response.status_code})
                    if response.status_code < 500:
                        return
                except httpx.HTTPError as exc:
                    record.callbacks.append({**payload, "error": type(exc).__name__})
                await asyncio.sleep(0.2 * 2**attempt)

    @router.post("/destinations/{destination}/submissions", status_code=201)
    async def submit(
        destination: str,
        submission: Einreichung,
        background: BackgroundTasks,
        client: str = authenticated,
    ) -> Any:
        """Store an encrypted submission once; a repeated one is acknowledged, not stored.

        A submission id another client used is refused like a changed submission: nobody can
        make the destination answer about someone else's submission.
        """
        if (missing := known(destination)) is not None:
            return missing
        if submission.destination_id != destination:
            return _fehler(422, "zustellpunkt_passt_nicht")
        body = submission.model_dump(by_alias=True)
        existing = stored.get(submission.submission_id)
        if existing is not None:
            if existing.owner != client or existing.body != body:
                return _fehler(409, "einreichung_abweichend")
            return JSONResponse(
                {"submissionId": submission.submission_id, "status": "submitted", "duplicate": True}
            )
        stored[submission.submission_id] = _Stored(
            owner=client, body=body, received_at=datetime.now(UTC)
        )
        await log_event(client, submission, "submit-submission", {})
        background.add_task(report, destination, submission)
        return {"submissionId": submission.submission_id, "status": "submitted", "duplicate": False}

    @router.get("/destinations/{destination}/submissions", include_in_schema=False)
    async def submissions(destination: str, client: str = authenticated) -> Any:
        """Lets a sender count what arrived of its own submissions, never anyone else's."""
        return {
            "submissions": [
                sid
                for sid, s in stored.items()
                if s.owner == client and s.body["destinationId"] == destination
            ]
        }

    @router.get("/destinations/{destination}/submissions/{submission_id}", include_in_schema=False)
    async def submission(destination: str, submission_id: str, client: str = authenticated) -> Any:
        """Lets a sender fetch its ciphertext as it arrived, and the callbacks sent about it."""
        found = stored.get(submission_id)
        if found is None or found.owner != client or found.body["destinationId"] != destination:
            return _fehler(404, "einreichung_unbekannt")
        return {
            "submission": found.body,
            "receivedAt": found.received_at.isoformat(),
            "callbacks": found.callbacks,
        }

    return router
