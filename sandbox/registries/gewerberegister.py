"""Sandbox Gewerberegister: businesses by owner (Gewerbeanzeigen, § 14 GewO)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter

from sandbox.population import LazyPopulation
from sandbox.population_model import Population
from sandbox.registries.common import (
    Abfrage,
    Eintrag,
    at_half_past_nine,
    build_abfrage_router,
    iso,
)

AUTHORITY = "Stadt Köln – Gewerbeamt"

ATTRIBUTES: tuple[str, ...] = (
    "betriebe",
    "anzahl_betriebe",
    "betrieb.name",
    "betrieb.taetigkeit",
    "betrieb.beginn",
)


def _lookup(population: Population, body: Abfrage) -> Eintrag:
    """The register answers for any tax id: someone who registered nothing owns nothing."""
    businesses = sorted(population.businesses.get(body.idnr or "", []), key=lambda b: b.started_on)
    only = businesses[0] if len(businesses) == 1 else None
    values: dict[str, Any] = {
        "betriebe": [
            {
                "name": b.name,
                "taetigkeit": b.activity,
                "rechtsform": b.legal_form,
                "beginn": iso(b.started_on),
                "anschrift": {
                    "strasse": b.address.strasse,
                    "hausnummer": b.address.hausnummer,
                    "plz": b.address.plz,
                    "ort": b.address.ort,
                },
            }
            for b in businesses
        ],
        "anzahl_betriebe": len(businesses),
        "betrieb.name": only.name if only else None,
        "betrieb.taetigkeit": only.activity if only else None,
        "betrieb.beginn": iso(only.started_on) if only else None,
    }
    if not businesses:
        return Eintrag(None, at_half_past_nine(population.today), values)
    hints = (
        {name: "mehrdeutig" for name in ("betrieb.name", "betrieb.taetigkeit", "betrieb.beginn")}
        if len(businesses) > 1
        else {}
    )
    return Eintrag(
        record_id=businesses[0].record_id,
        # § 14 Abs. 1 GewO: the Anzeige is due when the business starts; entered a week later.
        stand=at_half_past_nine(max(b.started_on for b in businesses) + timedelta(days=7)),
        werte=values,
        hinweise=hints,
    )


def build_gewerberegister_router(
    population: LazyPopulation, *, request_log_size: int = 100
) -> APIRouter:
    return build_abfrage_router(
        prefix="/gewerberegister/v1",
        tag="Gewerberegister",
        resource="inhaber",
        authority=AUTHORITY,
        attributes=ATTRIBUTES,
        population=population,
        lookup=_lookup,
        request_log_size=request_log_size,
    )
