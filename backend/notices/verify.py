"""Checking a document: by the signed token in its QR code, by the PDF file, or by its hash.

What /verify shows is the key data (authority, reference, kind, date, outcome, fees), never
the addressee's name, address or birth date: whoever holds the paper can compare, and whoever
only holds a photo of the QR code learns nothing personal.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from sqlmodel import Session, col, select

from backend.columns import aware
from backend.context import AppContext
from backend.documents.render import local_date
from backend.errors import NotFound
from backend.notices.claims import NoticeClaims, content_sha256
from backend.notices.models import IssuedNotice
from backend.notices.signing import TokenRejected, published_keys, verify_token

log = logging.getLogger("knopfdruck.verify")

Verdict = Literal["genuine", "revoked", "altered", "unknown", "invalid"]
MAX_PDF = 20 * 1024 * 1024
MAX_TOKEN_INPUT = 4096
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Fee:
    label: str
    amount: Decimal


@dataclass(frozen=True)
class VerifiedDocument:
    """Key data of a document as our record holds it."""

    reference: str
    title: str
    kind: str
    service_title: dict[str, str]
    authority: str
    issued_on: date
    outcome: str
    decision_kind: str = "application"
    """How the outcome is worded: a tax is festgesetzt, a certificate ausgestellt."""
    fees: list[Fee] = field(default_factory=list)
    paid_on: date | None = None
    revoked_on: date | None = None
    replaced_by: Replacement | None = None
    """For a revoked document: the notice that took its place (issue 17, item 8), if any."""


@dataclass(frozen=True)
class Replacement:
    """The document issued in place of a revoked one: what /verify names instead of it."""

    title: str
    issued_on: date


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    method: Literal["token", "file", "hash"]
    document: VerifiedDocument | None = None


def _replacement(ctx: AppContext, row: IssuedNotice) -> Replacement | None:
    """The first standing document of the same case issued since this one was revoked.

    Receipts never replace a decision; a case cancelled without a new notice has none."""
    if row.revoked_at is None:
        return None
    with Session(ctx.engine) as session:
        newer = session.exec(
            select(IssuedNotice)
            .where(
                IssuedNotice.case_id == row.case_id,
                IssuedNotice.kind != "receipt",
                col(IssuedNotice.revoked_at).is_(None),
                IssuedNotice.document_id != row.document_id,
                col(IssuedNotice.created_at) >= row.revoked_at,
            )
            .order_by(col(IssuedNotice.created_at))
        ).first()
    return Replacement(newer.title, newer.issued_on) if newer is not None else None


def _shown(ctx: AppContext, row: IssuedNotice) -> VerifiedDocument:
    decision_kind = "application"
    try:
        definition = ctx.catalogue.get(row.service)
        service_title = {"de": definition.title.de, "en": definition.title.en}
        decision_kind = definition.decision_kind
    except NotFound:
        service_title = {"de": row.service, "en": row.service}
    content = row.content
    payment = content.get("payment") or None
    fees = [Fee(str(f["label"]), Decimal(str(f["amount"]))) for f in content.get("fees") or []]
    return VerifiedDocument(
        reference=row.reference,
        title=row.title,
        kind=row.kind,
        service_title=service_title,
        authority=str(content.get("authority", "")),
        issued_on=row.issued_on,
        outcome=row.outcome,
        decision_kind=decision_kind,
        fees=fees,
        paid_on=date.fromisoformat(payment["paid_on"]) if payment else None,
        revoked_on=local_date(aware(row.revoked_at)) if row.revoked_at is not None else None,
        replaced_by=_replacement(ctx, row),
    )


def _record_verdict(row: IssuedNotice) -> Verdict:
    """Our own record must still match what we signed; otherwise it was altered since."""
    if not hmac.compare_digest(content_sha256(row.content), row.content_sha256):
        return "altered"
    return "revoked" if row.revoked_at is not None else "genuine"


def by_token(ctx: AppContext, token: str) -> Verification:
    """The QR code's token: signature, then our record of that document."""
    with Session(ctx.engine) as session:
        try:
            claims = verify_token(token, published_keys(session))
        except TokenRejected as exc:
            log.info("verification token rejected: %s", exc)
            return Verification("invalid", "token")
        row = session.exec(
            select(IssuedNotice).where(
                IssuedNotice.reference == claims.reference,
                IssuedNotice.content_sha256 == claims.content_sha256,
            )
        ).first()
    if row is None:
        return Verification("unknown", "token")
    if not _matches(row, claims):
        return Verification("altered", "token")
    verdict = _record_verdict(row)
    return Verification(verdict, "token", _shown(ctx, row))


def _matches(row: IssuedNotice, claims: NoticeClaims) -> bool:
    return (
        row.service == claims.service
        and row.kind == claims.kind
        and row.outcome == claims.outcome
        and row.issued_on == claims.issued_on
    )


def by_hash(
    ctx: AppContext, digest: str, *, method: Literal["file", "hash"] = "hash"
) -> Verification:
    """A PDF's SHA-256: a byte-identical copy of a document we issued, or not."""
    value = digest.strip().lower()
    if not _HEX_SHA256.match(value):
        return Verification("invalid", method)
    with Session(ctx.engine) as session:
        row = session.exec(select(IssuedNotice).where(IssuedNotice.pdf_sha256 == value)).first()
    if row is None:
        return Verification("unknown", method)
    return Verification(_record_verdict(row), method, _shown(ctx, row))


def by_file(ctx: AppContext, data: bytes) -> Verification:
    if not data.startswith(b"%PDF-") or len(data) > MAX_PDF:
        return Verification("invalid", "file")
    return by_hash(ctx, hashlib.sha256(data).hexdigest(), method="file")
