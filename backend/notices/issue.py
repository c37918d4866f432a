"""Issuing a case's documents: render the service's template with a signed QR code, store both."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from backend.cases.audit import record_event
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import Document as DocumentDefinition
from backend.definitions.models import ServiceDefinition
from backend.documents.render import local_date
from backend.domain.provenance import unconfirmed, value_sources
from backend.domain.remedy import remedy_for
from backend.errors import Conflict
from backend.models import Case, Document, aware, utcnow
from backend.models_engine import IssuedNotice, Payment
from backend.notices.claims import NoticeClaims, content_sha256
from backend.notices.qr import qr_data_url
from backend.notices.signing import publish_key, signer_for


class UncertifiedContent(Conflict):
    """A certificate of register content would print values no register delivered."""

    code = "uncertified_register_content"


def check_certifiable(definition: ServiceDefinition, doc: DocumentDefinition, case: Case) -> None:
    """A document that certifies a register's content prints only what a register delivered
    or a clerk confirmed; anything else would certify what nobody checked."""
    if doc.certifies_register is None:
        return
    held = [f.id for f in definition.fields if f.source is not None]
    typed = unconfirmed(case.data or {}, held)
    if typed:
        raise UncertifiedContent(
            f"„{doc.title.de}“ bescheinigt Registerinhalte, aber diese Angaben stammen nicht "
            f"aus dem Register: {', '.join(typed)}. Eine Person muss entscheiden. "
            f"({doc.title.en} certifies register content; not from the register: "
            f"{', '.join(typed)}.)"
        )


def verification_url(ctx: AppContext, token: str | None = None) -> str:
    base = f"{ctx.settings.base_url}/verify"
    return f"{base}?t={token}" if token else base


def _typed_fields(definition: ServiceDefinition, values: dict[str, Any]) -> dict[str, Any]:
    typed: dict[str, Any] = {}
    for field in definition.fields:
        raw = values.get(field.id)
        if field.type == "date" and isinstance(raw, str):
            try:
                typed[field.id] = date.fromisoformat(raw)
            except ValueError:
                typed[field.id] = raw
        elif field.type == "decimal" and isinstance(raw, str):
            typed[field.id] = Decimal(raw)
        else:
            typed[field.id] = raw
    return typed


def _provenance(case: Case) -> dict[str, Any]:
    provenance: dict[str, Any] = {}
    for field_id, origin in (case.data.get("provenance") or {}).items():
        if origin:
            as_of = origin.get("as_of")
            provenance[field_id] = {
                "registry_title": origin.get("registry_title") or origin.get("registry"),
                "as_of": datetime.fromisoformat(as_of).date() if as_of else None,
            }
    return provenance


def _fees(definition: ServiceDefinition, amounts: dict[str, Any]) -> list[dict[str, Any]]:
    fees = []
    for fee in definition.fees:
        if fee.id in amounts and Decimal(str(amounts[fee.id])) > 0:
            fees.append(
                {
                    "id": fee.id,
                    "label": fee.label.de,
                    "amount": Decimal(str(amounts[fee.id])),
                    "legal_reference": fee.legal_reference,
                }
            )
    return fees


def printed_content(
    ctx: AppContext,
    case: Case,
    definition: ServiceDefinition,
    doc: DocumentDefinition,
    issued_on: date,
    payment: Payment | None,
) -> dict[str, Any]:
    """The content a document states, in JSON; its digest goes into the signed QR code."""
    decision = case.decision or {}
    return {
        "authority": definition.authority or ctx.settings.authority_name,
        "reference": case.reference,
        "service": definition.id,
        "service_version": case.service_version,
        "document": doc.id,
        "kind": doc.kind,
        "title": doc.title.de,
        "issued_on": issued_on.isoformat(),
        "outcome": case.outcome,
        "addressee": (case.data.get("addressee") or {}).get("name", ""),
        "values": dict(case.data.get("values") or {}),
        "amounts": {k: str(v) for k, v in (decision.get("amounts") or {}).items()},
        "fees": [
            {"id": f["id"], "label": f["label"], "amount": str(f["amount"])}
            for f in _fees(definition, decision.get("amounts") or {})
        ],
        "reasons": [
            {"text": (r.get("text") or {}).get("de", ""), "ref": r.get("legal_reference", "")}
            for r in decision.get("reasons", [])
        ],
        "payment": (
            {"amount": payment.amount, "paid_on": local_date(aware(payment.paid_at)).isoformat()}
            if payment is not None and payment.paid_at is not None
            else None
        ),
    }


def template_context(
    ctx: AppContext,
    case: Case,
    definition: ServiceDefinition,
    doc: DocumentDefinition,
    issued_on: date,
    payment: Payment | None,
    *,
    automated: bool,
) -> dict[str, Any]:
    """Everything the shared layouts (base.html, bescheid_layout.html) and a service's own
    template may use."""
    values = dict(case.data.get("values") or {})
    typed = _typed_fields(definition, values)
    sources = value_sources(case.data or {})

    def source(field_id: str) -> str:
        """Where a printed value comes from, so no template hard-codes a register."""
        found = sources.get(field_id)
        return found.sentence("de") if found is not None else ""

    decision = case.decision or {}
    amounts = {k: Decimal(str(v)) for k, v in (decision.get("amounts") or {}).items()}
    address_lines = [
        f"{typed.get('strasse') or ''} {typed.get('hausnummer') or ''}".strip(),
        f"{typed.get('plz') or ''} {typed.get('ort') or ''}".strip(),
    ]
    return {
        "authority": definition.authority or ctx.settings.authority_name,
        # The Rechtsbehelfsbelehrung comes from the service's regime and authority, never from
        # platform settings: a Kindergeld notice names the Familienkasse, not the city hall.
        "remedy": remedy_for(definition.procedure).printed() if definition.procedure else None,
        "reference": case.reference,
        "issued_on": issued_on,
        "title": doc.title.de,
        "addressee": {
            "name": (case.data.get("addressee") or {}).get("name", ""),
            "lines": [line for line in address_lines if line],
        },
        "automated": automated,
        "fields": typed,
        "provenance": _provenance(case),
        "source": source,
        "decision": decision,
        "outcome": case.outcome,
        "service_title": definition.title.de,
        "legal_basis": definition.legal_basis,
        "submitted_on": local_date(aware(case.submitted_at)),
        "reasons": [
            {
                "text": (r.get("text") or {}).get("de", ""),
                "legal_reference": r.get("legal_reference", ""),
                "effect": r.get("outcome_effect", ""),
            }
            for r in decision.get("reasons", [])
        ],
        "amounts": amounts,
        "categories": dict(decision.get("categories") or {}),
        "fees": _fees(definition, amounts),
        "payment": (
            {"amount": Decimal(payment.amount), "paid_on": local_date(aware(payment.paid_at))}
            if payment is not None and payment.paid_at is not None
            else None
        ),
    }


def issue_documents(ctx: AppContext, case_id: str, *, automated: bool) -> list[str]:
    """Render and store every document the definition issues for the outcome, each once.

    Rendering happens outside any write transaction (it takes a tenth of a second and SQLite
    has one writer); the insert then re-checks, so a concurrent retry stores nothing twice.
    """
    signer = signer_for(ctx.settings.data_dir)
    issued: list[str] = []
    with unit_of_work(ctx.engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            raise LookupError(f"case {case_id} vanished")
        definition = ctx.catalogue.get(case.service, case.service_version)
        folder = ctx.catalogue.folder(case.service)
        payment = session.exec(select(Payment).where(Payment.case_id == case_id)).first()
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
            ctx, case, definition, doc, issued_on, payment, automated=automated
        )
        link = verification_url(ctx, token)
        context["qr_data_url"] = qr_data_url(link)
        context["verification_link"] = link
        context["verification_url"] = verification_url(ctx)
        pdf = ctx.renderer.render(folder, doc.template, context)
        with unit_of_work(ctx.engine) as session:
            issued.append(_store(session, case, doc, pdf, claims, token, content, signer.kid))
            publish_key(session, signer)
    return issued


def _store(
    session: Session,
    case: Case,
    doc: DocumentDefinition,
    pdf: bytes,
    claims: NoticeClaims,
    token: str,
    content: dict[str, Any],
    kid: str,
) -> str:
    already = session.exec(
        select(Document).where(Document.case_id == case.id, Document.definition_id == doc.id)
    ).first()
    if already is not None:
        return already.id
    sha = hashlib.sha256(pdf).hexdigest()
    document = Document(
        case_id=case.id,
        definition_id=doc.id,
        kind=doc.kind,
        title=doc.title.de,
        filename=f"{doc.id}-{case.reference}.pdf",
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
            title=doc.title.de,
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
        idempotency_key=f"document:{doc.id}",
    )
    return document.id
