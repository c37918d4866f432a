"""What a case's notice states: the signed content and the template context, from the case."""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from backend.columns import aware
from backend.context import AppContext
from backend.definitions.display import display_value
from backend.definitions.models import Document as DocumentDefinition
from backend.definitions.models import ServiceDefinition
from backend.documents.render import local_date
from backend.domain.decision import stated_reasons
from backend.domain.levy import instalments, kassenzeichen, liability_start
from backend.domain.provenance import value_sources
from backend.domain.remedy import remedy_for
from backend.errors import Conflict
from backend.payments.models import Payment
from backend.records.models import Case
from backend.tenants.loader import Tenancy


class UncertifiedContent(Conflict):
    """A certificate of register content would print values no register delivered."""

    code = "uncertified_register_content"


def check_certifiable(definition: ServiceDefinition, doc: DocumentDefinition, case: Case) -> None:
    """A document that certifies a register's content ("Aufgrund der Eintragungen im
    Melderegister wird bescheinigt") prints only what the register delivered. A clerk's
    confirmation makes a value the authority's statement, not the register's content."""
    if doc.certifies_register is None:
        return
    typed = not_from_register(definition, case.data or {})
    if typed:
        raise UncertifiedContent(
            f"„{doc.title.de}“ bescheinigt Registerinhalte, aber diese Angaben stammen nicht "
            f"aus dem Register: {', '.join(typed)}. Eine Person muss entscheiden. "
            f"({doc.title.en} certifies register content; not from the register: "
            f"{', '.join(typed)}.)"
        )


def not_from_register(definition: ServiceDefinition, data: dict[str, Any]) -> list[str]:
    """Register-filled fields holding a value the register did not deliver (typed, confirmed
    or corrected by a person)."""
    sources = value_sources(data)
    values = data.get("values") or {}
    return [
        f.id
        for f in definition.fields
        if f.source is not None
        and values.get(f.id) not in (None, "", [])
        and not (f.id in sources and sources[f.id].from_register)
    ]


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


def _levies(definition: ServiceDefinition, case: Case, issued_on: date) -> list[dict[str, Any]]:
    """Taxes and charges the approving notice fixes: Kassenzeichen, every instalment owed up to
    the end of the year with its due day, the regular share after that, the account."""
    if case.outcome != "approved":
        return []
    amounts = (case.decision or {}).get("amounts") or {}
    values = case.data.get("values") or {}
    printed = []
    for levy in definition.levies:
        raw_start = values.get(levy.due.liable_from_field)
        if levy.annual_amount not in amounts or not raw_start:
            continue
        annual = Decimal(str(amounts[levy.annual_amount]))
        owed = instalments(
            annual,
            date.fromisoformat(str(raw_start)),
            issued_on,
            levy.due.dates,
            starts=levy.due.liability_starts,
            arrears_due_days=levy.due.arrears_due_days,
        )
        share = (annual / len(levy.due.dates)).quantize(Decimal("0.01"))
        printed.append(
            {
                "id": levy.id,
                "kind": levy.kind,
                "label": levy.label.de,
                "legal_reference": levy.legal_reference,
                "kassenzeichen": kassenzeichen(levy.kassenzeichen_prefix, case.reference),
                "annual": annual,
                "share": share,
                "due_days": [date(2000, int(d[:2]), int(d[3:])) for d in levy.due.dates],
                "due_reference": levy.due.legal_reference,
                "liable_from": liability_start(
                    date.fromisoformat(str(raw_start)), levy.due.liability_starts
                ),
                "following_year": max(issued_on.year, owed[-1].period_to.year if owed else 0) + 1,
                "instalments": owed,
                "arrears_due_days": levy.due.arrears_due_days,
                "payee": levy.payee.model_dump(),
            }
        )
    return printed


