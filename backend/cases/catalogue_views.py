"""What the catalogue shows of a service before the citizen starts: fields, uploads, fees and
levies as they stand today."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel

from backend.cases.views import Text, _text
from backend.definitions.constraints import local_today
from backend.definitions.fee_amounts import fee_today
from backend.definitions.models import ServiceDefinition
from prefill.connectors.registry import ConnectorRegistry


class FeeView(BaseModel):
    id: str
    label: Text
    amount: Decimal | None
    """The fee today; None when it depends on the application's details."""
    legal_reference: str


class LevyRateView(BaseModel):
    label: Text
    amount: Decimal | None
    """The rate a year today, from its dated parameter; None if none applies today."""


class LevyView(BaseModel):
    """A tax or charge the service's notice assesses, shown apart from fees: 'kostenlos' next
    to a tax of 156 € a year misled citizens (issue 20)."""

    id: str
    kind: Literal["tax", "charge"]
    label: Text
    rates: list[LevyRateView]
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
    levies: list[LevyView] = []
    typical_duration: Text | None = None
    life_situations: list[str] = []
    keywords: dict[str, list[str]] = {}
    draft_lifetime_days: int = 30


def _rate_today(definition: ServiceDefinition, parameter: str, today: date) -> Decimal | None:
    """A levy's rate as the catalogue states it: the parameter's value valid today."""
    value = definition.parameters_on(today).get(parameter)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


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
    day = today or local_today()
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
        levies=[
            LevyView(
                id=levy.id,
                kind=levy.kind,
                label=_text(levy.label),
                rates=[
                    LevyRateView(
                        label=_text(rate.label), amount=_rate_today(d, rate.parameter, day)
                    )
                    for rate in levy.rates
                ],
                legal_reference=levy.legal_reference,
            )
            for levy in d.levies
        ],
        typical_duration=_text(d.typical_duration) if d.typical_duration else None,
        life_situations=list(d.life_situations),
        keywords={"de": d.keywords.get("de"), "en": d.keywords.get("en")},
        draft_lifetime_days=d.draft_lifetime_days,
    )
