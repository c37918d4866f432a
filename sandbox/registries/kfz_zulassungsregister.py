"""Sandbox Kfz-Zulassungsregister: vehicles by holder, with plate, class and holder address."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter

from sandbox.population import LazyPopulation
from sandbox.population_model import Population, register_office
from sandbox.registries.common import (
    Abfrage,
    Eintrag,
    at_half_past_nine,
    build_abfrage_router,
    iso,
)

AUTHORITY = "Stadt Köln – Straßenverkehrsamt, Zulassungsstelle"

ATTRIBUTES: tuple[str, ...] = (
    "fahrzeuge",
    "anzahl_fahrzeuge",
    "kennzeichen",
    "fahrzeugklasse",
    "halteranschrift.strasse",
    "halteranschrift.hausnummer",
    "halteranschrift.plz",
    "halteranschrift.ort",
)


def _lookup(population: Population, body: Abfrage) -> Eintrag:
    """The register answers for any tax id: someone it has no vehicle for holds none."""
    idnr = body.idnr or ""
    vehicles = sorted(population.vehicles.get(idnr, []), key=lambda v: v.registered_on)
    person = population.persons.get(idnr)
    address = population.holder_addresses.get(idnr) or (person.address if person else None)
    if not vehicles:
        address = None
    only = vehicles[0] if len(vehicles) == 1 else None
    values: dict[str, Any] = {
        "fahrzeuge": [
            {
                "kennzeichen": v.plate,
                "fahrzeugklasse": v.vehicle_class,
                "marke": v.make,
                "zugelassen_am": iso(v.registered_on),
            }
            for v in vehicles
        ],
        "anzahl_fahrzeuge": len(vehicles),
        "kennzeichen": only.plate if only else None,
        "fahrzeugklasse": only.vehicle_class if only else None,
        "halteranschrift.strasse": address.strasse if address else None,
        "halteranschrift.hausnummer": address.hausnummer if address else None,
        "halteranschrift.plz": address.plz if address else None,
        "halteranschrift.ort": address.ort if address else None,
    }
    hints = (
        {"kennzeichen": "mehrdeutig", "fahrzeugklasse": "mehrdeutig"} if len(vehicles) > 1 else {}
    )
    if not vehicles:
        # Nothing registered: no record to date the answer by, so it is as of today.
        return Eintrag(None, at_half_past_nine(population.today), values)
    digest = hashlib.sha256(f"kfz:{idnr}".encode()).hexdigest()[:10].upper()
    return Eintrag(
        record_id=f"KFZ-K-{digest}",
        stand=at_half_past_nine(max(v.registered_on for v in vehicles)),
        werte=values,
        hinweise=hints,
        behoerde=register_office(address.plz, "kfz") if address else None,
    )


def build_kfz_zulassungsregister_router(
    population: LazyPopulation, *, request_log_size: int = 100
) -> APIRouter:
    return build_abfrage_router(
        prefix="/kfz-zulassungsregister/v1",
        tag="Kfz-Zulassungsregister",
        resource="halter",
        authority=AUTHORITY,
        attributes=ATTRIBUTES,
        population=population,
        lookup=_lookup,
        request_log_size=request_log_size,
    )
