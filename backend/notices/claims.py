"""What a notice's QR code vouches for: compact key data and a digest of the printed content.

Pure, no I/O. The digest cannot be the PDF's own hash (the QR code is part of the PDF), so it
covers the content the document prints: reference, authority, addressee, outcome, amounts,
reasons and the values used. /verify recomputes it from the stored record.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

CLAIMS_VERSION = 1
_REFERENCE = re.compile(r"^KD-\d{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$")
_SERVICE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_B64_SHA256 = re.compile(r"^[A-Za-z0-9_-]{43}$")
KINDS = frozenset({"notice", "certificate", "receipt"})
# A receipt decides nothing; its "outcome" is that something was received.
OUTCOMES = frozenset({"approved", "rejected", "referred", "received"})


class ClaimsError(ValueError):
    """Signed data that is not what we sign: never trusted, whatever the signature says."""


def canonical_json(content: Mapping[str, Any]) -> bytes:
    """One byte string per content: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    ).encode("utf-8")


def content_sha256(content: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical content, as stored next to the notice."""
    return hashlib.sha256(canonical_json(content)).hexdigest()


def hex_to_b64url(digest_hex: str) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(digest_hex)).rstrip(b"=").decode("ascii")


def b64url_to_hex(digest: str) -> str:
    return base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex()


@dataclass(frozen=True)
class NoticeClaims:
    """The key data of one issued document, as signed into its QR code."""

    reference: str
    service: str
    kind: str
    outcome: str
    issued_on: date
    content_sha256: str
    """Hex SHA-256 of the canonical printed content."""

    def to_payload(self) -> dict[str, Any]:
        """Short member names keep the QR code small enough to scan from paper."""
        return {
            "v": CLAIMS_VERSION,
            "ref": self.reference,
            "svc": self.service,
            "knd": self.kind,
            "out": self.outcome,
            "day": self.issued_on.isoformat(),
            "sha": hex_to_b64url(self.content_sha256),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> NoticeClaims:
        """Check every member strictly; anything unexpected is refused."""
        expected = {"v", "ref", "svc", "knd", "out", "day", "sha"}
        if set(payload) != expected:
            raise ClaimsError("unexpected or missing members")
        if payload["v"] != CLAIMS_VERSION:
            raise ClaimsError("unknown claims version")
        values = {k: payload[k] for k in expected - {"v"}}
        if not all(isinstance(value, str) for value in values.values()):
            raise ClaimsError("members must be strings")
        if not _REFERENCE.match(values["ref"]):
            raise ClaimsError("malformed reference")
        if not _SERVICE.match(values["svc"]):
            raise ClaimsError("malformed service id")
        if values["knd"] not in KINDS or values["out"] not in OUTCOMES:
            raise ClaimsError("unknown kind or outcome")
        if not _B64_SHA256.match(values["sha"]):
            raise ClaimsError("malformed digest")
        try:
            issued = date.fromisoformat(values["day"])
        except ValueError:
            raise ClaimsError("malformed date") from None
        return cls(
            reference=values["ref"],
            service=values["svc"],
            kind=values["knd"],
            outcome=values["out"],
            issued_on=issued,
            content_sha256=b64url_to_hex(values["sha"]),
        )
