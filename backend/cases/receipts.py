"""Eingangsbestätigung: proof that and when an application arrived, and what it contained."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from sqlmodel import Session

from backend.auth.tokens import Identity
from backend.cases.deciding import must_be_read
from backend.cases.queries import get_case
from backend.cases.views import as_date, display_value
from backend.context import AppContext
from backend.documents.render import SERVICE_TEMPLATES, SHARED_TEMPLATES_DIR, NoticeRenderer
from backend.domain.provenance import unconfirmed
from backend.models import aware
from backend.uploads.service import StoredFile, application_uploads

RECEIPT_TEMPLATE = f"{SERVICE_TEMPLATES}/receipt.html"
BERLIN = ZoneInfo("Europe/Berlin")


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
    definition = ctx.catalogue.get(case.service, case.service_version)
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
    next_steps = (
        "Ihr Antrag wird jetzt geprüft. Meist ist er innerhalb einer Minute entschieden. "
        if automated
        and not data.get("disputes")
        and not data.get("remark")
        # Typed register facts go to a person (policy: unverified_register_fact).
        and not unconfirmed(data, must_be_read(definition, "approved"))
        else "Eine Sachbearbeiterin oder ein Sachbearbeiter prüft Ihren Antrag. "
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


def receipt_pdf(ctx: AppContext, identity: Identity, case_id: str) -> StoredFile:
    """Render the receipt on request; the same case always gives the same bytes."""
    with Session(ctx.engine) as session:
        context = receipt_context(ctx, session, identity, case_id)
    pdf = _renderer().render(Path("."), RECEIPT_TEMPLATE, context)
    return StoredFile(
        filename=f"eingangsbestaetigung-{context['reference']}.pdf",
        media_type="application/pdf",
        content=pdf,
    )
