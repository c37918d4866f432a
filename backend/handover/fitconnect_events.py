"""A case's FIT-Connect event log: Security Event Tokens, each checked before it is believed.

The Zustelldienst keeps one log per case (``GET /v1/cases/{caseId}/events`` →
``{"eventLog": [SET, …]}``). Every SET is a compact JWS signed with PS512 by a key from the
Zustelldienst's JWKS (``/.well-known/jwks.json``), and that key must pass the same checks as
an encryption key (RSA, 4096 bits, ``x5c`` chain to a trust anchor) but for ``verify``. A token
whose signature, header or claims do not hold is refused, and with it the whole log: a
forged or altered event must never move a case. The caseId is our case id as a UUID.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from backend.handover.fitconnect_keys import key_problem

EVENTS = "https://schema.fitko.de/fit-connect/events/"
KNOWN_EVENTS = {
    EVENTS + "submit-submission": "submitted",
    EVENTS + "accept-submission": "accepted",
    EVENTS + "reject-submission": "rejected",
}
SET_TYPE = "secevent+jwt"
MAX_TOKEN = 16_384
MAX_EVENTS = 500
MAX_CLOCK_SKEW_S = 60
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class EventLogInvalid(ValueError):
    """An event log (or one of its tokens) that must not be believed."""


@dataclass(frozen=True)
class LogEvent:
    """One verified event: what happened to which submission, when, said by whom."""

    event_id: str
    event: str
    """submitted, accepted or rejected."""
    submission_id: str
    issuer: str
    issued_at: int
    problems: tuple[str, ...] = ()


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _json(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url(part))
    except (ValueError, binascii.Error):
        raise EventLogInvalid(f"{what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise EventLogInvalid(f"{what} is not a JSON object")
    return value


def _public_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey:
    n = int.from_bytes(_b64url(str(jwk["n"])), "big")
    e = int.from_bytes(_b64url(str(jwk["e"])), "big")
    return RSAPublicNumbers(e, n).public_key()


def verify_event(
    token: Any,
    jwks: Any,
    anchors: list[x509.Certificate],
    case_id: str,
    *,
    now: float | None = None,
) -> LogEvent:
    """Check one SET's signature (PS512), header and claims; raise EventLogInvalid if any fails."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 2:
        raise EventLogInvalid("not a compact JWS")
    header_part, payload_part, signature_part = token.split(".")
    header = _json(header_part, "header")
    if header.get("alg") != "PS512" or header.get("typ") != SET_TYPE:
        raise EventLogInvalid(f"header is not typ {SET_TYPE} with alg PS512")
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    matching = [k for k in keys or [] if isinstance(k, dict) and k.get("kid") == header.get("kid")]
    if len(matching) != 1:
        raise EventLogInvalid("signed with a key the Zustelldienst does not publish")
    problem = key_problem(matching[0], anchors, signing=True)
    if problem is not None:
        raise EventLogInvalid(f"the signing key is not usable: {problem}")
    try:
        _public_key(matching[0]).verify(
            _b64url(signature_part),
            f"{header_part}.{payload_part}".encode(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64),
            hashes.SHA512(),
        )
    except (InvalidSignature, ValueError, binascii.Error):
        raise EventLogInvalid("signature invalid") from None
    return _event(_json(payload_part, "payload"), case_id, time.time() if now is None else now)


def _event(claims: dict[str, Any], case_id: str, now: float) -> LogEvent:
    jti, issuer, issued_at = claims.get("jti"), claims.get("iss"), claims.get("iat")
    if not isinstance(jti, str) or not _UUID.match(jti):
        raise EventLogInvalid("jti is not a UUID")
    if not isinstance(issuer, str) or not issuer:
        raise EventLogInvalid("iss missing")
    if not isinstance(issued_at, int) or issued_at > now + MAX_CLOCK_SKEW_S:
        raise EventLogInvalid("iat missing or in the future")
    if claims.get("txn") != f"case:{case_id}":
        raise EventLogInvalid("the event belongs to another case")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.startswith("submission:"):
        raise EventLogInvalid("sub is not a submission")
    submission = subject.removeprefix("submission:")
    if not _UUID.match(submission):
        raise EventLogInvalid("sub names no submission UUID")
    events = claims.get("events")
    if not isinstance(events, dict) or len(events) != 1:
        raise EventLogInvalid("events must hold exactly one event")
    [(name, detail)] = events.items()
    if name not in KNOWN_EVENTS or not isinstance(detail, dict):
        raise EventLogInvalid("unknown event")
    problems = tuple(
        str(p.get("title"))[:200]
        for p in detail.get("problems", [])
        if isinstance(p, dict) and p.get("title")
    )
    return LogEvent(jti, KNOWN_EVENTS[name], uuid.UUID(submission).hex, issuer, issued_at, problems)


def verify_event_log(
    body: Any, jwks: Any, anchors: list[x509.Certificate], case_id: str
) -> list[LogEvent]:
    """Every event of the log, verified; one bad token refuses the whole log."""
    tokens = body.get("eventLog") if isinstance(body, dict) else None
    if not isinstance(tokens, list) or len(tokens) > MAX_EVENTS:
        raise EventLogInvalid(f"no eventLog list of at most {MAX_EVENTS} tokens")
    events = []
    for position, token in enumerate(tokens):
        try:
            events.append(verify_event(token, jwks, anchors, case_id))
        except EventLogInvalid as exc:
            raise EventLogInvalid(f"event {position + 1} refused: {exc}") from None
    if len({e.event_id for e in events}) != len(events):
        raise EventLogInvalid("an event appears twice")
    return events
