"""Sandbox Hochschulregister: student enrolments."""

from __future__ import annotations

import hashlib
from datetime import date
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

AUTHORITY = "Hochschulregister des Landes Nordrhein-Westfalen"

ATTRIBUTES: tuple[str, ...] = (
    "immatrikuliert",
    "hochschule",
    "studiengang",
    "abschluss",
    "fachsemester",
    "semester",
    "immatrikuliert_seit",
)


def semester_start(day: date) -> date:
    """Winter semesters start on 1 October, summer semesters on 1 April."""
    if day.month >= 10:
        return date(day.year, 10, 1)
    if day.month >= 4:
        return date(day.year, 4, 1)
    return date(day.year - 1, 10, 1)


def semester_name(start: date) -> str:
    if start.month == 10:
        return f"WiSe {start.year}/{(start.year + 1) % 100:02d}"
    return f"SoSe {start.year}"


def _lookup(population: Population, body: Abfrage) -> Eintrag:
    """The register answers for any tax id: someone it holds no enrolment for is not enrolled."""
    idnr = body.idnr or ""
    current = semester_start(population.today)
    study = population.enrolments.get(idnr)
    if study is not None:
        first = semester_start(study.enrolled_since)
        semesters = ((current.year - first.year) * 12 + current.month - first.month) // 6 + 1
        if study.enrolled_since > population.today or semesters > study.planned_semesters:
            # Not yet begun, or graduated or left: the register holds no current enrolment.
            study = None
    values: dict[str, Any] = {
        "immatrikuliert": study is not None,
        "hochschule": study.university if study else None,
        "studiengang": study.programme if study else None,
        "abschluss": study.degree if study else None,
        "fachsemester": None,
        "semester": semester_name(current) if study else None,
        "immatrikuliert_seit": iso(study.enrolled_since) if study else None,
    }
    record_id = None
    if study is not None:
        values["fachsemester"] = semesters
        record_id = "HSR-" + hashlib.sha256(f"hsr:{idnr}".encode()).hexdigest()[:10].upper()
    # Re-registration (Rückmeldung) closes before the semester: the register is as of its start.
    return Eintrag(record_id=record_id, stand=at_half_past_nine(current), werte=values)


def build_hochschulregister_router(
    population: LazyPopulation, *, request_log_size: int = 100
) -> APIRouter:
    return build_abfrage_router(
        prefix="/hochschulregister/v1",
        tag="Hochschulregister",
        resource="studierende",
        authority=AUTHORITY,
        attributes=ATTRIBUTES,
        population=population,
        lookup=_lookup,
        request_log_size=request_log_size,
    )
