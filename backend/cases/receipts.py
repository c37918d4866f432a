"""Eingangsbestätigung: proof that and when an application arrived, and what it contained."""

from __future__ import annotations

import logging
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from sqlmodel import Session, select

from backend.auth.tokens import Identity
from backend.cases.deciding import must_be_read
from backend.cases.queries import get_case
from backend.cases.uploads import StoredFile, application_uploads
from backend.columns import aware
from backend.context import AppContext
from backend.definitions.constraints import GERMAN_ZONE
from backend.definitions.display import as_date, display_value
from backend.documents.render import (
    SERVICE_TEMPLATES,
    SHARED_TEMPLATES_DIR,
    NoticeRenderer,
    local_date,
)
from backend.domain.provenance import unconfirmed
from backend.domain.remedy import remedy_for
from backend.notices.issue import StoredAs, issue_receipt
from backend.records.models import Case, CaseTask, Document

RECEIPT_TEMPLATE = f"{SERVICE_TEMPLATES}/receipt.html"
STATEMENT_TEMPLATE = f"{SERVICE_TEMPLATES}/statement_receipt.html"
BERLIN = GERMAN_ZONE
log = logging.getLogger("knopfdruck.receipts")


@lru_cache(maxsize=1)
def _renderer() -> NoticeRenderer:
    """The shared templates folder rendered like a service folder: the receipt is the same for
    every service, so it lives next to the common layout rather than in each service."""
    return NoticeRenderer(SHARED_TEMPLATES_DIR.parent)


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")
    return f"{max(1, round(size / 1024))} KB"


def receipt_context(
    ctx: AppContext, session: Session, identity: Identity, case_id: str
) -> dict[str, Any]:
    """What the receipt states, taken from the frozen case data, never from the live draft."""
    case = get_case(session, identity, case_id)
    definition = ctx.case_definition(case)
    data = case.data or {}
    values: dict[str, Any] = data.get("values") or {}
    origin: dict[str, str] = data.get("origin") or {}
    provenance: dict[str, Any] = data.get("provenance") or {}
    registry_items, citizen_items = [], []
    for field in definition.fields:
        if field.id not in values or field.type == "file":
            continue
        shown = display_value(field, values[field.id], "de")
        if origin.get(field.id) == "registry":
            prov = provenance.get(field.id) or {}
            source = prov.get("registry_title") or prov.get("registry") or ""
            as_of = as_date(str(prov.get("as_of") or "")[:10])
            if as_of is not None:
                source += ", Stand " + format_date(as_of, "dd.MM.yyyy", locale="de_DE")
            registry_items.append({"label": field.label.de, "value": shown, "source": source})
        else:
            citizen_items.append({"label": field.label.de, "value": shown})
    labels = {f.id: f.label.de for f in definition.fields}
    uploads = application_uploads(session, case.application_id)
    received = aware(case.submitted_at)
    automated = bool(definition.automation.legal_basis)
    # Once the machine has referred the case (a rule, the QA sample, a register), the receipt
    # no longer promises a decision within a minute (issue 21 item 5).
    # A clerk's later decision keeps the referral reasons, so the receipt stays the same.
    stored_decision = case.decision or {}
    referred = (
        stored_decision.get("outcome") == "referred"
        or bool(stored_decision.get("referral_reasons"))
        or case.status in ("referred", "in_review")
    )
    person = "Eine Sachbearbeiterin oder ein Sachbearbeiter prüft Ihren Antrag. " + (
        f"Das dauert in der Regel {definition.typical_duration.de}. "
        if definition.typical_duration
        else ""
    )
    next_steps = (
        "Ihr Antrag wird jetzt geprüft. Meist ist er innerhalb einer Minute entschieden. "
        if automated
        and not referred
        and not data.get("disputes")
        and not data.get("remark")
        # Typed register facts go to a person (policy: unverified_register_fact).
        and not unconfirmed(data, must_be_read(definition, "approved"))
        else person
    ) + "Den Stand sehen Sie jederzeit im Portal unter „Meine Anträge“."
    address = [
        f"{values.get('strasse') or ''} {values.get('hausnummer') or ''}".strip(),
        f"{values.get('plz') or ''} {values.get('ort') or ''}".strip(),
    ]
    return {
        "authority": definition.authority or ctx.settings.authority_name,
        "addressee": {
            "name": (data.get("addressee") or {}).get("name", ""),
            "lines": [line for line in address if line],
        },
        "reference": case.reference,
        "issued_on": received,
        "automated": False,
        "service_title": definition.title.de,
        "received_at": format_datetime(
            received, "dd.MM.yyyy 'um' HH:mm 'Uhr'", tzinfo=BERLIN, locale="de_DE"
        ),
        "registry_items": registry_items,
        "citizen_items": citizen_items,
        "disputes": [
            {"label": labels.get(fid, fid), "statement": text}
            for fid, text in (data.get("disputes") or {}).items()
        ],
        "remark": data.get("remark"),
        "attachments": [
            {
                "label": labels.get(u.field, u.field),
                "name": u.name,
                "size": _size(u.size),
                "sha256": u.sha256,
            }
            for u in uploads
        ],
        "next_steps": next_steps,
    }


