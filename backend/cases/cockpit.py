"""Datenschutzcockpit (§ 10 OZG): who read which of my data, when and why, and what the
registries hold about me as my cases used it.

**Decision: a clerk's repeated reads of a case file are grouped when the cockpit is read, not
when they are written.** Every read stays one row in ``registry_accesses``, so the department's
own access log of the case (console case file) remains complete for audit. The citizen sees one
entry per clerk, purpose, case, what was read and calendar day (Europe/Berlin), saying how often:
the access log stores no browser session, and a day is what a citizen can check against.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from backend.auth.tokens import Identity
from backend.cases.queries import list_cases, my_data_accesses
from backend.cases.views import OptionView, Text
from backend.columns import aware
from backend.context import AppContext
from backend.definitions.constraints import GERMAN_ZONE
from backend.definitions.models import ServiceDefinition


class AccessEntry(BaseModel):
    """One registry read: attribute names as the citizen knows them, never values."""

    at: datetime
    registry: str
    registry_title: str
    data: list[Text]
    purpose: str
    legal_basis: str
    service: str
    service_title: Text | None
    actor: str
    """citizen (the citizen's own application), system, or a clerk's id."""
    outcome: str
    count: int = 1
    """How many equal reads this entry stands for (a clerk reloading a case file)."""
    first_at: datetime | None = None
    """The earliest of the grouped reads; ``at`` is the latest."""


CASE_FILE_READ = "Fallakte"
"""Registry id of a clerk's case-file read (backend.department.access.CASE_FILE)."""
BERLIN = GERMAN_ZONE


def _group_key(row: Any) -> tuple[str, str, str, str, str, date] | None:
    """Equal case-file reads of one clerk on one day share a key; registry reads never do."""
    if row.registry_id != CASE_FILE_READ or row.actor in ("citizen", "system"):
        return None
    day = aware(row.at).astimezone(BERLIN).date()
    what = ",".join(row.attributes_requested)
    return (row.actor, row.purpose, row.case_id or "", row.service, what, day)


class HeldItem(BaseModel):
    """One value a registry delivered for one of the citizen's cases."""

    label: Text
    type: str
    options: list[OptionView] = []
    value: Any


class HeldReading(BaseModel):
    """The values one case read from one registry, as of one day."""

    as_of: datetime | None
    record_id: str | None
    case_reference: str
    service_title: Text
    items: list[HeldItem]


class RegistryHoldings(BaseModel):
    registry_title: str
    readings: list[HeldReading]
    """Newest case first; an older case shows only values no newer case showed."""


class Cockpit(BaseModel):
    accesses: list[AccessEntry]
    holdings: list[RegistryHoldings]


def _labels(definition: ServiceDefinition | None, registry: str) -> dict[str, Text]:
    if definition is None:
        return {}
    return {
        f.source.attribute: Text(de=f.label.de, en=f.label.en)
        for f in definition.fields
        if f.source is not None and f.source.connector == registry
    }


def data_cockpit(ctx: AppContext, identity: Identity) -> Cockpit:
    """The citizen's own access log and the registry data their cases were decided on."""

    def definition(service: str) -> ServiceDefinition | None:
        return ctx.catalogue.get(service) if service in ctx.catalogue else None

    def title(service: str) -> Text | None:
        d = definition(service)
        return Text(de=d.title.de, en=d.title.en) if d else None

    with Session(ctx.engine) as session:
        rows = my_data_accesses(session, identity)
        cases = list_cases(session, identity)
    accesses: list[AccessEntry] = []
    groups: dict[tuple[str, str, str, str, str, date], AccessEntry] = {}
    for row in rows:  # newest first
        key = _group_key(row)
        grouped = groups.get(key) if key is not None else None
        if grouped is not None:
            grouped.count += 1
            grouped.first_at = aware(row.at)
            continue
        labels = _labels(definition(row.service), row.registry_id)
        registry_title = (
            ctx.connectors.get(row.registry_id).title
            if row.registry_id in ctx.connectors
            else row.registry_id
        )
        entry = AccessEntry(
            at=aware(row.at),
            registry=row.registry_id,
            registry_title=registry_title,
            data=[labels.get(a) or Text(de=a, en=a) for a in row.attributes_requested],
            purpose=row.purpose,
            legal_basis=row.legal_basis,
            service=row.service,
            service_title=title(row.service),
            actor=row.actor,
            outcome=row.outcome,
            first_at=aware(row.at),
        )
        accesses.append(entry)
        if key is not None:
            groups[key] = entry
    holdings: dict[str, list[HeldReading]] = {}
    shown: dict[str, set[str]] = {}
    for case in cases:  # newest first: the first value seen for a field is the latest
        d = definition(case.service)
        if d is None:
            continue
        data = case.data or {}
        values = data.get("values") or {}
        provenance = data.get("provenance") or {}
        readings: dict[tuple[str, str | None], HeldReading] = {}
        for field in d.fields:
            prov = provenance.get(field.id)
            if not prov or field.id not in values:
                continue
            registry_title = prov.get("registry_title") or prov.get("registry") or ""
            if field.label.de in shown.setdefault(registry_title, set()):
                continue
            shown[registry_title].add(field.label.de)
            as_of = prov.get("as_of")
            reading = readings.get((registry_title, as_of))
            if reading is None:
                reading = readings[(registry_title, as_of)] = HeldReading(
                    as_of=aware(datetime.fromisoformat(as_of)) if as_of else None,
                    record_id=prov.get("record_id"),
                    case_reference=case.reference,
                    service_title=Text(de=d.title.de, en=d.title.en),
                    items=[],
                )
                holdings.setdefault(registry_title, []).append(reading)
            reading.items.append(
                HeldItem(
                    label=Text(de=field.label.de, en=field.label.en),
                    type=field.type,
                    options=[
                        OptionView(value=o.value, label=Text(de=o.label.de, en=o.label.en))
                        for o in field.options
                    ],
                    value=values[field.id],
                )
            )
    return Cockpit(
        accesses=accesses,
        holdings=[
            RegistryHoldings(registry_title=name, readings=readings)
            for name, readings in holdings.items()
        ],
    )
