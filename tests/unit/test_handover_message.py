"""The handover message and callback signatures, without I/O: JWE, hashes, HMAC, freshness."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from datetime import date
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwe as cjwe
from jwcrypto import jwk as cjwk

from backend.cases.handover_callbacks import sign, verify_signature
from backend.errors import Unauthorized
from backend.handover.message import (
    Attachment,
    Submission,
    SubmissionIncomplete,
    announcement,
    canonical_json,
    check_complete,
    encrypted_body,
)
from sandbox.fitconnect import TOKEN_LIFETIME_S, _Tokens, check_submission, signed_callback


@pytest.fixture(scope="module")
def key() -> cjwk.JWK:
    return cjwk.JWK.generate(kty="RSA", size=2048, kid="dest-1", alg="RSA-OAEP-256", use="enc")


def _public(key: cjwk.JWK, **changes: Any) -> dict[str, Any]:
    public: dict[str, Any] = key.export_public(as_dict=True)
    public.update(changes)
    return public


def _pem(key: cjwk.JWK) -> bytes:
    pem: bytes = key.export_to_pem(private_key=True, password=None)
    return pem


PLAN_ID = "0b5f3c1e9a7d4e2f8c6b1a3d5e7f9012"
RECEIPT_ID = "7c1d2e3f4a5b4c6d8e9f0a1b2c3d4e5f"
U1, D1 = str(uuid.UUID(PLAN_ID)), str(uuid.UUID(RECEIPT_ID))
SUBMISSION = Submission(
    submission_id="a" * 32,
    destination_id="fv-test",
    service_identifier="urn:de:fim:leika:leistung:99034004000000",
    service_name="Sondernutzung",
    case_reference="KD-2026-ABCD-EFGH",
    application_date=date(2026, 5, 2),
    schema_uri="urn:knopfdruck:fachdaten:sondernutzung:1",
    data=canonical_json({"fields": {"nutzung": "Umzug"}}),
    attachments=(
        Attachment(PLAN_ID, "Lageplan.pdf", "application/pdf", "attachment", b"%PDF plan"),
        Attachment(RECEIPT_ID, "Quittung.pdf", "application/pdf", "document", b"%PDF receipt"),
    ),
)


def test_everything_is_a_separate_jwe_that_an_independent_library_decrypts(
    key: cjwk.JWK,
) -> None:
    body = encrypted_body(SUBMISSION, _public(key))
    assert body["submissionId"] == "a" * 32 and body["destinationId"] == "fv-test"

    def open_(token: str) -> tuple[bytes, dict[str, Any]]:
        message = cjwe.JWE()
        message.deserialize(token, key=key)
        return message.payload, dict(message.jose_header)

    metadata_bytes, header = open_(body["encryptedMetadata"])
    assert header == {
        "alg": "RSA-OAEP-256",
        "enc": "A256GCM",
        "kid": "dest-1",
        "cty": "application/json",
    }
    metadata = json.loads(metadata_bytes)
    data, _ = open_(body["encryptedData"])
    assert data == SUBMISSION.data
    assert (
        metadata["contentStructure"]["data"]["hash"]["content"] == hashlib.sha512(data).hexdigest()
    )
    assert metadata["additionalReferenceInfo"] == {
        "senderReference": "KD-2026-ABCD-EFGH",
        "applicationDate": "2026-05-02",
    }
    for announced, attachment in zip(
        metadata["contentStructure"]["attachments"], SUBMISSION.attachments, strict=True
    ):
        assert announced["attachmentId"] == str(uuid.UUID(attachment.attachment_id))
        content, _ = open_(body["encryptedAttachments"][announced["attachmentId"]])
        assert content == attachment.content
        assert announced["hash"]["content"] == hashlib.sha512(content).hexdigest()
    assert [a["purpose"] for a in metadata["contentStructure"]["attachments"]] == [
        "attachment",
        "report",
    ]


def _checked(body: dict[str, Any], pem: bytes) -> str | None:
    return check_submission(
        body["encryptedMetadata"], body["encryptedData"], body["encryptedAttachments"], pem
    )


def test_the_destination_detects_swapped_or_missing_parts(key: cjwk.JWK) -> None:
    body = encrypted_body(SUBMISSION, _public(key))
    assert _checked(body, _pem(key)) is None

    swapped = dict(body)
    swapped["encryptedAttachments"] = {
        U1: body["encryptedAttachments"][D1],
        D1: body["encryptedAttachments"][U1],
    }
    assert _checked(swapped, _pem(key)) == (f"hash of attachment {U1} does not match the metadata")
    other = encrypted_body(
        Submission(**{**SUBMISSION.__dict__, "data": b'{"fields":{}}'}), _public(key)
    )
    mixed = {**body, "encryptedData": other["encryptedData"]}
    assert _checked(mixed, _pem(key)) == ("hash of the data does not match the metadata")
    missing = {**body, "encryptedAttachments": {U1: body["encryptedAttachments"][U1]}}
    assert _checked(missing, _pem(key)) == ("attachments do not match the metadata")
    stranger = cjwk.JWK.generate(kty="RSA", size=2048)
    wrong_key = stranger.export_to_pem(private_key=True, password=None)
    assert _checked(body, wrong_key) == ("metadata or data cannot be decrypted")
    # The key file format the sandbox writes is what jwcrypto reads back.
    assert serialization.load_pem_private_key(_pem(key), password=None) is not None


SECRET = "geheim"
BODY = b'{"eventId":"e1","status":"accepted"}'


def test_a_fresh_correctly_signed_callback_passes() -> None:
    now = 1_800_000_000.0
    timestamp = str(int(now) - 299)
    verify_signature(SECRET, sign(SECRET, timestamp, BODY), timestamp, BODY, now=now)
    verify_signature(SECRET, sign(SECRET, timestamp, BODY).upper(), timestamp, BODY, now=now)


@pytest.mark.parametrize(
    ("signature_of", "timestamp_offset", "message"),
    [
        (BODY + b" ", 0, "Signatur ungültig"),
        (BODY, 301, "älter als fünf Minuten"),
        (BODY, -61, "in der Zukunft"),
    ],
    ids=["tampered", "expired", "future"],
)
def test_tampered_expired_or_future_callbacks_are_refused(
    signature_of: bytes, timestamp_offset: int, message: str
) -> None:
    now = 1_800_000_000.0
    timestamp = str(int(now) - timestamp_offset)
    with pytest.raises(Unauthorized, match=message):
        verify_signature(SECRET, sign(SECRET, timestamp, signature_of), timestamp, BODY, now=now)


@pytest.mark.parametrize(("signature", "timestamp"), [(None, "1"), ("ab", None), ("ab", "gestern")])
def test_missing_or_unreadable_signature_headers_are_refused(
    signature: str | None, timestamp: str | None
) -> None:
    with pytest.raises(Unauthorized):
        verify_signature(SECRET, signature, timestamp, BODY)


def test_the_sandbox_signs_the_way_the_platform_verifies() -> None:
    body, headers = signed_callback(SECRET, {"eventId": "e1"}, now=time.time())
    verify_signature(
        SECRET, headers["callback-authentication"], headers["callback-timestamp"], body
    )


def test_a_sandbox_token_expires_like_a_real_one(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = _Tokens()
    token = tokens.issue("amt-a")
    assert tokens.client(token) == "amt-a"
    assert tokens.client("made-up") is None
    issued_at = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: issued_at + TOKEN_LIFETIME_S + 1)
    assert tokens.client(token) is None


def test_the_announcement_and_our_completeness_check(key: cjwk.JWK) -> None:
    announced = announcement(SUBMISSION)
    body = encrypted_body(SUBMISSION, _public(key))
    metadata = SUBMISSION.metadata()
    assert announced["announcedAttachments"] == [U1, D1]
    assert set(announced) == {"destinationId", "announcedAttachments", "serviceType"}
    assert "caseId" in announcement(dataclasses.replace(SUBMISSION, case_id=uuid.uuid4().hex))
    check_complete(announced, body, metadata)
    for broken in (
        {**announced, "announcedAttachments": [U1]},
        {**announced, "announcedAttachments": [U1, D1, D1]},
    ):
        with pytest.raises(SubmissionIncomplete):
            check_complete(broken, body, metadata)
    lost = {**body, "encryptedAttachments": {U1: body["encryptedAttachments"][U1]}}
    with pytest.raises(SubmissionIncomplete):
        check_complete(announced, lost, metadata)
