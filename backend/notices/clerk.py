"""Notices of clerk decisions, through the same machinery as automated ones (render, sign,
store, verify): a first decision uses ``issue_documents``; a changed decision (review,
objection remedied) revokes the standing notice and issues a new one under a new document id."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from backend.columns import aware, utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import Document as DocumentDefinition
from backend.definitions.models import ServiceDefinition
from backend.documents.render import (
    SERVICE_TEMPLATES,
    SHARED_TEMPLATES_DIR,
    NoticeRenderer,
    local_date,
)

# CLERK_RULE: rule_id of the reason a clerk writes; marks a decision as taken by a person.
from backend.domain.decision import CLERK_RULE
from backend.notices.claims import NoticeClaims, content_sha256
from backend.notices.content import check_certifiable, printed_content, template_context
from backend.notices.issue import (
    StoredAs,
    _store,
    issue_documents,
    official_of,
    verification_url,
)
from backend.notices.models import IssuedNotice
from backend.notices.qr import qr_data_url
from backend.notices.signing import publish_key, signer_for
from backend.payments.models import Payment
from backend.records.models import Case, Document

# The title of each kind of notice that takes a decision back (backend/console/withdrawal.py).
TITLES: dict[str, tuple[str, str]] = {
    "ruecknahme": ("Bescheid über die Rücknahme", "Notice of withdrawal (Rücknahme)"),
    "widerruf": ("Bescheid über den Widerruf", "Notice of revocation (Widerruf)"),
    "aufhebung": ("Mitteilung über die Aufhebung der Bescheinigung", "Cancellation of certificate"),
}


def decided_by_clerk(decision: dict[str, Any] | None) -> bool:
    """Whether a person took the decision (no § 35a VwVfG statement on its notice)."""
    return any(r.get("rule_id") == CLERK_RULE for r in (decision or {}).get("reasons", []))


def _decision_documents(session: Session, case_id: str) -> list[IssuedNotice]:
    """The case's issued documents other than receipts: what a change of decision affects.
    Receipts stay genuine: they prove what the citizen lodged and when, whatever came of it."""
    return list(
        session.exec(
            select(IssuedNotice).where(
                IssuedNotice.case_id == case_id, IssuedNotice.kind != "receipt"
            )
        ).all()
    )


def revoke_standing_notices(session: Session, case_id: str) -> int:
    """A changed decision replaces the old notice; /verify then reports it as revoked."""
    rows = [r for r in _decision_documents(session, case_id) if r.revoked_at is None]
    now = utcnow()  # one instant for all: the new notice names this group as what it replaces
    for row in rows:
        row.revoked_at = now
        session.add(row)
    return len(rows)


def last_revoked(session: Session, case_id: str) -> list[dict[str, str]]:
    """The documents the latest change of decision revoked: what a new notice says it replaces."""
    revoked = [
        (aware(r.revoked_at), r) for r in _decision_documents(session, case_id) if r.revoked_at
    ]
    if not revoked:
        return []
    latest = max(at for at, _ in revoked)
    return [
        {"title": r.title, "issued_on": r.issued_on.isoformat()}
        for at, r in sorted(revoked, key=lambda pair: (pair[1].issued_on, pair[1].title))
        if at == latest
    ]


def issue_clerk_documents(ctx: AppContext, case_id: str, *, round_no: int) -> list[str]:
    """Round 0: the case's first notice. Later rounds: new documents whose definition id
    carries the round (``bescheinigung-r2``), since each id is stored once per case."""
    if round_no == 0:
        return issue_documents(ctx, case_id, automated=False)
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            raise LookupError(f"case {case_id} vanished")
        definition = ctx.case_definition(case)
        folder = ctx.catalogue.folder(case.service)
        payment = session.exec(select(Payment).where(Payment.case_id == case_id)).first()
        official = official_of(session, case)
        replaces = last_revoked(session, case_id)
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
        issued.append(
            _issue_one(
                ctx,
                case,
                definition,
                doc,
                folder,
                payment,
                ctx.renderer,
                # Printed and signed: the new notice says which one it replaces (issue 17).
                printed={"replaces": replaces} if replaces else None,
                shown={"replaces": replaces, "document_kind": doc.kind},
                official=official,
            )
        )
    return issued


def _issue_one(
    ctx: AppContext,
    case: Case,
    definition: ServiceDefinition,
    doc: DocumentDefinition,
    folder: Path,
    payment: Payment | None,
    renderer: NoticeRenderer,
    printed: dict[str, Any] | None = None,
    shown: dict[str, Any] | None = None,
    official: dict[str, str] | None = None,
) -> str:
    """Render, sign and store one document of a clerk's round; /verify knows it at once.
    ``printed`` adds to the signed content (JSON), ``shown`` to the template's context;
    ``official`` is the person who decided (§ 37 Abs. 3 VwVfG)."""
    signer = signer_for(ctx.settings.data_dir, case.tenant)
    issued_on = local_date(utcnow())
    content = {**printed_content(ctx, case, definition, doc, issued_on, payment), **(printed or {})}
    claims = NoticeClaims(
        reference=case.reference,
        service=definition.id,
        kind=doc.kind,
        outcome=case.outcome or "",
        issued_on=issued_on,
        content_sha256=content_sha256(content),
    )
    token = signer.sign(claims)
    context = template_context(
        ctx.settings.authority_name,
        case,
        definition,
        doc,
        issued_on,
        payment,
        automated=False,
        official=official,
    )
    context.update(shown or {})
    link = verification_url(ctx, token)
    context["qr_data_url"] = qr_data_url(link)
    context["verification_link"] = link
    context["verification_url"] = verification_url(ctx)
    pdf = renderer.render(folder, doc.template, context)
    with unit_of_work(ctx.engine) as session:
        stored_as = StoredAs(doc.id, doc.kind, doc.title.de)
        stored = _store(session, case, stored_as, pdf, claims, token, content, signer.kid)
        publish_key(session, signer)
    return stored


@lru_cache(maxsize=1)
def _shared_renderer() -> NoticeRenderer:
    """The shared templates folder rendered like a service folder (as for receipts): the
    withdrawal notice is the same for every service."""
    return NoticeRenderer(SHARED_TEMPLATES_DIR.parent)


def issue_withdrawal_notice(
    ctx: AppContext, case_id: str, *, round_no: int, withdrawal: dict[str, Any]
) -> list[str]:
    """The notice that takes a favourable decision back (backend/console/withdrawal.py), once
    per round; the standing notice was revoked when the decision was taken."""
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            raise LookupError(f"case {case_id} vanished")
        definition = ctx.case_definition(case)
        kind = str(withdrawal.get("kind") or "aufhebung")
        doc_id = f"{kind}-r{round_no}"
        found = session.exec(
            select(Document).where(Document.case_id == case_id, Document.definition_id == doc_id)
        ).first()
        if found is not None:
            return [found.id]
        withdrawn = [d.title.de for d in definition.documents if "approved" in d.on] or [
            definition.title.de
        ]
        official = official_of(session, case)  # who withdrew it (§ 37 Abs. 3 VwVfG)
    de, en = TITLES.get(kind, TITLES["aufhebung"])
    doc = DocumentDefinition.model_validate(
        {
            "id": kind,
            "kind": "notice",
            "template": f"{SERVICE_TEMPLATES}/aufhebung.html",
            "title": {"de": de, "en": en},
            "on": ["rejected"],
        }
    ).model_copy(update={"id": doc_id})  # the round suffix, as for a clerk's other rounds
    withdrawn_on = local_date(aware(case.decided_at)) if case.decided_at else None
    extra: dict[str, Any] = {
        "withdrawal": withdrawal,
        "withdrawn_on": withdrawn_on,
        "withdrawn_title": withdrawn[0],
    }
    return [
        _issue_one(
            ctx,
            case,
            definition,
            doc,
            Path("."),
            None,
            _shared_renderer(),
            printed={"withdrawal": withdrawal},
            shown=extra,
            official=official,
        )
    ]
