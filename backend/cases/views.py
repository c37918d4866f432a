"""What the API and the portal show of applications and cases: plain values, no ORM objects."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel

from backend.definitions.models import ServiceDefinition
from backend.models import Application, Case, Document, aware


class Text(BaseModel):
    de: str
    en: str


class SourceView(BaseModel):
    """Where a held value comes from."""

    registry: str
    registry_title: str
    record_id: str | None
    as_of: datetime


class FieldView(BaseModel):
    id: str
    label: Text
    type: str
    required: bool
    origin: Literal["registry", "citizen"]
    """registry: held by the administration, the citizen confirms; citizen: entered by them."""
    value: Any
    source: SourceView | None
    prefill_status: Literal["ok", "empty", "failed"] | None
    prefill_reason: str | None
    correctable: bool
    disputed: str | None


class ServiceView(BaseModel):
    id: str
    version: str
    leika: str
    title: Text
    description: Text
    department: str
    trust_level: str
    automated: bool
    fields_held: int
    fields_to_enter: int


class ApplicationView(BaseModel):
    id: str
    service: str
    status: str
    fields: list[FieldView]
    remark: str | None
    created_at: datetime
    submitted_at: datetime | None


class DocumentView(BaseModel):
    id: str
    kind: str
    title: str
    filename: str
    size: int
    sha256: str
    url: str


class ReasonView(BaseModel):
    rule_id: str
    legal_reference: str
    text: Text


class DecisionView(BaseModel):
    outcome: str
    reasons: list[ReasonView]
    amounts: dict[str, str]
    rule_version: str
    referral_reasons: list[str]


class CaseView(BaseModel):
    id: str
    reference: str
    service: str
    status: str
    waiting_for: str | None
    submitted_at: datetime
    decided_at: datetime | None
    decision: DecisionView | None
    documents: list[DocumentView]


def service_view(d: ServiceDefinition) -> ServiceView:
    held = sum(1 for f in d.fields if f.source is not None)
    return ServiceView(
        id=d.id,
        version=d.version,
        leika=d.leika,
        title=Text(de=d.title.de, en=d.title.en),
        description=Text(de=d.description.de, en=d.description.en),
        department=d.department,
        trust_level=d.trust_level,
        automated=bool(d.automation.legal_basis),
        fields_held=held,
        fields_to_enter=len(d.fields) - held,
    )


def application_view(definition: ServiceDefinition, app: Application) -> ApplicationView:
    fields: list[FieldView] = []
    for f in definition.fields:
        entry = app.prefill.get(f.id)
        held = bool(entry and entry.get("status") == "ok")
        prov = entry.get("provenance") if entry else None
        fields.append(
            FieldView(
                id=f.id,
                label=Text(de=f.label.de, en=f.label.en),
                type=f.type,
                required=f.required,
                origin="registry" if held else "citizen",
                value=(entry or {}).get("value") if held else app.answers.get(f.id),
                source=SourceView(
                    registry=prov["registry"],
                    registry_title=prov.get("registry_title") or prov["registry"],
                    record_id=prov.get("record_id"),
                    as_of=prov["as_of"],
                )
                if held and prov
                else None,
                prefill_status=entry.get("status") if entry else None,
                prefill_reason=entry.get("reason") if entry else None,
                correctable=f.correctable,
                disputed=app.disputes.get(f.id),
            )
        )
    return ApplicationView(
        id=app.id,
        service=app.service,
        status=app.status,
        fields=fields,
        remark=app.remark,
        created_at=aware(app.created_at),
        submitted_at=aware(app.submitted_at) if app.submitted_at else None,
    )


def decision_view(stored: dict[str, Any] | None) -> DecisionView | None:
    if not stored:
        return None
    return DecisionView(
        outcome=stored.get("outcome", ""),
        reasons=[
            ReasonView(
                rule_id=r.get("rule_id", ""),
                legal_reference=r.get("legal_reference", ""),
                text=Text(
                    de=(r.get("text") or {}).get("de", ""), en=(r.get("text") or {}).get("en", "")
                ),
            )
            for r in stored.get("reasons", [])
        ],
        amounts={k: str(v) for k, v in (stored.get("amounts") or {}).items()},
        rule_version=stored.get("rule_version", ""),
        referral_reasons=list(stored.get("referral_reasons", [])),
    )


def case_view(case: Case, documents: list[Document], url_prefix: str = "/api/v1") -> CaseView:
    return CaseView(
        id=case.id,
        reference=case.reference,
        service=case.service,
        status=case.status,
        waiting_for=case.waiting_for,
        submitted_at=aware(case.submitted_at),
        decided_at=aware(case.decided_at) if case.decided_at else None,
        decision=decision_view(case.decision),
        documents=[
            DocumentView(
                id=d.id,
                kind=d.kind,
                title=d.title,
                filename=d.filename,
                size=d.size,
                sha256=d.sha256,
                url=f"{url_prefix}/cases/{case.id}/documents/{d.id}",
            )
            for d in documents
        ],
    )


def as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