RECEIPT = StoredAs("eingangsbestaetigung", "receipt", "Eingangsbestätigung")


def _printed(context: dict[str, Any]) -> dict[str, Any]:
    """What a receipt states, as JSON: its digest is signed into the QR code."""
    return {
        key: (value.isoformat() if isinstance(value, datetime | date) else value)
        for key, value in context.items()
        if key not in ("automated", "addressee")
    } | {"addressee": context["addressee"]["name"]}


def receipt_pdf(ctx: AppContext, identity: Identity, case_id: str) -> StoredFile:
    """The Eingangsbestätigung, rendered and filed in the case's documents on first request,
    so /verify knows it; every later request returns the same bytes."""
    with Session(ctx.engine) as session:
        context = receipt_context(ctx, session, identity, case_id)
    document = issue_receipt(
        ctx,
        case_id,
        RECEIPT,
        _printed(context),
        local_date(context["issued_on"]),
        lambda verification: _renderer().render(
            Path("."), RECEIPT_TEMPLATE, context | verification
        ),
    )
    return StoredFile(
        filename=f"eingangsbestaetigung-{context['reference']}.pdf",
        media_type="application/pdf",
        content=document.content,
    )


# A citizen's objection or review request gets its own receipt with the text as submitted:
# proof of what was lodged and when, which matters for the period (§ 70 VwGO, § 355 AO).
STATEMENT_RECEIPTS = {
    "objection": StoredAs("eingang-rechtsbehelf", "receipt", "Eingangsbestätigung Rechtsbehelf"),
    "human_review": StoredAs(
        "eingang-ueberpruefung", "receipt", "Eingangsbestätigung Überprüfungsantrag"
    ),
}


def statement_receipt(ctx: AppContext, case_id: str, task_key: str) -> Document:
    """File the receipt of an objection or review request, quoting the citizen's text."""
    stored_as = STATEMENT_RECEIPTS[task_key]
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        task = session.exec(
            select(CaseTask).where(CaseTask.case_id == case_id, CaseTask.key == task_key)
        ).first()
        if case is None or task is None:
            raise LookupError(f"no {task_key} in case {case_id}")
        definition = ctx.case_definition(case)
        remedy = remedy_for(definition.procedure) if definition.procedure else None
        received = aware(task.created_at)
        data = case.data or {}
        values: dict[str, Any] = data.get("values") or {}
        address = [
            f"{values.get('strasse') or ''} {values.get('hausnummer') or ''}".strip(),
            f"{values.get('plz') or ''} {values.get('ort') or ''}".strip(),
        ]
        if task_key == "objection":
            what = remedy.name("de") if remedy is not None else "Widerspruch"
            heading = f"Eingangsbestätigung: {what}"
            next_steps = (
                f"Die Behörde prüft Ihren {what} und entscheidet darüber durch Bescheid. "
                f"Rechtsgrundlage: {task.legal_basis}."
            )
        else:
            heading = "Eingangsbestätigung: Überprüfung durch eine Person"
            next_steps = (
                "Eine Sachbearbeiterin oder ein Sachbearbeiter prüft die automatisiert "
                "getroffene Entscheidung (Art. 22 Abs. 3 DSGVO) und teilt Ihnen das Ergebnis mit."
            )
        context: dict[str, Any] = {
            "authority": definition.authority or ctx.settings.authority_name,
            "addressee": {
                "name": (data.get("addressee") or {}).get("name", ""),
                "lines": [line for line in address if line],
            },
            "reference": case.reference,
            "issued_on": received,
            "automated": False,
            "title": heading,
            "service_title": definition.title.de,
            "received_at": format_datetime(
                received, "dd.MM.yyyy 'um' HH:mm 'Uhr'", tzinfo=BERLIN, locale="de_DE"
            ),
            "statement": task.statement or "",
            "legal_basis": task.legal_basis,
            "next_steps": next_steps,
        }
    return issue_receipt(
        ctx,
        case_id,
        stored_as,
        _printed(context),
        local_date(received),
        lambda verification: _renderer().render(
            Path("."), STATEMENT_TEMPLATE, context | verification
        ),
    )


def file_statement_receipt(ctx: AppContext, case_id: str, task_key: str) -> None:
    """After the objection or review request is committed: its receipt is a courtesy that must
    never undo or hide the lodging itself, so a failure is logged (without content) only."""
    try:
        statement_receipt(ctx, case_id, task_key)
    except Exception:
        log.exception("receipt for %s of case %s not filed", task_key, case_id)
