"""Sandbox Personenstandsregister: marriages and births, with a feed of new births."""

from __future__ import annotations

import hashlib
import random
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sandbox.population import LazyPopulation
from sandbox.population_model import Birth, Person, Population
from sandbox.registries.common import (
    PURPOSE_HEADERS,
    Abfrage,
    Eintrag,
    RequestLog,
    at_half_past_nine,
    build_abfrage_router,
    fehler,
    iso,
    purpose_headers,
)

AUTHORITY = "Stadt Köln – Standesamt"

ATTRIBUTES: tuple[str, ...] = (
    "familienstand",
    "eheschliessung.datum",
    "eheschliessung.ort",
    "ehegatte.vornamen",
    "ehegatte.familienname",
    "kinder",
    "anzahl_kinder",
    "juengstes_kind.vornamen",
    "juengstes_kind.familienname",
    "juengstes_kind.geburtsdatum",
    "juengstes_kind.geburtsort",
)

FEED_PAGE_MAX = 100


def _record_id(idnr: str) -> str:
    return "PS-" + hashlib.sha256(f"personenstand:{idnr}".encode()).hexdigest()[:10].upper()


def entry_for(population: Population, person: Person) -> Eintrag:
    """A person's civil status: the marriage and the children the Standesamt recorded."""
    marriage = population.marriages.get(person.idnr)
    spouse = None
    if marriage is not None:
        other = next(p for p in marriage.partners if p != person.idnr)
        spouse = population.persons.get(other)
    children = sorted(
        (population.persons[c] for c in population.children.get(person.idnr, [])),
        key=lambda c: (c.birthdate, c.idnr),
    )
    youngest = children[-1] if children else None
    events = [population.births_by_child[c.idnr].registered_on for c in children]
    if marriage is not None:
        events.append(marriage.on)
    born = population.births_by_child.get(person.idnr)
    events.append(born.registered_on if born else person.birthdate)
    values: dict[str, Any] = {
        "familienstand": person.marital_status,
        "eheschliessung.datum": iso(marriage.on) if marriage else None,
        "eheschliessung.ort": marriage.place if marriage else None,
        "ehegatte.vornamen": spouse.given_name if spouse else None,
        "ehegatte.familienname": spouse.family_name if spouse else None,
        "kinder": [
            {
                "vornamen": c.given_name,
                "familienname": c.family_name,
                "geburtsdatum": iso(c.birthdate),
                "geburtsort": c.birthplace,
            }
            for c in children
        ],
        "anzahl_kinder": len(children),
        "juengstes_kind.vornamen": youngest.given_name if youngest else None,
        "juengstes_kind.familienname": youngest.family_name if youngest else None,
        "juengstes_kind.geburtsdatum": iso(youngest.birthdate) if youngest else None,
        "juengstes_kind.geburtsort": youngest.birthplace if youngest else None,
    }
    return Eintrag(
        record_id=_record_id(person.idnr),
        stand=at_half_past_nine(max(events)),
        werte=values,
    )


def _lookup(population: Population, body: Abfrage) -> Eintrag | None:
    person = population.persons.get(body.idnr or "")
    return entry_for(population, person) if person else None


class NeuesKind(BaseModel):
    """A newborn as the hospital reports it (§ 18 PStG)."""

    model_config = ConfigDict(extra="forbid")

    vornamen: str = Field(min_length=1, max_length=120)
    familienname: str = Field(min_length=1, max_length=120)
    geburtsdatum: date
    geburtsort: str = Field("Köln", min_length=1, max_length=120)
    geschlecht: str = Field("ohne Angabe", pattern="^(weiblich|männlich|divers|ohne Angabe)$")


class Geburtsanzeige(BaseModel):
    """Sandbox only: enter a birth so that the feed has something new to report."""

    model_config = ConfigDict(extra="forbid")

    kind: NeuesKind
    eltern: list[str] = Field(min_length=1, max_length=2)