def _levies_content(levies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The levies as JSON for the signed digest: a changed due day or account is detected."""
    return [
        {
            "id": levy["id"],
            "kassenzeichen": levy["kassenzeichen"],
            "annual": str(levy["annual"]),
            "iban": levy["payee"]["iban"],
            "instalments": [
                [i.due_on.isoformat(), str(i.amount), i.period_from.isoformat()]
                for i in levy["instalments"]
            ],
        }
        for levy in levies
    ]


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
            for r in stated_reasons(case.outcome, decision.get("reasons", []))
        ],
        "payment": (
            {"amount": payment.amount, "paid_on": local_date(aware(payment.paid_at)).isoformat()}
            if payment is not None and payment.paid_at is not None
            else None
        ),
        **(
            {"levies": _levies_content(levies)}
            if (levies := _levies(definition, case, issued_on))
            else {}
        ),
    }


def template_context(
    default_authority: str,
    case: Case,
    definition: ServiceDefinition,
    doc: DocumentDefinition,
    issued_on: date,
    payment: Payment | None,
    *,
    automated: bool,
    official: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the shared layouts (base.html, bescheid_layout.html) and a service's own
    template may use; the platform's authority name stands where the service names none."""
    values = dict(case.data.get("values") or {})
    typed = _typed_fields(definition, values)
    sources = value_sources(case.data or {})

    def source(field_id: str) -> str:
        """Where a printed value comes from, so no template hard-codes a register."""
        found = sources.get(field_id)
        return found.sentence("de") if found is not None else ""

    decision = case.decision or {}
    # § 35a VwVfG, § 155 Abs. 4 AO, § 31a SGB X: "automatisiert" only where no person decided
    # or stood behind a value; a person's decision names them (§ 37 Abs. 3 VwVfG).
    automated = automated and not any(s.kind == "clerk" for s in sources.values())
    amounts = {k: Decimal(str(v)) for k, v in (decision.get("amounts") or {}).items()}
    address_lines = [
        f"{typed.get('strasse') or ''} {typed.get('hausnummer') or ''}".strip(),
        f"{typed.get('plz') or ''} {typed.get('ort') or ''}".strip(),
    ]
    return {
        "authority": definition.authority or default_authority,
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
        "official": official,
        "fields": typed,
        # The application as the citizen gave and confirmed it, label, value in German and where
        # the value comes from, in the definition's order: a notice can list it without naming
        # each field (designer).
        "answers": [
            {
                "label": f.label.de,
                "value": display_value(f, values[f.id], "de"),
                "source": source(f.id),
            }
            for f in definition.fields
            if f.type != "file" and values.get(f.id) not in (None, "")
        ],
        "provenance": _provenance(case),
        "source": source,
        "decision": decision,
        "outcome": case.outcome,
        "decision_kind": definition.decision_kind,
        "service_title": definition.title.de,
        "legal_basis": definition.legal_basis,
        "submitted_on": local_date(aware(case.submitted_at)),
        "reasons": [
            {
                "text": (r.get("text") or {}).get("de", ""),
                "legal_reference": r.get("legal_reference", ""),
                "effect": r.get("outcome_effect", ""),
            }
            # Only what carried the outcome; the case file keeps the full evaluation.
            for r in stated_reasons(case.outcome, decision.get("reasons", []))
        ],
        "amounts": amounts,
        "categories": dict(decision.get("categories") or {}),
        "fees": _fees(definition, amounts),
        "levies": _levies(definition, case, issued_on),
        "payment": (
            {"amount": Decimal(payment.amount), "paid_on": local_date(aware(payment.paid_at))}
            if payment is not None and payment.paid_at is not None
            else None
        ),
    }


def sender_context(tenancy: Tenancy, tenant_id: str | None) -> dict[str, Any]:
    """The issuing tenant's logo and postal address for the letterhead (issue 13, item 5): a
    row without a tenant is the home tenant's; a platform without tenants prints neither."""
    tenant = tenancy.tenants.get(tenant_id) if tenant_id is not None else tenancy.home
    if tenant is None:
        return {}
    context: dict[str, Any] = {"sender_address": f"{tenant.name} · {tenant.address}"}
    logo = tenant.branding.logo
    if logo is not None:
        file = tenancy.folders[tenant.id] / logo
        kind = "image/svg+xml" if file.suffix.lower() == ".svg" else "image/png"
        encoded = base64.b64encode(file.read_bytes()).decode("ascii")
        context["sender_logo"] = f"data:{kind};base64,{encoded}"
    return context
