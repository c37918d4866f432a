"""A deterministic synthetic population of Köln, consistent across all sandbox registries.

`build_population(seed, size)` always returns the same people for the same arguments:
households with addresses and move-in dates, marriages, children, vehicles, businesses,
employment and enrolments. Generated facts are dated relative to a fixed epoch, so a
generated person keeps her birthday from one day to the next; only views that depend on
the day (who is a minor, which months of pay are reported, the current semester) use
`today`. The personas of sandbox.personas are part of it, unchanged, so a
persona's Melderegister entry, cars and income agree with what the IdP says about her.

Generation takes a few hundred milliseconds, so the registries build it lazily on first use
(`LazyPopulation`), never at import or app start.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from datetime import date

from sandbox.personas import PERSONAS, Persona, german_today
from sandbox.population_generator import HouseholdGenerator
from sandbox.population_model import (
    EmploymentRecord,
    EnrolmentRecord,
    Marriage,
    Person,
    Population,
    RegisteredBusiness,
    RegisteredVehicle,
    stable_record_id,
)

DEFAULT_SEED = 1964
DEFAULT_SIZE = 10_000
GENERATION_EPOCH = date(2026, 1, 1)
"""The day the generated population describes; nothing generated happens after it."""


def build_population(
    seed: int = DEFAULT_SEED,
    size: int = DEFAULT_SIZE,
    *,
    today: date | None = None,
    personas: Iterable[Persona] = PERSONAS,
    epoch: date = GENERATION_EPOCH,
) -> Population:
    """The personas plus generated households until the population holds `size` people."""
    population = Population(today=today or german_today())
    persona_list = list(personas)
    reserved = {p.idnr for p in persona_list if p.idnr} | {
        c.idnr for p in persona_list for c in p.children
    }
    _add_personas(population, persona_list)
    generator = HouseholdGenerator(random.Random(seed), population, epoch, reserved)
    while len(population.persons) < size:
        generator.household()
    _number_births(population)
    return population


def _add_personas(population: Population, personas: list[Persona]) -> None:
    by_id = {p.id: p for p in personas}
    registered = [
        p for p in personas if p.idnr and p.in_melderegister and p.address and p.birthdate
    ]
    for persona in registered:
        assert persona.idnr and persona.address and persona.birthdate  # narrowed above
        population.add(
            Person(
                idnr=persona.idnr,
                given_name=persona.given_name,
                family_name=persona.family_name,
                birth_name=None,
                sex=persona.sex or "ohne Angabe",
                birthdate=persona.birthdate,
                birthplace=persona.birthplace or "Köln",
                nationality="deutsch",
                address=persona.address,
                moved_in=persona.moved_in or persona.birthdate,
                previous_address=persona.previous_address,
                household=f"persona-{persona.household or persona.id}",
                marital_status=persona.marital_status,
                auskunftssperre=persona.auskunftssperre,
                parents=tuple(idnr for parent in persona.parents if (idnr := by_id[parent].idnr)),
                persona=persona.id,
            )
        )
    for persona in registered:
        assert persona.idnr and persona.address
        for child in persona.children:
            if child.idnr not in population.persons:
                parents = tuple(
                    p.idnr
                    for p in registered
                    if p.idnr and any(c.idnr == child.idnr for c in p.children)
                )
                population.add(
                    Person(
                        idnr=child.idnr,
                        given_name=child.given_name,
                        family_name=child.family_name,
                        birth_name=None,
                        sex=child.sex,
                        birthdate=child.birthdate,
                        birthplace=child.birthplace,
                        nationality="deutsch",
                        address=persona.address,
                        moved_in=child.birthdate,
                        previous_address=None,
                        household=f"persona-{persona.household or persona.id}",
                        marital_status="ledig",
                        parents=parents,
                    )
                )
        if persona.spouse and persona.married_on and persona.idnr not in population.marriages:
            spouse = by_id[persona.spouse]
            assert spouse.idnr
            marriage = Marriage(
                record_id=stable_record_id("E", persona.idnr + spouse.idnr),
                partners=(persona.idnr, spouse.idnr),
                on=persona.married_on,
                place=persona.married_in or "Köln",
            )
            population.marriages[persona.idnr] = marriage
            population.marriages[spouse.idnr] = marriage
        for vehicle in persona.vehicles:
            population.vehicles.setdefault(persona.idnr, []).append(
                RegisteredVehicle(
                    persona.idnr,
                    vehicle.plate,
                    vehicle.vehicle_class,
                    vehicle.make,
                    vehicle.registered_on,
                )
            )
        if persona.vehicle_holder_address:
            population.holder_addresses[persona.idnr] = persona.vehicle_holder_address
        for business in persona.businesses:
            population.businesses.setdefault(persona.idnr, []).append(
                RegisteredBusiness(
                    record_id=stable_record_id("GW", persona.idnr + business.name),
                    owner=persona.idnr,
                    name=business.name,
                    activity=business.activity,
                    started_on=business.started_on,
                    legal_form=business.legal_form,
                    address=persona.address,
                )
            )
        if persona.employment:
            job = persona.employment
            population.employment[persona.idnr] = EmploymentRecord(
                persona.idnr,
                job.employer,
                job.monthly_net,
                job.since,
                maternity_from=job.maternity_from,
                varies=False,
            )
        if persona.enrolment:
            study = persona.enrolment
            population.enrolments[persona.idnr] = EnrolmentRecord(
                persona.idnr, study.university, study.programme, study.degree, study.enrolled_since
            )


def _number_births(population: Population) -> None:
    """Every child with a parent in the population has a birth entry, oldest first."""
    children = sorted(
        (p for p in population.persons.values() if p.parents),
        key=lambda p: (p.birthdate, p.idnr),
    )
    for child in children:
        population.record_birth(child)


class LazyPopulation:
    """Builds the population on first use, once, however many threads ask at the same time."""

    def __init__(
        self, seed: int = DEFAULT_SEED, size: int = DEFAULT_SIZE, *, today: date | None = None
    ) -> None:
        """`today`: the day the registers answer for (None: the real day at build time)."""
        self.seed = seed
        self.size = size
        self.today = today
        self._population: Population | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._population is not None

    def get(self) -> Population:
        population = self._population
        if population is None:
            with self._lock:
                if self._population is None:
                    self._population = build_population(self.seed, self.size, today=self.today)
                population = self._population
        return population
