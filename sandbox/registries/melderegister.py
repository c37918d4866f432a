"""Sandbox Melderegister: persons, addresses, households, move-ins and information blocks."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from fastapi import APIRouter

from sandbox.personas import Address
from sandbox.population import ADULT_AGE, LazyPopulation, Person, Population, age_on
from sandbox.registries.common import (
    OPTIONAL_HEADERS,
    PURPOSE_HEADERS,
    Abfrage,
    Eintrag,
    at_half_past_nine,
    build_abfrage_router,
    iso,
)

__all__ = [
    "ATTRIBUTES",
    "AUTHORITY",
    "OPTIONAL_HEADERS",
    "PURPOSE_HEADERS",
    "build_melderegister_router",
    "entry_for",
    "record_id_for",
]

AUTHORITY = "Stadt Köln – Meldebehörde"

ATTRIBUTES: tuple[str, ...] = (
    "familienname",
    "vornamen",
    "geburtsname",
    "geburtsdatum",
    "geburtsort",
    "geschlecht",
    "anschrift.strasse",
    "anschrift.hausnummer",
    "anschrift.plz",
    "anschrift.ort",
    "einzugsdatum",
    "fruehere_anschrift.strasse",
    "fruehere_anschrift.hausnummer",
    "fruehere_anschrift.plz",
    "fruehere_anschrift.ort",
    "staatsangehoerigkeit",
    "familienstand",
    "haushalt.personen",
    "haushalt.minderjaehrige",
    "kinder",
    "gesetzliche_vertreter",
    "auskunftssperre",
)

# § 51 Abs. 1 BMG protects a person at risk from having the address disclosed. The sandbox
# withholds it from automated reads; a clerk must ask the Meldebehörde (§ 51 Abs. 2 BMG).
BLOCKED: tuple[str, ...] = tuple(a for a in ATTRIBUTES if "anschrift." in a)

# § 17 Abs. 1 BMG gives two weeks to register; the sandbox says the office took three days.
_REGISTRATION_DELAY = timedelta(days=3)


def record_id_for(idnr: str) -> str:
    """A stable record id that does not reveal the tax id it was derived from."""
    digest = hashlib.sha256(f"melderegister:{idnr}".encode()).hexdigest()[:10].upper()
    return f"MR-KOELN-{digest}"


def _address(prefix: str, address: Address | None) -> dict[str, str | None]:
    return {
        f"{prefix}.strasse": address.strasse if address else None,
        f"{prefix}.hausnummer": address.hausnummer if address else None,
        f"{prefix}.plz": address.plz if address else None,
        f"{prefix}.ort": address.ort if address else None,
    }


def _name(person: Person) -> dict[str, str]:
    return {"vornamen": person.given_name, "familienname": person.family_name}


def entry_for(population: Population, person: Person) -> Eintrag:
    """Everything the Meldebehörde holds about one resident."""
    household = population.household_of(person.idnr)
    is_minor = age_on(person.birthdate, population.today) < ADULT_AGE
    values: dict[str, Any] = {
        "familienname": person.family_name,
        "vornamen": person.given_name,
        "geburtsname": person.birth_name,
        "geburtsdatum": iso(person.birthdate),
        "geburtsort": person.birthplace,
        "geschlecht": person.sex,
        **_address("anschrift", person.address),
        "einzugsdatum": iso(person.moved_in),
        **_address("fruehere_anschrift", person.previous_address),
        "staatsangehoerigkeit": person.nationality,
        "familienstand": person.marital_status,
        "haushalt.personen": len(household),
        "haushalt.minderjaehrige": sum(
            1 for p in household if age_on(p.birthdate, population.today) < ADULT_AGE
        ),
        "kinder": [
            {**_name(child), "geburtsdatum": iso(child.birthdate)}
            for child in sorted(population.minors_of(person.idnr), key=lambda c: c.birthdate)
        ],
        # § 3 Abs. 1 Nr. 9 BMG: the register holds the legal representatives of a minor.
        "gesetzliche_vertreter": [
            _name(population.persons[p]) for p in person.parents if p in population.persons
        ]
        if is_minor
        else [],
        "auskunftssperre": person.auskunftssperre,
    }
    hints: dict[str, str] = {}
    if person.auskunftssperre:
        for name in BLOCKED:
            values[name] = None
            hints[name] = "auskunftssperre"
    return Eintrag(
        record_id=record_id_for(person.idnr),
        stand=at_half_past_nine(person.moved_in + _REGISTRATION_DELAY),
        werte=values,
        hinweise=hints,
    )


def _lookup(population: Population, body: Abfrage) -> Eintrag | None:
    person = population.persons.get(body.idnr or "")
    return entry_for(population, person) if person else None


def build_melderegister_router(
    population: LazyPopulation | None = None, *, request_log_size: int = 100
) -> APIRouter:
    """One Melderegister with its own request log, reading the given population."""
    return build_abfrage_router(
        prefix="/melderegister/v1",
        tag="Melderegister",
        resource="personen",
        authority=AUTHORITY,
        attributes=ATTRIBUTES,
        population=population or LazyPopulation(),
        lookup=_lookup,
        request_log_size=request_log_size,
    )
