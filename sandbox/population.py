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

import hashlib
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from sandbox import population_data as words
from sandbox.personas import PERSONAS, Address, Persona

DEFAULT_SEED = 1964
DEFAULT_SIZE = 10_000
GENERATION_EPOCH = date(2026, 1, 1)
"""The day the generated population describes; nothing generated happens after it."""
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


def _birthday(birthdate: date, years: int) -> date:
    try:
        return birthdate.replace(year=birthdate.year + years)
    except ValueError:  # 29 February
        return birthdate.replace(year=birthdate.year + years, day=28)


def zone_of(address: Address) -> str | None:
    """Code of the residents' parking zone an address lies in; None outside every zone."""
    for street, plz, zone, _ in words.STREETS:
        if (street, plz) == (address.strasse, address.plz):
            return zone
    return None


def is_known_street(address: Address) -> bool:
    """Whether the city's map knows the street in this postcode (Geodaten's reach)."""
    return any((s, p) == (address.strasse, address.plz) for s, p, _, _ in words.STREETS)


def build_population(
    seed: int = DEFAULT_SEED,
    size: int = DEFAULT_SIZE,
    *,
    today: date | None = None,
    personas: Iterable[Persona] = PERSONAS,
    epoch: date = GENERATION_EPOCH,
) -> Population:
    """The personas plus generated households until the population holds `size` people."""
    population = Population(today=today or date.today())
    persona_list = list(personas)
    reserved = {p.idnr for p in persona_list if p.idnr} | {
        c.idnr for p in persona_list for c in p.children
    }
    _add_personas(population, persona_list)
    generator = _Generator(random.Random(seed), population, epoch, reserved)
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
                record_id=_record_id("E", persona.idnr + spouse.idnr),
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
                    record_id=_record_id("GW", persona.idnr + business.name),
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


def _record_id(prefix: str, seed: str) -> str:
    """A stable record id that does not reveal the data it was derived from."""
    return f"{prefix}-{hashlib.sha256(seed.encode()).hexdigest()[:10].upper()}"


def _number_births(population: Population) -> None:
    """Every child with a parent in the population has a birth entry, oldest first."""
    children = sorted(
        (p for p in population.persons.values() if p.parents),
        key=lambda p: (p.birthdate, p.idnr),
    )
    for child in children:
        population.record_birth(child)


