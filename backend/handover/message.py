"""The encrypted submission a Fachverfahren receives, built like a FIT-Connect submission.

Data, metadata and every attachment are separate JWEs (RSA-OAEP-256 key wrapping, A256GCM
content encryption) to the destination's public key. The metadata carries the SHA-512 of the
plaintext data and of each attachment, so the receiver can prove nothing was swapped or cut.
Pure: no database, no HTTP.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jose import jwe
from jose.exceptions import JOSEError

from backend.handover.fitconnect import (
    AnnouncedAttachment,
    PaymentInformation,
    build_metadata,
    validate_metadata,
    wire_id,
)
from backend.handover.fitconnect_keys import KEY_ALGORITHM, UnusableKey

CONTENT_ENCRYPTION = "A256GCM"
DATA_MEDIA_TYPE = "application/json"
JOSE = "application/jose"
"""Content type of an attachment upload: the compact JWE as it is."""


@dataclass(frozen=True)
class Attachment:
    """One file that travels with the submission."""

    attachment_id: str
    filename: str
    media_type: str
    purpose: str
    """'attachment' (the citizen's upload) or 'document' (issued by Knopfdruck)."""
    content: bytes = field(repr=False)

    @property
    def wire_id(self) -> str:
        """The id on the wire: FIT-Connect wants a UUID."""
        return wire_id(self.attachment_id)

    @property
    def sha512(self) -> str:
        return hashlib.sha512(self.content).hexdigest()


@dataclass(frozen=True)
class Submission:
    """What is delivered: the application's data, its metadata and the attachments."""

    submission_id: str
    destination_id: str
    service_identifier: str
    service_name: str
    case_reference: str
    application_date: date
    schema_uri: str
    data: bytes = field(repr=False)
    attachments: tuple[Attachment, ...] = ()
    payment: PaymentInformation | None = None
    case_id: str | None = None
    """Our case id: its UUID form is the FIT-Connect case whose event log records this."""

    @property
    def data_sha512(self) -> str:
        return hashlib.sha512(self.data).hexdigest()

    def metadata(self) -> dict[str, Any]:
        """FIT-Connect metadata 1.0.0, validated against the published schema before use."""
        metadata = build_metadata(
            service_identifier=self.service_identifier,
            service_name=self.service_name,
            schema_uri=self.schema_uri,
            data_sha512=self.data_sha512,
            attachments=tuple(
                AnnouncedAttachment(a.attachment_id, a.filename, a.media_type, a.purpose, a.sha512)
                for a in self.attachments
            ),
            case_reference=self.case_reference,
            application_date=self.application_date,
            payment=self.payment,
        )
        validate_metadata(metadata)
        return metadata


def canonical_json(value: Any) -> bytes:
    """Deterministic bytes, so the same case always hashes the same."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def encrypt(plaintext: bytes, key: dict[str, Any], media_type: str) -> str:
    """One compact JWE to the destination's key."""
    try:
        token = jwe.encrypt(
            plaintext,
            key,
            encryption=CONTENT_ENCRYPTION,
            algorithm=KEY_ALGORITHM,
            cty=media_type,
            kid=str(key["kid"]),
        )
    except JOSEError as exc:
        raise UnusableKey(f"cannot encrypt to the destination's key: {exc}") from exc
    return token.decode() if isinstance(token, bytes) else str(token)


def encrypted_body(submission: Submission, key: dict[str, Any]) -> dict[str, Any]:
    """The request body of the submission endpoint: only ciphertext besides routing data."""
    body: dict[str, Any] = {
        "submissionId": submission.submission_id,
        "destinationId": submission.destination_id,
        "serviceType": {
            "identifier": submission.service_identifier,
            "name": submission.service_name,
        },
        "encryptedMetadata": encrypt(canonical_json(submission.metadata()), key, DATA_MEDIA_TYPE),
        "encryptedData": encrypt(submission.data, key, DATA_MEDIA_TYPE),
        "encryptedAttachments": {
            a.wire_id: encrypt(a.content, key, a.media_type) for a in submission.attachments
        },
    }
    if submission.case_id is not None:
        body["caseId"] = wire_id(submission.case_id)
    return body


class SubmissionIncomplete(ValueError):
    """The requests would not make a complete submission; nothing may be sent."""


def announcement(submission: Submission) -> dict[str, Any]:
    """The body of ``POST /v1/submissions`` (``CreateSubmission``): routing data, no content."""
    body: dict[str, Any] = {
        "destinationId": submission.destination_id,
        "announcedAttachments": [a.wire_id for a in submission.attachments],
        "serviceType": {
            "name": submission.service_name,
            "identifier": submission.service_identifier,
        },
    }
    if submission.case_id is not None:
        body["caseId"] = wire_id(submission.case_id)
    return body


def check_complete(announced: dict[str, Any], encrypted: dict[str, Any], metadata: Any) -> None:
    """Announced, uploaded and described attachments are one and the same set, ids UUIDs."""
    said = list(announced["announcedAttachments"])
    uploaded = set(encrypted["encryptedAttachments"])
    described = {a.get("attachmentId") for a in metadata["contentStructure"].get("attachments", [])}
    if len(set(said)) != len(said) or set(said) != uploaded or uploaded != described:
        raise SubmissionIncomplete("announced, uploaded and described attachments differ")
    for attachment_id in said:
        if str(uuid.UUID(attachment_id)) != attachment_id:
            raise SubmissionIncomplete("an attachment id is not a UUID")
