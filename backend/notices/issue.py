"""Issuing a case's documents: render the service's template with a signed QR code, store both.

What a document states comes from backend/notices/content.py; this module signs, renders and
files it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import ServiceDefinition
from backend.department.models import ConsoleClerk
from backend.documents.render import NoticeRenderer, RenderError, local_date
from backend.notices.claims import NoticeClaims, content_sha256
from backend.notices.content import (
    check_certifiable,
    printed_content,
    sender_context,
    template_context,
)
from backend.notices.models import IssuedNotice
from backend.notices.qr import qr_data_url
from backend.notices.signing import publish_key, signer_for
from backend.payments.models import Payment
from backend.records.audit import record_event
from backend.records.models import Case, CaseEvent, Document
from backend.settings import Settings

logger = logging.getLogger(__name__)


def official_of(session: Session, case: Case) -> dict[str, str] | None:
    """The official who took the case's standing decision (§ 37 Abs. 3 VwVfG: a written act
    names who issued it), from the case log; None when no person decided."""
    event = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.type == "clerk_decision")
        .order_by(col(CaseEvent.seq).desc())
    ).first()
    if event is None:
        return None
    clerk = session.get(ConsoleClerk, event.actor.partition(":")[2])
    if clerk is None:
        # Every console request records its clerk first (console_deps, console/common), so
        # this is a service call outside the console; the notice still says a person decided.
        logger.warning("official of a clerk decision not on record; notice names nobody")
        return None
    # The role as the department's organisation names it: a supervisor leads the section.
    role = "Sachgebietsleitung" if "supervisor" in clerk.roles else "Sachbearbeitung"
    return {"name": clerk.name, "role": role}


def verification_url(ctx: AppContext, token: str | None = None) -> str:
    base = f"{ctx.settings.base_url}/verify"
    return f"{base}?t={token}" if token else base


def issue_documents(ctx: AppContext, case_id: str, *, automated: bool) -> list[str]:
    """Render and store every document the definition issues for the outcome, each once.

    Rendering happens outside any write transaction (it takes a tenth of a second and SQLite
    has one writer); the insert then re-checks, so a concurrent retry stores nothing twice.
    """
    issued: list[str] = []
    with unit_of_work(ctx.engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            raise LookupError(f"case {case_id} vanished")
        signer = signer_for(ctx.settings.data_dir, case.tenant)
        definition = ctx.case_definition(case)
        folder = ctx.catalogue.folder(case.service)
        payment = session.exec(select(Payment).where(Payment.case_id == case_id)).first()
        official = None if automated else official_of(session, case)
        wanted = [d for d in definition.documents if case.outcome in d.on]
        existing = {
            d.definition_id: d.id
            for d in session.exec(select(Document).where(Document.case_id == case_id)).all()
        }
    for doc in wanted:
        if doc.id in existing:
            issued.append(existing[doc.id])
            continue
        check_certifiable(definition, doc, case)
        issued_on = local_date(utcnow())
        content = printed_content(ctx, case, definition, doc, issued_on, payment)
        digest = content_sha256(content)
        claims = NoticeClaims(
            reference=case.reference,
            service=definition.id,
            kind=doc.kind,
            outcome=case.outcome or "",
            issued_on=issued_on,
            content_sha256=digest,
        )
        token = signer.sign(claims)
        context = template_context(
            ctx.settings.authority_name,
            case,
            definition,
            doc,
            issued_on,
            payment,
            automated=automated,
            official=official,
        )
        context.update(verification_context(ctx, token))
        context.update(sender_context(ctx.tenancy, case.tenant))
        pdf = ctx.renderer.render(folder, doc.template, context)
        with unit_of_work(ctx.engine) as session:
            issued.append(
                _store(
                    session,
                    case,
                    StoredAs(doc.id, doc.kind, doc.title.de),
                    pdf,
                    claims,
                    token,
                    content,
                    signer.kid,
                )
            )
            publish_key(session, signer)
    return issued


def render_problems(
    settings: Settings,
    renderer: NoticeRenderer,
    definition: ServiceDefinition,
    folder: Path,
    case: Case,
) -> list[str]:
    """Render each document of the case's outcome once, as the worker would, storing nothing.

    The integrator tests call this for every test case, so a template that fails on real data
    (an undefined value, a filter on the wrong type) fails `services test`, not a paid case.
    Needs no database: a service tree with an invalid definition can still be tested.
    """
    problems: list[str] = []
    link = f"{settings.base_url}/verify"
    for doc in definition.documents:
        if case.outcome not in doc.on:
            continue
        context = template_context(
            settings.authority_name, case, definition, doc, case.reference_date, None,
            automated=True,
        )  # fmt: skip
        context.update(qr_data_url=qr_data_url(link), verification_link=link, verification_url=link)
        try:
            renderer.render_html(folder, doc.template, context)
        except RenderError as exc:
            problems.append(f"document {doc.id}: {exc.message}")
    return problems


def verification_context(ctx: AppContext, token: str) -> dict[str, str]:
    """What the shared layout needs to print the QR code and the address of /verify."""
    link = verification_url(ctx, token)
    return {
        "qr_data_url": qr_data_url(link),
        "verification_link": link,
        "verification_url": verification_url(ctx),
    }


@dataclass(frozen=True)
class StoredAs:
    """How an issued PDF is filed in the case: the definition's document id, or a receipt's."""

    definition_id: str
    kind: str
    title: str


def issue_receipt(
    ctx: AppContext,
    case_id: str,
    stored_as: StoredAs,
    content: dict[str, Any],
    issued_on: date,
    render: Callable[[dict[str, str]], bytes],
) -> Document:
    """Sign, render and file a receipt once, so /verify knows it like any notice.

    `content` is what the receipt states (it goes into the signed digest); `render` turns the
    verification context (QR code, address) into the PDF. A second call, or a concurrent one,
    returns the receipt filed first: a receipt never changes once handed out.
    """
    with Session(ctx.engine) as session:
        found = _filed(session, case_id, stored_as.definition_id)
        if found is not None:
            return found
        case = session.get(Case, case_id)
        if case is None:
            raise LookupError(f"case {case_id} vanished")
        session.expunge(case)
    signer = signer_for(ctx.settings.data_dir, case.tenant)
    digest = content_sha256(content)
    claims = NoticeClaims(
        reference=case.reference,
        service=case.service,
        kind=stored_as.kind,
        outcome="received",
        issued_on=issued_on,
        content_sha256=digest,
    )
    token = signer.sign(claims)
    pdf = render(verification_context(ctx, token))
    try:
        with unit_of_work(ctx.engine) as session:
            _store(session, case, stored_as, pdf, claims, token, content, signer.kid)
            publish_key(session, signer)
    except IntegrityError:
        pass  # filed by a concurrent request a moment earlier; that one is the receipt
    with Session(ctx.engine) as session:
        filed = _filed(session, case_id, stored_as.definition_id)
    if filed is None:
        raise LookupError(f"receipt {stored_as.definition_id} of case {case_id} not filed")
    return filed


def _filed(session: Session, case_id: str, definition_id: str) -> Document | None:
    found = session.exec(
        select(Document).where(Document.case_id == case_id, Document.definition_id == definition_id)
    ).first()
    if found is not None:
        session.expunge(found)
    return found


def _store(
    session: Session,
    case: Case,
    doc: StoredAs,
    pdf: bytes,
    claims: NoticeClaims,
    token: str,
    content: dict[str, Any],
    kid: str,
) -> str:
    already = session.exec(
        select(Document).where(
            Document.case_id == case.id, Document.definition_id == doc.definition_id
        )
    ).first()
    if already is not None:
        return already.id
    sha = hashlib.sha256(pdf).hexdigest()
    document = Document(
        case_id=case.id,
        definition_id=doc.definition_id,
        kind=doc.kind,
        title=doc.title,
        filename=f"{doc.definition_id}-{case.reference}.pdf",
        sha256=sha,
        size=len(pdf),
        content=pdf,
    )
    session.add(document)
    session.flush()
    session.add(
        IssuedNotice(
            document_id=document.id,
            case_id=case.id,
            reference=case.reference,
            kind=doc.kind,
            title=doc.title,
            service=claims.service,
            outcome=claims.outcome,
            issued_on=claims.issued_on,
            kid=kid,
            token=token,
            content=content,
            content_sha256=claims.content_sha256,
            pdf_sha256=sha,
        )
    )
    record_event(
        session,
        case.id,
        "document_issued",
        actor="system",
        payload={"document": document.id, "kind": doc.kind, "sha256": sha, "kid": kid},
        idempotency_key=f"document:{doc.definition_id}",
    )
    return document.id
