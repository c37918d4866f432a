"""Sandbox Geodaten: the residents' parking zone of an address (§ 45 Abs. 1b Nr. 2a StVO).

Looked up by address, not by person: the city's map knows streets, not residents.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter

from sandbox.population import LazyPopulation
from sandbox.population_data import ZONES
from sandbox.population_model import Population, is_known_street, register_office, zone_of
from sandbox.registries.common import Abfrage, Eintrag, at_half_past_nine, build_abfrage_router

AUTHORITY = "Stadt Köln – Amt für Liegenschaften, Vermessung und Kataster"

ATTRIBUTES: tuple[str, ...] = (
    "in_bewohnerparkgebiet",
    "bewohnerparkgebiet",
    "bewohnerparkgebiet.name",
)

ZONE_PLAN_DATE = date(2025, 7, 1)
"""The council resolution the current zone boundaries date from."""


def _lookup(population: Population, body: Abfrage) -> Eintrag | None:
    if body.anschrift is None:
        return None
    address = body.anschrift.as_address()
    if not is_known_street(address):
        return None
    zone = zone_of(address)
    values: dict[str, Any] = {
        "in_bewohnerparkgebiet": zone is not None,
        "bewohnerparkgebiet": zone,
        "bewohnerparkgebiet.name": ZONES[zone] if zone else None,
    }
    return Eintrag(
        record_id=f"BPG-{zone}" if zone else None,
        stand=at_half_past_nine(ZONE_PLAN_DATE),
        werte=values,
        behoerde=register_office(address.plz, "geodaten"),
    )


def build_geodaten_router(population: LazyPopulation, *, request_log_size: int = 100) -> APIRouter:
    return build_abfrage_router(
        prefix="/geodaten/v1",
        tag="Geodaten",
        resource="bewohnerparken",
        authority=AUTHORITY,
        attributes=ATTRIBUTES,
        population=population,
        lookup=_lookup,
        key="anschrift",
        unknown_code="adresse_unbekannt",
        request_log_size=request_log_size,
    )