def _event(population: Population, birth: Birth) -> dict[str, Any]:
    child = population.persons[birth.child]
    return {
        "ereignis_id": birth.record_id,
        "cursor": str(birth.seq),
        "art": "geburt",
        "beurkundet_am": iso(birth.registered_on),
        "kind": {
            "idnr": child.idnr,
            "vornamen": child.given_name,
            "familienname": child.family_name,
            "geburtsdatum": iso(child.birthdate),
            "geburtsort": child.birthplace,
            "geschlecht": child.sex,
        },
        "eltern": [
            {
                "idnr": parent.idnr,
                "vornamen": parent.given_name,
                "familienname": parent.family_name,
            }
            for idnr in child.parents
            if (parent := population.persons.get(idnr))
        ],
    }


def build_personenstandsregister_router(
    population: LazyPopulation, *, request_log_size: int = 100
) -> APIRouter:
    """Reads of a person's civil status, plus the birth feed a proactive service follows."""
    router = build_abfrage_router(
        prefix="/personenstandsregister/v1",
        tag="Personenstandsregister",
        resource="personen",
        authority=AUTHORITY,
        attributes=ATTRIBUTES,
        population=population,
        lookup=_lookup,
        request_log_size=request_log_size,
    )
    feed_log = RequestLog(request_log_size)

    @router.get(
        "/geburten",
        responses={400: {"description": "Zweckbindung fehlt oder Cursor ungültig"}},
    )
    async def geburten(
        request: Request,
        seit: Annotated[str | None, Query(max_length=20)] = None,
        limit: Annotated[int, Query(ge=1, le=FEED_PAGE_MAX)] = 50,
    ) -> JSONResponse:
        """Births entered after the cursor, oldest first. Without `seit`: no events and the
        current cursor, so a new subscriber starts with what happens from now on."""
        headers = purpose_headers(request)
        missing = [name for name in PURPOSE_HEADERS if headers[name] is None]
        if missing:
            feed_log.add([], headers, 400)
            return fehler(400, "zweckbindung_fehlt", fehlende_header=missing)
        people = population.get()
        with people.lock:
            if seit is None:
                return JSONResponse({"ereignisse": [], "cursor": str(len(people.births))})
            if not seit.isdigit():
                return fehler(400, "cursor_ungueltig")
            start = int(seit)
            page = people.births[start : start + limit]
            events = [_event(people, birth) for birth in page]
        feed_log.add(["geburten"], headers, 200)
        return JSONResponse(
            {"ereignisse": events, "cursor": str(page[-1].seq) if page else str(start)}
        )

    @router.post("/geburten", status_code=201, include_in_schema=False)
    async def geburt_beurkunden(anzeige: Geburtsanzeige) -> JSONResponse:
        """Sandbox only: a new birth, registered in the Melderegister and reported in the feed."""
        people = population.get()
        if anzeige.kind.geburtsdatum > people.today:
            return fehler(422, "geburtsdatum_in_der_zukunft")
        with people.lock:
            parents = [people.persons.get(idnr) for idnr in anzeige.eltern]
            if any(parent is None for parent in parents):
                return fehler(404, "elternteil_unbekannt")
            first = parents[0]
            assert first is not None
            rng = random.Random(f"{len(people.births)}:{anzeige.model_dump_json()}")
            child = Person(
                idnr=people.new_idnr(rng),
                given_name=anzeige.kind.vornamen,
                family_name=anzeige.kind.familienname,
                birth_name=None,
                sex=anzeige.kind.geschlecht,
                birthdate=anzeige.kind.geburtsdatum,
                birthplace=anzeige.kind.geburtsort,
                nationality=first.nationality,
                address=first.address,
                moved_in=anzeige.kind.geburtsdatum,
                previous_address=None,
                household=first.household,
                marital_status="ledig",
                parents=tuple(anzeige.eltern),
            )
            people.add(child)
            birth = people.record_birth(child)
        return JSONResponse(
            status_code=201,
            content={"ereignis_id": birth.record_id, "cursor": str(birth.seq), "idnr": child.idnr},
        )

    return router
