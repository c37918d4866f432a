"""What the API and the portal show of applications and cases: plain values, no ORM objects."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import cel
from babel.dates import format_date
from babel.numbers import format_decimal
from pydantic import BaseModel

from backend.cases.answers import held_options
from backend.definitions.models import DEFAULT_TOPIC, Fee, Field, ServiceDefinition
from backend.models import Application, Case, CaseEvent, Document, aware
from backend.models_portal import Upload
from backend.rules import FUNCTIONS, CelSyntaxError, compile_expression, references
from prefill.connectors.registry import ConnectorRegistry


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
    origin: Literal["registry", "citizen"]
    """registry: held by the administration, the citizen confirms; citizen: entered by them."""
    value: Any
    source: SourceView | None
    prefill_status: Literal["ok", "empty", "failed"] | None
    prefill_reason: str | None
    correctable: bool
    disputed: str | None


class FeeView(BaseModel):
    id: str
    label: Text
    amount: Decimal | None
    """The fee today; None when it depends on the application's details."""
    legal_reference: str


class UploadSpec(BaseModel):
    """A document the citizen must or may upload, with its limits, shown before they start."""

    field: str
    label: Text
    required: bool
    accept: list[str]
    max_size_bytes: int


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
    held_from: list[str] = []
    """Titles of the registries that deliver held data."""
    uploads: list[UploadSpec] = []
    fees: list[FeeView] = []
    typical_duration: Text | None = None
    life_situations: list[str] = []
    keywords: dict[str, list[str]] = {}
    draft_lifetime_days: int = 30


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
    status: str
    waiting_for: str | None
    submitted_at: datetime
    decided_at: datetime | None
    decision: DecisionView | None
    documents: list[DocumentView]


def _text(value: Any) -> Text:
    return Text(de=value.de, en=value.en)


def fee_today(definition: ServiceDefinition, fee: Fee, today: date) -> Decimal | None:
    """A fee as the catalogue states it: known when it is a number or reads only parameters."""
    amount: Any = fee.amount
    if isinstance(amount, str):
        try:
            program = compile_expression(amount)
        except CelSyntaxError:
            return None
        roots = {root for root, _name in references(program).members}
        if roots - {"params"} or references(program).unknown_names:
            return None
        params = definition.parameters_on(today)
        try:
            amount = program.execute(cel.Context(variables={"params": params}, functions=FUNCTIONS))
        # The CEL runtime's errors: the fee then depends on the case, and the page says so.
        except (TypeError, KeyError, ValueError, RuntimeError, ZeroDivisionError):
            return None
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return None
    return Decimal(repr(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def service_view(
    d: ServiceDefinition,
    connectors: ConnectorRegistry | None = None,
    today: date | None = None,
) -> ServiceView:
    held = sum(1 for f in d.fields if f.source is not None)
    held_from: list[str] = []
    for connector_id in dict.fromkeys(f.source.connector for f in d.fields if f.source):
        title = connector_id
        if connectors is not None and connector_id in connectors:
            title = connectors.get(connector_id).title
        held_from.append(title)
    day = today or date.today()
    return ServiceView(
        id=d.id,
        version=d.version,
        leika=d.leika,
        title=_text(d.title),
        description=_text(d.description),
        department=d.department,
        trust_level=d.trust_level,
        automated=bool(d.automation.legal_basis),
        fields_held=held,
        fields_to_enter=len(d.fields) - held,
        held_from=held_from,
        uploads=[
            UploadSpec(
                field=f.id,
                label=_text(f.label),
                required=f.required,
                accept=f.upload_types,
                max_size_bytes=f.upload_limit_bytes,
            )
            for f in d.fields
            if f.type == "file"
        ],
        fees=[
            FeeView(
                id=fee.id,
                label=_text(fee.label),
                amount=fee_today(d, fee, day),
                legal_reference=fee.legal_reference,
            )
            for fee in d.fees
        ],
        typical_duration=_text(d.typical_duration) if d.typical_duration else None,
        life_situations=list(d.life_situations),
        keywords={"de": d.keywords.get("de"), "en": d.keywords.get("en")},
        draft_lifetime_days=d.draft_lifetime_days,
    )


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
                definition=d.definition_id,
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


_LOCALES = {"de": "de_DE", "en": "en_GB"}


def display_value(field: Field | FieldView, value: Any, lang: str) -> str:
    """A stored answer as a person reads it: dates, yes/no, options, amounts and files."""
    if value is None or value == "":
        return ""
    if field.type == "date":
        day = as_date(value)
        if day is not None:
            pattern = "dd.MM.yyyy" if lang == "de" else "d MMMM yyyy"
            return str(format_date(day, pattern, locale=_LOCALES.get(lang, "de_DE")))
    if field.type == "boolean" and isinstance(value, bool):
        return {("de", True): "Ja", ("de", False): "Nein"}.get(
            (lang, value), "Yes" if value else "No"
        )
    if field.type == "choice":
        for option in field.options:
            if option.value == value:
                return str(option.label.en if lang == "en" else option.label.de)
    if field.type == "decimal":
        try:
            amount = Decimal(str(value))
            exponent = amount.as_tuple().exponent
            places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
            pattern = "#,##0" + ("." + "0" * places if places else "")
            return str(format_decimal(amount, format=pattern, locale=_LOCALES.get(lang, "de_DE")))
        except ArithmeticError:
            return str(value)
    if field.type == "iban" and isinstance(value, str):
        compact = value.replace(" ", "")
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    if field.type == "file" and isinstance(value, dict):
        return str(value.get("name", ""))
    if isinstance(value, list):
        # A register's list of records (vehicles, children): readable, never a Python repr.
        return "; ".join(_record_text(item, lang) for item in value)
    return str(value)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _record_text(item: Any, lang: str) -> str:
    """One record of a held list: its values in order, names joined, ISO days as dates."""
    if not isinstance(item, dict):
        return _scalar_text(item, lang)
    values = dict(item)
    if isinstance(values.get("vornamen"), str) and isinstance(values.get("familienname"), str):
        values["vornamen"] = f"{values['vornamen']} {values.pop('familienname')}"
    return ", ".join(_scalar_text(v, lang) for v in values.values() if v not in (None, ""))


def _scalar_text(value: Any, lang: str) -> str:
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        day = date.fromisoformat(value)
        pattern = "dd.MM.yyyy" if lang == "de" else "d MMMM yyyy"
        return str(format_date(day, pattern, locale=_LOCALES.get(lang, "de_DE")))
    return str(value)
