"""Sandbox FIT-Connect destination: a department's Fachverfahren that receives encrypted cases.

It publishes an RSA encryption key per destination (JWKS), stores submissions idempotently by
submission id, decrypts them with its private key, checks every SHA-512 in the metadata, and
reports ``accepted`` or ``rejected`` to the platform's callback URL, signed with HMAC-SHA512
over ``<timestamp>.<body>``. Private keys are PEM files in the key directory, so a test can
decrypt what the platform sent with an independent JOSE library.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, BackgroundTasks
from fastapi.responses import JSONResponse
from jose import jwe
from jose.exceptions import JOSEError
from pydantic import BaseModel, ConfigDict, Field

KEY_ALGORITHM = "RSA-OAEP-256"
# FIT-Connect requires 4096-bit keys for its destinations.
KEY_BITS = 4096
DESTINATIONS: dict[str, str] = {
    "fv-tiefbauamt-koeln": "Sondernutzungen, Amt für Straßen und Verkehr Köln (Sandbox)",
    "fv-ordnungsamt-koeln": "Gewerbe und Veranstaltungen, Ordnungsamt Köln (Sandbox)",
    "fv-bauaufsicht-koeln": "Bauanträge, Bauaufsicht Köln (Sandbox)",
}


def key_file(key_dir: Path, destination: str) -> Path:
    """Where the destination's private key lives (tests read it to decrypt independently)."""
    return key_dir / f"fitconnect-{destination}.pem"


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

    def get(self, destination: str) -> _DestinationKey:
        with self._lock:
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
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
        pem = path.read_bytes()
        loaded = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA key")
        numbers = loaded.public_key().public_numbers()
        n, e = _uint(numbers.n), _uint(numbers.e)
        # RFC 7638 thumbprint as key id, like the sandbox IdP.
        canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"))
        kid = _b64url(hashlib.sha256(canonical.encode()).digest())
        jwk = {
            "kty": "RSA",
            "kid": kid,
            "use": "enc",
            "alg": KEY_ALGORITHM,
            "key_ops": ["wrapKey"],
            "n": n,
            "e": e,
        }
        return _DestinationKey(kid=kid, private_pem=pem, public_jwk=jwk)


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


@dataclass
class _Stored:
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


def build_fitconnect_router(key_dir: Path, callback_url: str, callback_secret: str) -> APIRouter:
    """A fresh destination service with its own submissions; keys persist in key_dir."""
    keys = _Keys(key_dir)
    stored: dict[str, _Stored] = {}
    router = APIRouter(tags=["FIT-Connect (Sandbox)"])

    def known(destination: str) -> JSONResponse | None:
        if destination not in DESTINATIONS:
            return _fehler(404, "zustellpunkt_unbekannt")
        return None

    @router.get("/destinations/{destination}")
    async def destination_info(destination: str) -> Any:
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
    async def jwks(destination: str) -> Any:
        """The public key senders encrypt to (RSA-OAEP-256)."""
        if (missing := known(destination)) is not None:
            return missing
        key = await asyncio.to_thread(keys.get, destination)
        return {"keys": [key.public_jwk]}

    async def report(destination: str, submission: Einreichung) -> None:
        """Check the submission as a Fachverfahren would, then tell the platform."""
        key = await asyncio.to_thread(keys.get, destination)
        problem = await asyncio.to_thread(check_submission, submission, key.private_pem)
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
    async def submit(destination: str, submission: Einreichung, background: BackgroundTasks) -> Any:
        """Store an encrypted submission once; a repeated one is acknowledged, not stored."""
        if (missing := known(destination)) is not None:
            return missing
        if submission.destination_id != destination:
            return _fehler(422, "zustellpunkt_passt_nicht")
        body = submission.model_dump(by_alias=True)
        existing = stored.get(submission.submission_id)
        if existing is not None:
            if existing.body != body:
                return _fehler(409, "einreichung_abweichend")
            return JSONResponse(
                {"submissionId": submission.submission_id, "status": "submitted", "duplicate": True}
            )
        stored[submission.submission_id] = _Stored(body=body, received_at=datetime.now(UTC))
        background.add_task(report, destination, submission)
        return {"submissionId": submission.submission_id, "status": "submitted", "duplicate": False}

    @router.get("/destinations/{destination}/submissions", include_in_schema=False)
    async def submissions(destination: str) -> Any:
        """Lets tests count what arrived."""
        return {
            "submissions": [
                sid for sid, s in stored.items() if s.body["destinationId"] == destination
            ]
        }

    @router.get("/destinations/{destination}/submissions/{submission_id}", include_in_schema=False)
    async def submission(destination: str, submission_id: str) -> Any:
        """Lets tests fetch the ciphertext as it arrived, and the callbacks sent about it."""
        found = stored.get(submission_id)
        if found is None or found.body["destinationId"] != destination:
            return _fehler(404, "einreichung_unbekannt")
        return {
            "submission": found.body,
            "receivedAt": found.received_at.isoformat(),
            "callbacks": found.callbacks,
        }

    return router
