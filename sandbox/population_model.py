"""The people and records of the synthetic population, indexed the way the registries read them.

A record id is derived from its content with `stable_record_id`, so it stays the same from
one build to the next without revealing the data it came from.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sandbox import population_data as words
from sandbox.personas import Address

ADULT_AGE = 18


def idnr_check_digit(first_ten: str) -> int:
    """Check digit of an Identifikationsnummer (ISO/IEC 7064, MOD 11,10; § 139b AO)."""
    product = 10
    for char in first_ten:
        total = (int(char) + product) % 10 or 10
        product = (total * 2) % 11
    check = 11 - product
    return 0 if check == 10 else check


def age_on(birthdate: date, day: date) -> int:
    """Completed years of life on a day (§ 187 Abs. 2, § 188 Abs. 2 BGB, simplified)."""
    return day.year - birthdate.year - ((day.month, day.day) < (birthdate.month, birthdate.day))


@dataclass(frozen=True)
class Person:
    """A registered resident with everything the Melderegister holds about them."""

    idnr: str
    given_name: str
    family_name: str
    birth_name: str | None
    sex: str
    birthdate: date
    birthplace: str
    nationality: str
    address: Address
    moved_in: date
    previous_address: Address | None
    household: str
    marital_status: str
    auskunftssperre: bool = False
    parents: tuple[str, ...] = ()
    persona: str | None = None


@dataclass(frozen=True)
class RegisteredVehicle:
    holder: str
    plate: str
    vehicle_class: str
    make: str
    registered_on: date


@dataclass(frozen=True)
class Marriage:
    record_id: str
    partners: tuple[str, str]
    on: date
    place: str


@dataclass(frozen=True)
class Birth:
    """A birth entry (Geburtenregister, § 21 PStG) with its place in the event feed."""

    seq: int
    record_id: str
    child: str
    registered_on: date


@dataclass(frozen=True)
class RegisteredBusiness:
    record_id: str
    owner: str
    name: str
    activity: str
    started_on: date
    legal_form: str
    address: Address


@dataclass(frozen=True)
class EmploymentRecord:
    person: str
    employer: str
    monthly_net: Decimal
    since: date
    maternity_from: date | None = None
    until: date | None = None
    """Retirement; pay is reported up to the month before."""
    varies: bool = True
    """Generated pay varies a little month by month; personas' pay is exact for tests."""


@dataclass(frozen=True)
class EnrolmentRecord:
    person: str
    university: str
    programme: str
    degree: str
    enrolled_since: date
    planned_semesters: int = 12
    """After this many semesters the student has left the university."""


@dataclass
class Population:
    """Everyone and everything the sandbox registries know, with the indexes they read by."""

    today: date
    persons: dict[str, Person] = field(default_factory=dict)
    households: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    vehicles: dict[str, list[RegisteredVehicle]] = field(default_factory=dict)
    holder_addresses: dict[str, Address] = field(default_factory=dict)
    """The Zulassungsstelle's address of a holder, where it differs from the Melderegister."""
    marriages: dict[str, Marriage] = field(default_factory=dict)
    births: list[Birth] = field(default_factory=list)
    births_by_child: dict[str, Birth] = field(default_factory=dict)
    businesses: dict[str, list[RegisteredBusiness]] = field(default_factory=dict)
    employment: dict[str, EmploymentRecord] = field(default_factory=dict)
    enrolments: dict[str, EnrolmentRecord] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    """Held while adding a birth through the sandbox's feed endpoint."""

    def add(self, person: Person) -> None:
        if person.idnr in self.persons:
            raise ValueError(f"idnr {person.idnr} is registered twice")
        self.persons[person.idnr] = person
        self.households.setdefault(person.household, []).append(person.idnr)
        for parent in person.parents:
            self.children.setdefault(parent, []).append(person.idnr)

    def record_birth(self, child: Person) -> Birth:
        """Enter a child's birth; its feed position follows every earlier entry."""
        seq = len(self.births) + 1
        birth = Birth(
            seq=seq,
            record_id=f"G-{child.birthdate.year}-{seq:06d}",
            child=child.idnr,
            # § 18 PStG: a birth is reported within a week; the sandbox says three days.
            registered_on=child.birthdate + timedelta(days=3),
        )
        self.births.append(birth)
        self.births_by_child[child.idnr] = birth
        return birth

    def household_of(self, idnr: str) -> list[Person]:
        person = self.persons[idnr]
        return [self.persons[i] for i in self.households.get(person.household, [])]

    def minors_of(self, idnr: str) -> list[Person]:
        return [
            self.persons[i]
            for i in self.children.get(idnr, [])
            if age_on(self.persons[i].birthdate, self.today) < ADULT_AGE
        ]

    def new_idnr(self, rng: random.Random, taken: Iterable[str] = ()) -> str:
        blocked = set(taken)
        while True:
            first = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(9))
            idnr = first + str(idnr_check_digit(first))
            if idnr not in self.persons and idnr not in blocked:
                return idnr


def zone_of(address: Address) -> str | None:
    """Code of the residents' parking zone an address lies in; None outside every zone."""
    for street, plz, zone, _ in words.MAPPED_STREETS:
        if (street, plz) == (address.strasse, address.plz):
            return zone
    return None


def is_known_street(address: Address) -> bool:
    """Whether the city's map knows the street in this postcode (Geodaten's reach)."""
    return any((s, p) == (address.strasse, address.plz) for s, p, _, _ in words.MAPPED_STREETS)


def municipality_key(plz: str) -> str:
    """The ARS of the municipality a postcode lies in: whose residents' register holds whom,
    and so which tenant is competent for a resident."""
    for first, last, ars in words.POSTCODE_RANGES:
        if first <= plz <= last and len(plz) == len(first):
            return ars
    # Every address in the population has a mapped postcode (tests/unit/test_sandbox_population);
    # a new one belongs in population_data.POSTCODE_RANGES, not behind a silent null.
    raise ValueError(f"postcode {plz!r} lies in no municipality the sandbox knows")


def register_office(plz: str, register: str) -> str:
    """The office that keeps a register for the residents of a postcode's municipality."""
    return words.REGISTER_OFFICES[municipality_key(plz)][register]


def stable_record_id(prefix: str, seed: str) -> str:
    """A stable record id that does not reveal the data it was derived from."""
    return f"{prefix}-{hashlib.sha256(seed.encode()).hexdigest()[:10].upper()}"
