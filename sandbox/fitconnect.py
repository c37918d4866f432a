"""Sandbox FIT-Connect destination: a department's Fachverfahren that receives encrypted cases.

Like the real service it serves only authenticated clients: a sender gets a bearer token at
``/token`` with the OAuth2 client credentials grant, and sees only its own submissions. It
publishes an RSA encryption key per destination (JWKS), stores submissions idempotently by
submission id, decrypts them with its private key, checks every SHA-512 in the metadata, and
tells the platform's callback URL that the case's event log has news (the API's ``new-events``
callback; the accept or reject itself is in the signed log), signed with HMAC-SHA512
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
import jsonschema
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import JSONResponse, Response
from jose import jwe
from jose.exceptions import JOSEError

KEY_ALGORITHM = "RSA-OAEP-256"
TOKEN_LIFETIME_S = 1800
# FIT-Connect requires 4096-bit keys for its destinations.
KEY_BITS = 4096
DESTINATIONS: dict[str, str] = {
    "d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51": (
        "Sondernutzungen, Amt für Straßen und Verkehr Köln (Sandbox)"
    ),
    "e2b8f4c6-1a7d-4f3e-8b5c-9d0a1c2e3f62": (
        "Gewerbe und Veranstaltungen, Ordnungsamt Köln (Sandbox)"
    ),
    "f9a3d7b1-5c2e-4d8f-a6b4-3e1c0d2f4a73": "Bauanträge, Bauaufsicht Köln (Sandbox)",
}


CA_BITS = 3072
CA_FILE = "fitconnect-ca.pem"
"""The sandbox's root certificate: the trust anchor a platform delivering here is given."""
CA_KEY_FILE = "fitconnect-ca-key.pem"

ROUTES: dict[tuple[str, str], str] = {
    ("99000000000800", "053150000000"): "e2b8f4c6-1a7d-4f3e-8b5c-9d0a1c2e3f62",
    ("99034004000000", "053150000000"): "d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51",
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


OPENAPI_FILE = Path(__file__).parent / "standards" / "fitconnect-submission-api.yaml"
"""The Submission API OpenAPI 1.1.3 (unchanged copy): every request body is checked against it."""
PROBLEMS = "https://schema.fitko.de/fit-connect/submission-api/problems/"
JOSE = "application/jose"


class _Schemas:
    """Validators for the OpenAPI's component schemas, loaded once."""

    def __init__(self) -> None:
        self._components: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def errors(self, component: str, instance: Any) -> list[str]:
        """Where the instance breaks the component schema: paths and rules, never values."""
        with self._lock:
            if self._components is None:
                self._components = yaml.safe_load(OPENAPI_FILE.read_text())["components"]
        schema = {"$ref": f"#/components/schemas/{component}", "components": self._components}
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        return sorted(
            f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.validator}"
            for e in validator.iter_errors(instance)
        )


@dataclass
class _Stored:
    owner: str
    destination_id: str
    case_id: str
    service_type: dict[str, Any]
    announced: list[str]
    received_at: datetime
    attachments: dict[str, str] = field(default_factory=dict)
    submit: dict[str, Any] | None = None
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    def reduced(self, submission_id: str) -> dict[str, Any]:
        """The submission as ``SubmissionReduced``: no ciphertext of metadata or data."""
        return {
            "destinationId": self.destination_id,
            "submissionId": submission_id,
            "caseId": self.case_id,
            "attachments": sorted(self.attachments),
            "serviceType": self.service_type,
        }


def _problem(status_code: int, kind: str, title: str, detail: str | None = None) -> JSONResponse:
    """An RFC 7807 problem, as the Submission API answers every error."""
    content: dict[str, Any] = {"type": PROBLEMS + kind, "title": title, "status": status_code}
    if detail:
        content["detail"] = detail
    return JSONResponse(
        status_code=status_code, content=content, media_type="application/problem+json"
    )


def _fehler(status_code: int, code: str, **details: Any) -> JSONResponse:
    return _problem(status_code, code, code.replace("_", " "), **details)


def check_submission(
    metadata_jwe: str, data_jwe: str | None, attachments: dict[str, str], private_pem: bytes
) -> str | None:
    """Decrypt everything and compare every hash; None when intact, else why not."""
    try:
        metadata = json.loads(jwe.decrypt(metadata_jwe, private_pem))
        data = jwe.decrypt(data_jwe, private_pem) if data_jwe else b""
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
    if set(announced) != set(attachments):
        return "attachments do not match the metadata"
    for attachment_id, token in attachments.items():
        try:
            content = jwe.decrypt(token, private_pem)
        except (JOSEError, ValueError):
            return f"attachment {attachment_id} cannot be decrypted"
        digest = announced[attachment_id].get("hash", {}).get("content")
        if digest != hashlib.sha512(content).hexdigest():
            return f"hash of attachment {attachment_id} does not match the metadata"
    return None