class _Generator:
    """Draws households from one seeded random source; the order of draws is the contract."""

    def __init__(
        self, rng: random.Random, population: Population, epoch: date, reserved: set[str]
    ) -> None:
        self.rng = rng
        self.population = population
        # Named `today` because that is what it is for the people generated: their present.
        self.today = epoch
        self.reserved = reserved
        self.plates: set[str] = {
            v.plate for vehicles in population.vehicles.values() for v in vehicles
        }
        self.households = 0

    def household(self) -> None:
        rng = self.rng
        self.households += 1
        household = f"H{self.households:06d}"
        address = self._address()
        kind = rng.choices(("single", "couple", "family", "single_parent"), (35, 25, 30, 10))[0]
        nationality, places = self._origin()
        family_name = rng.choice(words.FAMILY_NAMES)
        adults: list[Person] = []
        if kind in ("single", "single_parent"):
            low, high = (19, 86) if kind == "single" else (22, 52)
            adults.append(
                self._adult(household, address, family_name, nationality, places, low, high)
            )
        else:
            low, high = (20, 85) if kind == "couple" else (24, 52)
            first = self._adult(household, address, family_name, nationality, places, low, high)
            married = rng.random() < 0.7
            second_name = family_name if married else rng.choice(words.FAMILY_NAMES)
            years = age_on(first.birthdate, self.today)
            second = self._adult(
                household,
                address,
                second_name,
                nationality,
                places,
                max(19, years - 6),
                min(90, years + 6),
                sex="männlich" if first.sex == "weiblich" else "weiblich",
                moved_in=first.moved_in,
            )
            adults = [first, second]
            if married:
                adults = [self._marry(first, second), self._marry(second, first)]
        for adult in adults:
            self.population.add(adult)
            self._extras(adult)
        if len(adults) == 2 and adults[0].marital_status == "verheiratet":
            self._record_marriage(adults[0], adults[1])
        if kind in ("family", "single_parent"):
            for _ in range(rng.choices((1, 2, 3), (45, 40, 15))[0]):
                self._child(household, address, adults)

    def _origin(self) -> tuple[str, tuple[str, ...]]:
        if self.rng.random() < 0.88:
            return "deutsch", words.GERMAN_BIRTHPLACES
        return self.rng.choice(words.FOREIGN_ORIGINS)

    def _address(self) -> Address:
        street, plz, _, highest = self.rng.choice(words.STREETS)
        number = str(self.rng.randint(1, highest))
        if self.rng.random() < 0.08:
            number += self.rng.choice("abc")
        return Address(street, number, plz, "Köln")

    def _birthdate(self, low: int, high: int) -> date:
        days = self.rng.randint(low * 365 + 1, high * 365 + 300)
        return self.today - timedelta(days=days)

    def _given_name(self, sex: str) -> str:
        names = words.FEMALE_NAMES if sex == "weiblich" else words.MALE_NAMES
        given = self.rng.choice(names)
        if self.rng.random() < 0.15:
            second = self.rng.choice(names)
            if second != given:
                given = f"{given} {second}"
        return given

    def _adult(
        self,
        household: str,
        address: Address,
        family_name: str,
        nationality: str,
        places: tuple[str, ...],
        low: int,
        high: int,
        *,
        sex: str | None = None,
        moved_in: date | None = None,
    ) -> Person:
        rng = self.rng
        chosen_sex = sex or rng.choice(("weiblich", "männlich"))
        if rng.random() < 0.002:
            chosen_sex = "divers"
        birthdate = self._birthdate(low, high)
        adult_from = birthdate + timedelta(days=ADULT_AGE * 366)
        if moved_in is None:
            span = max((self.today - timedelta(days=30) - adult_from).days, 1)
            moved_in = adult_from + timedelta(days=rng.randint(0, span))
        previous: Address | None = None
        if rng.random() < 0.4:
            if rng.random() < 0.6:
                previous = self._address()
            else:
                street, plz, town = rng.choice(words.PREVIOUS_TOWNS)
                previous = Address(street, str(rng.randint(1, 120)), plz, town)
        years = age_on(birthdate, self.today)
        status = "ledig"
        if years > 30 and rng.random() < 0.25:
            status = rng.choice(("geschieden", "verwitwet") if years > 60 else ("geschieden",))
        return Person(
            idnr=self.population.new_idnr(rng, self.reserved),
            given_name=self._given_name("weiblich" if chosen_sex == "weiblich" else "männlich"),
            family_name=family_name,
            birth_name=None,
            sex=chosen_sex,
            birthdate=birthdate,
            birthplace=rng.choice(places),
            nationality=nationality,
            address=address,
            moved_in=max(moved_in, adult_from),
            previous_address=previous,
            household=household,
            marital_status=status,
            # § 51 BMG blocks are rare: about one resident in two hundred.
            auskunftssperre=rng.random() < 0.005,
        )

    def _marry(self, person: Person, partner: Person) -> Person:
        """Married partners mostly share a family name; whoever took it keeps a birth name
        (the sandbox lets the wife take it, the commonest case, § 1355 BGB allows either)."""
        birth_name = None
        if person.family_name == partner.family_name and person.sex == "weiblich":
            drawn = self.rng.choice(words.FAMILY_NAMES)
            birth_name = drawn if drawn != person.family_name else None
        return replace(person, marital_status="verheiratet", birth_name=birth_name)

    def _record_marriage(self, first: Person, second: Person) -> None:
        adult = max(first.birthdate, second.birthdate) + timedelta(days=20 * 366)
        span = max((self.today - timedelta(days=60) - adult).days, 1)
        marriage = Marriage(
            record_id=_record_id("E", first.idnr + second.idnr),
            partners=(first.idnr, second.idnr),
            on=adult + timedelta(days=self.rng.randint(0, span)),
            place=self.rng.choice(("Köln",) * 6 + ("Bonn", "Düsseldorf", "Aachen")),
        )
        self.population.marriages[first.idnr] = marriage
        self.population.marriages[second.idnr] = marriage

    def _child(self, household: str, address: Address, parents: list[Person]) -> None:
        rng = self.rng
        youngest_parent = max(p.birthdate for p in parents)
        earliest = max(
            youngest_parent + timedelta(days=20 * 365), self.today - timedelta(days=18 * 365)
        )
        span = (self.today - earliest).days
        if span <= 0:
            return
        birthdate = earliest + timedelta(days=rng.randint(0, span))
        sex = rng.choice(("weiblich", "männlich"))
        child = Person(
            idnr=self.population.new_idnr(rng, self.reserved),
            given_name=self._given_name(sex),
            family_name=parents[0].family_name,
            birth_name=None,
            sex=sex,
            birthdate=birthdate,
            birthplace=rng.choice(("Köln",) * 8 + ("Bonn", "Leverkusen")),
            nationality=parents[0].nationality,
            address=address,
            moved_in=max(birthdate, parents[0].moved_in),
            previous_address=None,
            household=household,
            marital_status="ledig",
            parents=tuple(p.idnr for p in parents),
        )
        self.population.add(child)
        self._extras(child)

    def _extras(self, person: Person) -> None:
        """Vehicles, business, job and studies, by age; each registry holds its own part."""
        rng = self.rng
        years = age_on(person.birthdate, self.today)
        adult_from = person.birthdate + timedelta(days=ADULT_AGE * 366)
        if years >= ADULT_AGE and rng.random() < 0.45:
            count = 2 if rng.random() < 0.08 else 1
            for _ in range(count):
                self._vehicle(person, adult_from)
            if person.previous_address and rng.random() < 0.05:
                # The move was reported to the Meldebehörde but not yet to the Zulassungsstelle.
                self.population.holder_addresses[person.idnr] = person.previous_address
        if 21 <= years <= 70 and rng.random() < 0.05:
            started = adult_from + timedelta(
                days=rng.randint(3 * 365, max(3 * 365 + 1, (self.today - adult_from).days))
            )
            activity = rng.choice(words.ACTIVITIES)
            self.population.businesses.setdefault(person.idnr, []).append(
                RegisteredBusiness(
                    record_id=_record_id("GW", person.idnr + activity),
                    owner=person.idnr,
                    name=f"{person.family_name} {activity}",
                    activity=activity,
                    started_on=min(started, self.today - timedelta(days=30)),
                    legal_form=rng.choice(("Einzelunternehmen",) * 4 + ("GbR", "UG")),
                    address=person.address if rng.random() < 0.5 else self._address(),
                )
            )
        if ADULT_AGE <= years <= 66 and rng.random() < 0.62:
            since = adult_from + timedelta(
                days=rng.randint(0, max((self.today - adult_from).days - 60, 1))
            )
            pay = Decimal(rng.randint(1400_00, 1500_00 + min(years, 55) * 70_00)) / 100
            self.population.employment[person.idnr] = EmploymentRecord(
                person.idnr,
                rng.choice(words.EMPLOYERS),
                pay,
                since,
                until=_birthday(person.birthdate, 67),
            )
        if ADULT_AGE <= years <= 30 and rng.random() < 0.28:
            university, programmes = rng.choice(words.UNIVERSITIES)
            years_ago = rng.randint(0, min(5, years - ADULT_AGE))
            month = rng.choice((4, 10))
            enrolled = date(self.today.year - years_ago, month, 1)
            if enrolled > self.today:
                enrolled = date(enrolled.year - 1, 10, 1)
            self.population.enrolments[person.idnr] = EnrolmentRecord(
                person.idnr,
                university,
                rng.choice(programmes),
                rng.choice(words.DEGREES),
                enrolled,
                planned_semesters=rng.randint(7, 12),
            )

    def _vehicle(self, person: Person, adult_from: date) -> None:
        rng = self.rng
        while True:
            letters = "".join(
                rng.choice("ABCDEFGHIJKLMNOPRSTUVWXYZ") for _ in range(rng.randint(1, 2))
            )
            plate = f"K-{letters} {rng.randint(1, 9999)}"
            if letters not in words.FORBIDDEN_PLATE_LETTERS and plate not in self.plates:
                break
        self.plates.add(plate)
        vehicle_class = rng.choices(("M1", "N1", "L3e"), (90, 5, 5))[0]
        span = max((self.today - adult_from).days, 1)
        self.population.vehicles.setdefault(person.idnr, []).append(
            RegisteredVehicle(
                holder=person.idnr,
                plate=plate,
                vehicle_class=vehicle_class,
                make=rng.choice(words.MAKES),
                registered_on=adult_from + timedelta(days=rng.randint(0, span)),
            )
        )


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
