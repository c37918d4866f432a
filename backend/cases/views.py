"""What the API and the portal show of applications and cases: plain values, no ORM objects."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel

from backend.columns import aware
from backend.definitions.answers import held_options, register_said_none
from backend.definitions.constraints import local_today
from backend.definitions.models import DEFAULT_TOPIC, Field, ServiceDefinition
from backend.domain.decision import stated_reasons
from backend.records.models import Application, Case, CaseEvent, Document
from backend.uploads.models import Upload


class Text(BaseModel):
    de: str
    en: str


class SourceView(BaseModel):
    """Where a held value comes from."""

    registry: str
    registry_title: str
    record_id: str | None
    as_of: datetime


class OptionView(BaseModel):
    value: str
    label: Text


class FieldView(BaseModel):
    id: str
    label: Text
    type: str
    required: bool
    help: Text | None = None
    topic: str = DEFAULT_TOPIC
    """The question page the field is asked on, when the citizen has to answer it."""
    options: list[OptionView] = []
    options_from: str | None = None
    """Choice fields: the id of the held list whose records are the options."""
    accept: list[str] = []
    """File fields: the accepted media types."""
    max_size_bytes: int | None = None
    max_length: int | None = None
    """Text fields: most characters accepted (the definition's, the register's or the platform's
    default); None for types bounded otherwise (dates, numbers, choices, files)."""
    min_length: int | None = None
    charset: str | None = None
    """Text fields: the DIN 91379 data type answers keep to (din91379-a … -e); None otherwise."""
    minimum: int | float | None = None
    """Number fields: the smallest answer accepted (declared min, else a coordinate's range)."""
    maximum: int | float | None = None
    not_before: date | None = None
    """Date fields: the earliest day accepted today (relative bounds already resolved)."""
    not_after: date | None = None
    pattern: str | None = None
    """Text fields: the regular expression the whole answer must match."""
    grouped: bool = False
    """In a topic's one_of groups: needed unless another group is given, so not 'optional'."""
    origin: Literal["registry", "citizen"]
    """registry: held by the administration, the citizen confirms; citizen: entered by them."""
    asked: bool = True
    """Whether the portal asks the citizen: not for held values, nor for optional ones a
    register answered with "none" (answers.register_said_none)."""
    value: Any
    source: SourceView | None
    prefill_status: Literal["ok", "empty", "failed"] | None
    prefill_reason: str | None
    prefill_blocked: bool = False
    """The register holds an information block on the value (§ 51 BMG): withheld, or (when
    read for the person herself) shown to her with that note."""
    correctable: bool
    disputed: str | None


class ApplicationView(BaseModel):
    id: str
    service: str
    tenant: str | None = None
    """The authority it is made to (see CaseView.tenant)."""
    status: str
    fields: list[FieldView]
    remark: str | None
    created_at: datetime
    submitted_at: datetime | None


class DocumentView(BaseModel):
    id: str
    kind: str
    title: str
    definition: str = ""
    """Id of the document in the service definition, whose title exists in both languages."""
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
    tenant: str | None = None
    """The authority that decides it (tenants/<id>); None: the platform's home authority or,
    for a service no town decides, the body its procedure names."""
    status: str
    waiting_for: str | None
    submitted_at: datetime
    decided_at: datetime | None
    decision: DecisionView | None
    documents: list[DocumentView]


def _text(value: Any) -> Text:
    return Text(de=value.de, en=value.en)


def _options(field: Field, prefill: dict[str, Any]) -> list[OptionView]:
    """Static options, or the citizen's own held records (the same text in both languages)."""
    if field.options_from is not None:
        return [
            OptionView(value=value, label=Text(de=label, en=label))
            for value, label in held_options(field, prefill)
        ]
    return [OptionView(value=o.value, label=_text(o.label)) for o in field.options]


def application_view(definition: ServiceDefinition, app: Application) -> ApplicationView:
    fields: list[FieldView] = []
    grouped = {
        field_id
        for topic in definition.topics
        if topic.one_of
        for group in topic.one_of.groups
        for field_id in group
    }
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
                help=_text(f.help) if f.help else None,
                topic=f.topic or DEFAULT_TOPIC,
                options=_options(f, app.prefill),
                options_from=f.options_from.field if f.options_from else None,
                accept=f.upload_types if f.type == "file" else [],
                max_size_bytes=f.upload_limit_bytes if f.type == "file" else None,
                max_length=f.length_limit,
                min_length=f.min_length,
                charset=f.text_charset,
                minimum=f.lowest,
                maximum=f.highest,
                not_before=f.earliest.on(local_today()) if f.earliest else None,
                not_after=f.latest.on(local_today()) if f.latest else None,
                pattern=f.pattern.regex if f.pattern else None,
                grouped=f.id in grouped,
                origin="registry" if held else "citizen",
                asked=not held and not register_said_none(f, entry),
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
                prefill_blocked=bool(entry.get("blocked")) if entry else False,
                correctable=f.correctable,
                disputed=app.disputes.get(f.id),
            )
        )
    return ApplicationView(
        id=app.id,
        tenant=app.tenant,
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
            # The citizen's view states what carried the outcome; the console shows every rule.
            for r in stated_reasons(stored.get("outcome"), stored.get("reasons", []))
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
        tenant=case.tenant,
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
                definition=d.definition_id,
                filename=d.filename,
                size=d.size,
                sha256=d.sha256,
                url=f"{url_prefix}/cases/{case.id}/documents/{d.id}",
            )
            for d in documents
        ],
    )


class UploadView(BaseModel):
    """A document the citizen attached: shown by its cleaned name, opened by its random id."""

    id: str
    field: str
    name: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: datetime


def upload_view(upload: Upload) -> UploadView:
    return UploadView(
        id=upload.id,
        field=upload.field_id,
        name=upload.display_name,
        media_type=upload.media_type,
        size=upload.size,
        sha256=upload.sha256,
        uploaded_at=aware(upload.created_at),
    )


class TimelineEntry(BaseModel):
    """One milestone of a case as the citizen sees it, taken from the case log."""

    kind: str
    at: datetime
    actor: Literal["citizen", "system", "clerk"]
    detail: dict[str, str]


TIMELINE_KINDS = frozenset(
    {
        "submitted",
        "decided",
        "referred",
        "document_issued",
        "payment_requested",
        "payment_received",
        "late_payment_received",
        "refund_requested",
        "payment_expired",
        "citizen_notified",
        "question_asked",
        "question_answered",
        "review_requested",
        "objection_lodged",
        "withdrawn",
        "handed_over",
        "handover_accepted",
        "handover_rejected",
    }
)
"""Case-log events a citizen is told about; internal steps (retries, workers) stay in the
console's audit trail."""


def timeline_view(events: list[CaseEvent]) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for event in events:
        if event.type not in TIMELINE_KINDS:
            continue
        actor = event.actor
        who: Literal["citizen", "system", "clerk"] = (
            "citizen" if actor == "citizen" else "system" if actor == "system" else "clerk"
        )
        detail = {
            key: str(event.payload[key])
            for key in ("outcome", "kind", "amount")
            if isinstance(event.payload, dict) and event.payload.get(key) is not None
        }
        entries.append(TimelineEntry(kind=event.type, at=aware(event.at), actor=who, detail=detail))
    return entries
