"""Notices of clerk decisions, through the same machinery as automated ones (render, sign,
store, verify): a first decision uses ``issue_documents``; a changed decision (review,
objection remedied) revokes the standing notice and issues a new one under a new document id."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from backend.context import AppContext
from backend.db import unit_of_work
from backend.documents.render import local_date
from backend.models import Case, Document, utcnow
from backend.models_engine import IssuedNotice, Payment
from backend.notices.claims import NoticeClaims, content_sha256
from backend.notices.issue import (
    _store,
    check_certifiable,
    issue_documents,
    printed_content,
    template_context,
    verification_url,
)
from backend.notices.qr import qr_data_url
from backend.notices.signing import publish_key, signer_for

CLERK_RULE = "sachbearbeitung"
"""rule_id of the reason a clerk writes; marks a decision as taken by a person."""


def decided_by_clerk(decision: dict[str, Any] | None) -> bool:
    """Whether a person took the decision (no § 35a VwVfG statement on its notice)."""
    return any(r.get("rule_id") == CLERK_RULE for r in (decision or {}).get("reasons", []))


def revoke_standing_notices(session: Session, case_id: str) -> int:
    """A changed decision replaces the old notice; /verify then reports it as revoked."""
    rows = session.exec(
        select(IssuedNotice).where(
            IssuedNotice.case_id == case_id, col(IssuedNotice.revoked_at).is_(None)
        )
    ).all()
    for row in rows:
        row.revoked_at = utcnow()
        session.add(row)
    return len(rows)


def issue_clerk_documents(ctx: AppContext, case_id: str, *, round_no: int) -> list[str]:
    """Round 0: the case's first notice. Later rounds: new documents whose definition id
    carries the round (``bescheinigung-r2``), since each id is stored once per case."""
    if round_no == 0:
        return issue_documents(ctx, case_id, automated=False)
    signer = signer_for(ctx.settings.data_dir)
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            raise LookupError(f"case {case_id} vanished")
        definition = ctx.catalogue.get(case.service, case.service_version)
        folder = ctx.catalogue.folder(case.service)
        payment = session.exec(select(Payment).where(Payment.case_id == case_id)).first()
        existing = {
            d.definition_id: d.id
            for d in session.exec(select(Document).where(Document.case_id == case_id)).all()
        }
    issued: list[str] = []
    for original in [d for d in definition.documents if case.outcome in d.on]:
        doc = original.model_copy(update={"id": f"{original.id}-r{round_no}"})
        if doc.id in existing:
            issued.append(existing[doc.id])
            continue
        check_certifiable(definition, doc, case)
        issued_on = local_date(utcnow())
        content = printed_content(ctx, case, definition, doc, issued_on, payment)
        claims = NoticeClaims(
            reference=case.reference,
            service=definition.id,
            kind=doc.kind,
            outcome=case.outcome or "",
            issued_on=issued_on,
            content_sha256=content_sha256(content),
        )
        token = signer.sign(claims)
        context = template_context(ctx, case, definition, doc, issued_on, payment, automated=False)
        link = verification_url(ctx, token)
        context["qr_data_url"] = qr_data_url(link)
        context["verification_link"] = link
        context["verification_url"] = verification_url(ctx)
        pdf = ctx.renderer.render(folder, doc.template, context)
        with unit_of_work(ctx.engine) as session:
            issued.append(_store(session, case, doc, pdf, claims, token, content, signer.kid))
            publish_key(session, signer)
    return issued
