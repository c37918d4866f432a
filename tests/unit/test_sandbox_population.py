"""The synthetic population: large, deterministic, plausible, consistent across registries."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from backend.definitions.constraints import local_today
from sandbox.personas import PERSONAS, persona_by_id
from sandbox.population import LazyPopulation, build_population
from sandbox.population_data import FORBIDDEN_PLATE_LETTERS, MAPPED_STREETS, MUNICIPALITIES
from sandbox.population_model import (
    ADULT_AGE,
    Person,
    Population,
    age_on,
    idnr_check_digit,
    is_known_street,
    municipality_key,
    zone_of,
)

TODAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def population() -> Population:
    return build_population(today=TODAY)


def test_at_least_ten_thousand_people(population: Population) -> None:
    assert len(population.persons) >= 10_000


def test_the_same_seed_gives_the_same_people_on_any_day(population: Population) -> None:
    later = build_population(today=TODAY + timedelta(days=400))
    assert later.persons == population.persons
    assert later.vehicles == population.vehicles
    other = build_population(seed=7, size=500, today=TODAY)
    assert set(other.persons) != set(list(population.persons)[: len(other.persons)])


def test_generated_tax_ids_are_valid_and_unique(population: Population) -> None:
    generated = [p.idnr for p in population.persons.values() if p.persona is None]
    for idnr in generated:
        assert len(idnr) == 11 and idnr.isdigit() and idnr[0] != "0"
        assert idnr_check_digit(idnr[:10]) == int(idnr[10])
    assert len(set(generated)) == len(generated)


def test_personas_are_part_of_it_unchanged(population: Population) -> None:
    for persona in PERSONAS:
        if persona.is_clerk or persona.idnr is None:
            continue
        person = population.persons.get(persona.idnr)
        if not persona.in_melderegister:
            assert person is None
            continue
        assert person is not None
        assert (person.given_name, person.family_name) == (persona.given_name, persona.family_name)
        assert (person.birthdate, person.address, person.moved_in) == (
            persona.birthdate,
            persona.address,
            persona.moved_in,
        )


def test_households_live_together_and_children_are_younger(population: Population) -> None:
    for members in population.households.values():
        assert len({population.persons[i].address for i in members}) == 1
    for person in population.persons.values():
        for parent_id in person.parents:
            parent = population.persons[parent_id]
            assert age_on(parent.birthdate, person.birthdate) >= 16, (parent, person)


def test_births_cover_every_child_in_feed_order(population: Population) -> None:
    children = {p.idnr for p in population.persons.values() if p.parents}
    assert {b.child for b in population.births} == children
    assert [b.seq for b in population.births] == list(range(1, len(population.births) + 1))
    dates = [population.persons[b.child].birthdate for b in population.births]
    assert dates == sorted(dates)


def test_vehicles_belong_to_adults_with_unique_plates(population: Population) -> None:
    plates = [v.plate for vehicles in population.vehicles.values() for v in vehicles]
    assert len(plates) == len(set(plates))
    for holder, vehicles in population.vehicles.items():
        person = population.persons[holder]
        for vehicle in vehicles:
            assert age_on(person.birthdate, vehicle.registered_on) >= ADULT_AGE
            letters = vehicle.plate.split("-")[1].split(" ")[0]
            assert letters not in FORBIDDEN_PLATE_LETTERS


def test_marriages_are_mutual(population: Population) -> None:
    for idnr, marriage in population.marriages.items():
        assert idnr in marriage.partners
        for partner in marriage.partners:
            assert population.marriages[partner] == marriage
            assert population.persons[partner].marital_status == "verheiratet"


def test_the_mix_is_plausible(population: Population) -> None:
    people = list(population.persons.values())
    minors = sum(1 for p in people if age_on(p.birthdate, TODAY) < ADULT_AGE)
    blocked = sum(1 for p in people if p.auskunftssperre)
    in_zone = sum(1 for p in people if zone_of(p.address))
    assert 0.1 < minors / len(people) < 0.35
    assert 0 < blocked / len(people) < 0.02
    assert 0.2 < in_zone / len(people) < 0.8
    assert 0.2 < len(population.employment) / len(people) < 0.6
    assert any(len(v) == 2 for v in population.vehicles.values())
    assert len({p.nationality for p in people}) > 3


def test_the_edge_case_personas_are_what_the_docs_promise(population: Population) -> None:
    today = local_today()

    def person(persona_id: str) -> Person:
        persona = persona_by_id(persona_id)
        assert persona is not None and persona.idnr
        return population.persons[persona.idnr]

    sophie, david = person("sophie"), person("david")
    assert sophie.household == david.household
    [mia] = population.children[sophie.idnr]
    assert population.children[david.idnr] == [mia]
    assert (today - population.persons[mia].birthdate).days < 31

    mehmet = person("mehmet")
    last_month = today.replace(day=1) - timedelta(days=1)
    assert (mehmet.moved_in.year, mehmet.moved_in.month) == (last_month.year, last_month.month)
    assert zone_of(mehmet.address) is not None
    assert population.holder_addresses[mehmet.idnr] == mehmet.previous_address
    assert mehmet.previous_address is not None and zone_of(mehmet.previous_address) is None

    paul, petra = person("paul"), person("petra")
    assert age_on(paul.birthdate, today) < ADULT_AGE
    assert paul.parents == (petra.idnr,)
    assert len(population.vehicles[petra.idnr]) == 2

    assert person("claudia").auskunftssperre
    assert zone_of(person("katrin").address) is not None
    assert zone_of(person("bernd").address) is None
    assert len(population.vehicles[person("katrin").idnr]) == 1
    assert len(population.vehicles[person("bernd").idnr]) == 1
    assert person("lukas").idnr in population.enrolments


def test_every_resident_lives_in_a_municipality_the_sandbox_knows(
    population: Population,
) -> None:
    for person in population.persons.values():
        assert municipality_key(person.address.plz) in MUNICIPALITIES, person.address
    for _, plz, _, _ in MAPPED_STREETS:
        assert municipality_key(plz) in MUNICIPALITIES, plz
    assert municipality_key("50667") == municipality_key("51149") == "053150000000"
    assert municipality_key("50129") == "053620008008"
    with pytest.raises(ValueError, match="53111"):
        municipality_key("53111")


def test_the_personas_of_the_other_tenants(population: Population) -> None:
    def person(persona_id: str) -> Person:
        persona = persona_by_id(persona_id)
        assert persona is not None and persona.idnr and persona.trust_level == "substanziell"
        assert idnr_check_digit(persona.idnr[:10]) == int(persona.idnr[10])
        return population.persons[persona.idnr]

    stefan, hanna, tobias = person("stefan"), person("hanna"), person("tobias")
    assert municipality_key(stefan.address.plz) == "053620008008"
    assert zone_of(stefan.address) == "BM-1"
    assert [v.plate[:3] for v in population.vehicles[stefan.idnr]] == ["BM-"]
    assert municipality_key(hanna.address.plz) == "034565402014"
    assert is_known_street(hanna.address) and hanna.idnr not in population.vehicles
    assert municipality_key(tobias.address.plz) == "053620008008"
    assert tobias.previous_address is not None
    assert municipality_key(tobias.previous_address.plz) == "053150000000"
    assert (local_today() - tobias.moved_in).days <= 31
    assert is_known_street(tobias.address) and zone_of(tobias.address) is None
    [car] = population.vehicles[tobias.idnr]
    assert car.plate.startswith("BM-") and car.registered_on >= tobias.moved_in
    assert tobias.idnr not in population.holder_addresses


def test_the_lazy_population_is_built_once_for_all_threads() -> None:
    lazy = LazyPopulation(size=300, today=TODAY)
    assert not lazy.built
    seen: list[Population] = []
    threads = [threading.Thread(target=lambda: seen.append(lazy.get())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lazy.built
    assert len({id(p) for p in seen}) == 1
