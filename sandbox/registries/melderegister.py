"""Sandbox Melderegister: persons, addresses, households, move-ins and information blocks."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter

from sandbox.personas import Address
from sandbox.population import LazyPopulation
from sandbox.population_model import (
    ADULT_AGE,
    Person,
    Population,
    age_on,
    municipality_key,
    register_office,
)
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
    "anschrift.gemeindeschluessel",
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
# The Gemeindeschlüssel stays readable: it names the municipality, not where in it the person
# can be found, and without it her case could not reach the authority competent for it.
BLOCKED: tuple[str, ...] = tuple(
    a for a in ATTRIBUTES if "anschrift." in a and a != "anschrift.gemeindeschluessel"
)

# § 51 Abs. 1 BMG bars a Melderegisterauskunft to third parties; it does not bar the person
# herself. A read whose legal basis is the person's own certificate (§ 18 BMG) or own information
# (§ 10 BMG) is the Meldebehörde serving her, so the register releases what it withholds from
# everyone else. The register decides by the read's declared legal basis, which the reader's
# service definition states and every access log records.
OWN_REQUEST = re.compile(r"§\s*(?:10|18)\b[^§]*\bBMG")


def own_request(headers: Mapping[str, str | None]) -> bool:
    """Whether a read serves the registered person herself (§ 10, § 18 BMG)."""
    return bool(OWN_REQUEST.search(headers.get("X-Legal-Basis") or ""))


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


def last_change(population: Population, person: Person) -> datetime:
    """When the Meldebehörde last changed this record: the move-in, and every later event the
    record shows (a child born, anyone moving into the household), each entered a few days
    after it happened, never later than today. The move-in alone made a record read in 2026
    say "Stand: 04.08.2021" next to a child born that year."""
    events = [
        person.moved_in,
        *(member.moved_in for member in population.household_of(person.idnr)),
        *(child.birthdate for child in population.minors_of(person.idnr)),
    ]
    return at_half_past_nine(min(max(events) + _REGISTRATION_DELAY, population.today))


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
        "anschrift.gemeindeschluessel": municipality_key(person.address.plz),
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
    blocked: dict[str, Any] = {}
    if person.auskunftssperre:
        for name in BLOCKED:
            blocked[name] = values[name]
            values[name] = None
            hints[name] = "auskunftssperre"
    return Eintrag(
        record_id=record_id_for(person.idnr),
        stand=last_change(population, person),
        werte=values,
        hinweise=hints,
        gesperrt=blocked,
        behoerde=register_office(person.address.plz, "melderegister"),
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
        releases_blocked=own_request,
    )