NEW_EVENTS_CALLBACK = "https://schema.fitko.de/fit-connect/submission-api/callbacks/new-events"
"""The type of the Submission API's callback to a sender: new events in a case's log."""


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
    key_dir: Path,
    callback_url: str,
    *,
    clients: dict[str, str],
    callback_secret: str,
    drop_callbacks: bool = False,
) -> APIRouter:
    """A fresh Zustellpunkt with its own submissions; keys persist in key_dir.

    ``clients`` maps each accepted client id to its secret; ``callback_secret`` is the sandbox's
    own, which the platform trusts only when it is configured to. ``drop_callbacks`` (tests)
    writes the answer to the event log only, as when a callback is lost on the way.
    """
    if not clients or not all(clients.values()) or not callback_secret:
        raise ValueError("the sandbox FIT-Connect needs client credentials and a callback secret")
    keys = _Keys(key_dir)
    tokens = _Tokens()
    schemas = _Schemas()
    stored: dict[str, _Stored] = {}
    event_log: dict[str, list[tuple[str, str]]] = {}
    """caseId to (owner, SET) in the order written."""
    journal: dict[str, list[dict[str, Any]]] = {}
    """Per client: every Submission API request and answer, so tests can check both."""
    router = APIRouter(tags=["FIT-Connect (Sandbox)"])

    async def log_event(
        owner: str, submission_id: str, record: _Stored, event: str, detail: dict[str, Any]
    ) -> None:
        """Append a signed event to the submission's case log."""
        signer = await asyncio.to_thread(keys.signer)
        claims = event_claims(
            record.destination_id, uuid.UUID(submission_id).hex, record.case_id, event, detail
        )
        event_log.setdefault(record.case_id, []).append((owner, signer.token(claims)))

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

    def caller(request: Request) -> str | None:
        """The client behind the bearer token; None when it is missing, unknown or expired."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return tokens.client(value.strip()) if scheme.lower() == "bearer" else None

    def unauthorized() -> JSONResponse:
        response = _problem(401, "unauthorized", "Unauthorized", "no valid bearer token")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response

    def noted(client: str, request: Request, body: Any, response: JSONResponse | Response) -> Any:
        """Keep the exchange in the client's journal, then answer."""
        answer: Any = None
        if response.body:
            text = bytes(response.body).decode()
            answer = json.loads(text) if "json" in (response.media_type or "") else text
        journal.setdefault(client, []).append(
            {
                "method": request.method,
                "path": request.url.path.split("/v1/", 1)[-1],
                "contentType": request.headers.get("content-type", ""),
                "body": body,
                "status": response.status_code,
                "responseType": response.headers.get("content-type", ""),
                "response": answer,
            }
        )
        return response

    async def json_body(request: Request, component: str) -> tuple[Any, JSONResponse | None]:
        """The request's JSON, checked against the OpenAPI component; else the problem."""
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return None, _problem(415, "unsupported-media-type", "Unsupported Media Type")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return None, _problem(400, "bad-request", "Bad Request", "body is not JSON")
        errors = schemas.errors(component, body)
        if errors:
            return body, _problem(
                422, "schema-violation", "Unprocessable Entity", "; ".join(errors)[:500]
            )
        return body, None

    @router.get("/.well-known/jwks.json")
    async def signing_keys() -> Any:
        """The keys the event log is signed with (public, as the real Zustelldienst's)."""
        signer = await asyncio.to_thread(keys.signer)
        return {"keys": [signer.jwk]}

    @router.get("/v1/cases/{case_id}/events")
    async def case_events(case_id: str, request: Request) -> Any:
        """A case's event log as Security Event Tokens; only the sender's own, else 404."""
        if (client := caller(request)) is None:
            return unauthorized()
        own = [token for owner, token in event_log.get(case_id, []) if owner == client]
        if not own:
            return _problem(404, "not-found", "Not Found", "case not found")
        return {"eventLog": own}

    @router.get("/v1/routes")
    async def routes(
        request: Request,
        leika_key: str | None = Query(None, alias="leikaKey", max_length=14),
        ars: str | None = Query(None, max_length=12),
    ) -> Any:
        """Routing API: the destinations for a service (LeiKa) in a region (ARS); public."""
        if leika_key is None or not re.match(LEIKA_KEY, leika_key):
            return _problem(400, "bad-request", "Bad Request", "leikaKey invalid")
        if ars is None or not re.match(REGION_KEY, ars):
            return _problem(400, "bad-request", "Bad Request", "ars invalid")
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

    @router.get("/v1/destinations/{destination}")
    async def destination_info(destination: str, request: Request) -> Any:
        """The destination as ``PublicDestination``: its services and current encryption key."""
        if caller(request) is None:
            return unauthorized()
        if destination not in DESTINATIONS:
            return _problem(404, "not-found", "Not Found", "destination not found")
        key = await asyncio.to_thread(keys.get, destination)
        services = [
            {"identifier": f"urn:de:fim:leika:leistung:{leika}", "regions": [f"DE{ars}"]}
            for (leika, ars), found in ROUTES.items()
            if found == destination
        ] or [{"identifier": "urn:de:fim:leika:leistung:99000000000000", "regions": ["DE05"]}]
        return {
            "destinationId": destination,
            "encryptionKid": key.kid,
            "metadataVersions": ["1.0.0"],
            "services": services,
            "status": "active",
        }

    @router.get("/v1/destinations/{destination}/keys/{key_id}")
    async def public_key(destination: str, key_id: str, request: Request) -> Any:
        """One public key of the destination (``JWK``), the one senders encrypt to."""
        if caller(request) is None:
            return unauthorized()
        if destination not in DESTINATIONS:
            return _problem(404, "not-found", "Not Found", "destination not found")
        key = await asyncio.to_thread(keys.get, destination)
        if key_id != key.kid:
            return _problem(404, "not-found", "Not Found", "key not found")
        return key.public_jwk

    async def report(submission_id: str) -> None:
        """Check the submission as a Fachverfahren would, log the answer, tell the platform."""
        record = stored[submission_id]
        assert record.submit is not None
        key = await asyncio.to_thread(keys.get, record.destination_id)
        problem = await asyncio.to_thread(
            check_submission,
            record.submit["encryptedMetadata"],
            record.submit.get("encryptedData"),
            record.attachments,
            key.private_pem,
        )
        if problem:
            detail = {"problems": [{"type": EVENTS + "problems/submission", "title": problem}]}
            await log_event(record.owner, submission_id, record, "reject-submission", detail)
        else:
            await log_event(record.owner, submission_id, record, "accept-submission", {})
        if drop_callbacks:
            return
        # The Submission API's callback (components/callbacks/NewEvents): it says only that the
        # case's event log has news; the answer itself is read from the signed log.
        payload = {
            "type": NEW_EVENTS_CALLBACK,
            "submissions": [
                {
                    "destinationId": record.destination_id,
                    "submissionId": submission_id,
                    "caseId": record.case_id,
                }
            ],
        }
        # Kept in the sandbox's own record only, for tests: which answer this callback announced.
        note = {"eventId": uuid.uuid4().hex, "status": "rejected" if problem else "accepted"}
        async with httpx.AsyncClient(timeout=10) as client:
            for attempt in range(3):
                body, headers = signed_callback(callback_secret, payload)
                try:
                    response = await client.post(callback_url, content=body, headers=headers)
                    record.callbacks.append(
                        {**payload, **note, "http_status": response.status_code}
                    )
                    if response.status_code < 500:
                        return
                except httpx.HTTPError as exc:
                    record.callbacks.append({**payload, **note, "error": type(exc).__name__})
                await asyncio.sleep(0.2 * 2**attempt)

    def own(client: str, submission_id: str) -> tuple[str, _Stored] | None:
        """The caller's own submission by id (any UUID spelling); nobody sees another's."""
        try:
            canonical = str(uuid.UUID(submission_id))
        except ValueError:
            return None
        found = stored.get(canonical)
        return None if found is None or found.owner != client else (canonical, found)

    @router.post("/v1/submissions")
    async def create_submission(request: Request) -> Any:
        """Announce a submission (``CreateSubmission``): 201 with the id the sender uses next."""
        if (client := caller(request)) is None:
            return unauthorized()
        body, problem = await json_body(request, "CreateSubmission")
        if problem is not None:
            return noted(client, request, body, problem)
        if body["destinationId"] not in DESTINATIONS:
            return noted(
                client, request, body, _problem(404, "not-found", "Not Found", "no destination")
            )
        submission_id = str(uuid.uuid4())
        case_id = body.get("caseId") or str(uuid.uuid4())
        stored[submission_id] = _Stored(
            owner=client,
            destination_id=body["destinationId"],
            case_id=str(uuid.UUID(case_id)),
            service_type=body["serviceType"],
            announced=[str(uuid.UUID(a)) for a in body["announcedAttachments"]],
            received_at=datetime.now(UTC),
        )
        created = {
            "destinationId": body["destinationId"],
            "submissionId": submission_id,
            "caseId": stored[submission_id].case_id,
        }
        return noted(client, request, body, JSONResponse(created, status_code=201))

    @router.put("/v1/submissions/{submission_id}/attachments/{attachment_id}")
    async def add_attachment(submission_id: str, attachment_id: str, request: Request) -> Any:
        """Upload one announced attachment as compact JWE; a repeated upload overwrites it."""
        if (client := caller(request)) is None:
            return unauthorized()
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        text = (await request.body()).decode("utf-8", "replace")
        if content_type != JOSE:
            answer = _problem(415, "unsupported-media-type", "Unsupported Media Type")
            return noted(client, request, text, answer)
        if schemas.errors("CreateAttachment", text) or text.count(".") != 4:
            answer = _problem(400, "bad-request", "Bad Request", "not a compact JWE")
            return noted(client, request, text, answer)
        found = own(client, submission_id)
        if found is None:
            answer = _problem(404, "not-found", "Not Found", "submission not found")
            return noted(client, request, text, answer)
        record = found[1]
        try:
            attachment = str(uuid.UUID(attachment_id))
        except ValueError:
            attachment = attachment_id
        if record.submit is not None or attachment not in record.announced:
            detail = "submission already sent" if record.submit else "attachment not announced"
            answer = _problem(422, "unprocessable", "Unprocessable Entity", detail)
            return noted(client, request, text, answer)
        record.attachments[attachment] = text
        return noted(client, request, text, Response(status_code=204))

    @router.put("/v1/submissions/{submission_id}")
    async def submit_submission(
        submission_id: str, request: Request, background: BackgroundTasks
    ) -> Any:
        """Send the announced submission (``SubmitSubmission``): 202, then the Fachverfahren's
        answer as an event (and a signed callback)."""
        if (client := caller(request)) is None:
            return unauthorized()
        body, problem = await json_body(request, "SubmitSubmission")
        if problem is not None:
            return noted(client, request, body, problem)
        found = own(client, submission_id)
        if found is None:
            answer = _problem(404, "not-found", "Not Found", "submission not found")
            return noted(client, request, body, answer)
        canonical, record = found
        if record.submit is not None:
            answer = _problem(422, "unprocessable", "Unprocessable Entity", "already submitted")
            return noted(client, request, body, answer)
        missing = [a for a in record.announced if a not in record.attachments]
        if missing:
            detail = f"{len(missing)} announced attachment(s) not uploaded"
            answer = _problem(422, "missing-attachments", "Unprocessable Entity", detail)
            return noted(client, request, body, answer)
        record.submit = body
        await log_event(client, canonical, record, "submit-submission", {})
        background.add_task(report, canonical)
        return noted(
            client, request, body, JSONResponse(record.reduced(canonical), status_code=202)
        )

    @router.get("/v1/submissions/{submission_id}/attachments/{attachment_id}")
    async def get_attachment(submission_id: str, attachment_id: str, request: Request) -> Any:
        """An attachment's JWE as it arrived (the receiving side's view; here the sender's own)."""
        if (client := caller(request)) is None:
            return unauthorized()
        found = own(client, submission_id)
        try:
            attachment = str(uuid.UUID(attachment_id))
        except ValueError:
            attachment = attachment_id
        if found is None or attachment not in found[1].attachments:
            return _problem(404, "not-found", "Not Found", "attachment not found")
        return Response(found[1].attachments[attachment], media_type=JOSE)

    @router.get("/v1/submissions/{submission_id}")
    async def get_submission(submission_id: str, request: Request) -> Any:
        """A sent submission as ``Submission`` (the sender's own), plus its callbacks."""
        if (client := caller(request)) is None:
            return unauthorized()
        found = own(client, submission_id)
        if found is None or found[1].submit is None:
            return _problem(404, "not-found", "Not Found", "submission not found")
        canonical, record = found
        return {
            **record.reduced(canonical),
            **(record.submit or {}),
            "callbacks": record.callbacks,
        }

    @router.get("/v1/submissions")
    async def list_submissions(request: Request) -> Any:
        """The caller's sent submissions (``SubmissionsForPickup``), never anyone else's."""
        if (client := caller(request)) is None:
            return unauthorized()
        mine = [
            {"destinationId": r.destination_id, "submissionId": sid, "caseId": r.case_id}
            for sid, r in stored.items()
            if r.owner == client and r.submit is not None
        ]
        return {"count": len(mine), "offset": 0, "totalCount": len(mine), "submissions": mine}

    @router.get("/journal", include_in_schema=False)
    async def exchanges(request: Request) -> Any:
        """The caller's own Submission API requests and answers, for checks against the spec."""
        if (client := caller(request)) is None:
            return unauthorized()
        return {"exchanges": journal.get(client, [])}

    return router
