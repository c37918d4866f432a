"""The seeded generator that fills the synthetic population with households around the personas."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from sandbox import population_data as words
from sandbox.personas import Address
from sandbox.population_model import (
    ADULT_AGE,
    EmploymentRecord,
    EnrolmentRecord,
    Marriage,
    Person,
    Population,
    RegisteredBusiness,
    RegisteredVehicle,
    age_on,
    stable_record_id,
)


def _birthday(birthdate: date, years: int) -> date:
    try:
        return birthdate.replace(year=birthdate.year + years)
    except ValueError:  # 29 February
        return birthdate.replace(year=birthdate.year + years, day=28)


class HouseholdGenerator:
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
            record_id=stable_record_id("E", first.idnr + second.idnr),
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
                    record_id=stable_record_id("GW", person.idnr + activity),
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
