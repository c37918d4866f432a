"""Test personas shared by the sandbox identity provider and the sandbox registries.

Citizens carry what the registries hold about them (address, family, vehicles, income,
enrolment, businesses), so the IdP and every sandbox registry tell one consistent story;
sandbox.population adds them to the synthetic population. Clerks carry department and roles.
docs/personas.md lists every persona with the edge case it stands for.

Personas whose point is a recent event (a newborn, a move last month, a minor) carry dates
relative to the day the process started, so they stay recent whenever the sandbox runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Address:
    strasse: str
    hausnummer: str
    plz: str
    ort: str


@dataclass(frozen=True)
class Vehicle:
    """A vehicle registered to a persona in the Kfz-Zulassungsregister."""

    plate: str
    vehicle_class: str
    """EG-Fahrzeugklasse: M1 car, N1 van, L3e motorcycle."""
    make: str
    registered_on: date


@dataclass(frozen=True)
class Child:
    """A registered child who cannot log in (too young for an eID)."""

    given_name: str
    family_name: str
    idnr: str
    birthdate: date
    birthplace: str
    sex: str


@dataclass(frozen=True)
class Employment:
    """What the employer reports to the Rentenversicherung each month."""

    employer: str
    monthly_net: Decimal
    since: date
    maternity_from: date | None = None
    """Start of Mutterschutz (§ 3 MuSchG): months from here on carry Mutterschaftsgeld."""


@dataclass(frozen=True)
class Enrolment:
    """An enrolment in the Hochschulregister."""

    university: str
    programme: str
    degree: str
    enrolled_since: date


@dataclass(frozen=True)
class Business:
    """A business registered in the Gewerberegister (Gewerbeanzeige, § 14 GewO)."""

    name: str
    activity: str
    started_on: date
    legal_form: str = "Einzelunternehmen"


@dataclass(frozen=True)
class Persona:
    """A person who can log in at the sandbox IdP."""

    id: str
    given_name: str
    family_name: str
    trust_level: str
    sub: str
    """Pairwise pseudonym the IdP hands out; never the tax id."""
    description: str
    idnr: str | None = None
    """Identifikationsnummer (§ 139b AO, IDNrG): the key the registries are queried by."""
    birthdate: date | None = None
    birthplace: str | None = None
    address: Address | None = None
    moved_in: date | None = None
    in_melderegister: bool = True
    department: str | None = None
    tenant: str | None = None
    """The authority (tenants/<id>) a clerk works for; None: the platform's home authority."""
    roles: tuple[str, ...] = field(default_factory=tuple)
    sex: str | None = None
    """As the Melderegister records it: weiblich, männlich, divers or ohne Angabe."""
    marital_status: str = "ledig"
    household: str | None = None
    """Personas with the same household live in one flat; None: a household of their own."""
    previous_address: Address | None = None
    auskunftssperre: bool = False
    """Information block under § 51 BMG: the register withholds the address."""
    spouse: str | None = None
    """Persona id of the spouse; the marriage is in the Personenstandsregister."""
    married_on: date | None = None
    married_in: str | None = None
    children: tuple[Child, ...] = ()
    parents: tuple[str, ...] = ()
    """Persona ids of the parents, for a persona who is someone's child (e.g. a minor)."""
    vehicles: tuple[Vehicle, ...] = ()
    vehicle_holder_address: Address | None = None
    """The address the Zulassungsstelle holds, when it differs (not yet updated after a move)."""
    employment: Employment | None = None
    enrolment: Enrolment | None = None
    businesses: tuple[Business, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def is_clerk(self) -> bool:
        return self.department is not None


def german_today() -> date:
    """The day in Germany, which a German register's 'today' is, whatever the machine's zone."""
    return datetime.now(ZoneInfo("Europe/Berlin")).date()


_STARTED = german_today()


def _days_ago(days: int) -> date:
    return _STARTED - timedelta(days=days)


def _in_last_month(day: int) -> date:
    last_of_previous = _STARTED.replace(day=1) - timedelta(days=1)
    return last_of_previous.replace(day=min(day, last_of_previous.day))


_MIA_BIRTH = _days_ago(19)
_MIA = Child("Mia", "Becker", "49370450525", _MIA_BIRTH, "Köln", "weiblich")
_BECKER_FLAT = Address("Körnerstraße", "43", "50823", "Köln")
_LANGE_FLAT = Address("Moltkestraße", "22", "50674", "Köln")
_TOBIAS_MOVE = _days_ago(30)

PERSONAS: tuple[Persona, ...] = (
    Persona(
        id="erika",
        given_name="Erika",
        family_name="Mustermann",
        trust_level="hoch",
        sub="c0a1f6e2-5b7d-4e55-9a2e-0f3c9d1e7a01",
        description="The ID-card specimen: registered in Köln, eID with trust level hoch.",
        idnr="86095742719",
        birthdate=date(1964, 8, 12),
        birthplace="Berlin",
        address=Address("Heidestraße", "17", "51147", "Köln"),
        moved_in=date(2009, 4, 1),
        sex="weiblich",
    ),
    Persona(
        id="jonas",
        given_name="Jonas",
        family_name="Schneider",
        trust_level="substanziell",
        sub="5f3e9b1c-2d4a-4c6e-8f0a-1b2c3d4e5f02",
        description="A second citizen, for checks that citizens see only their own cases.",
        idnr="47036892816",
        birthdate=date(1991, 3, 5),
        birthplace="Hamburg",
        address=Address("Venloer Straße", "210", "50823", "Köln"),
        moved_in=date(2021, 10, 15),
        sex="männlich",
    ),
    Persona(
        id="lena",
        given_name="Lena",
        family_name="Vogel",
        trust_level="niedrig",
        sub="9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c03",
        description="Logged in with a user name and password only (trust level niedrig).",
        idnr="29481635072",
        birthdate=date(1988, 11, 23),
        birthplace="Leipzig",
        address=Address("Aachener Straße", "5", "50674", "Köln"),
        moved_in=date(2015, 6, 1),
        sex="weiblich",
    ),
    Persona(
        id="unbekannt",
        given_name="Tomasz",
        family_name="Nowak",
        trust_level="substanziell",
        sub="3c4d5e6f-7a8b-4c9d-0e1f-2a3b4c5d6e04",
        description="Has an eID but the Melderegister does not know him (moved from abroad).",
        idnr="61835902741",
        birthdate=date(1979, 1, 30),
        birthplace="Kraków",
        in_melderegister=False,
        sex="männlich",
    ),
    Persona(
        id="sophie",
        given_name="Sophie",
        family_name="Becker",
        trust_level="hoch",
        sub="781b9a43-d04c-450b-8620-f0877e5fe381",
        description="Mother of Mia, born three weeks ago; married to David; on maternity "
        "leave from Ford (Elterngeld).",
        idnr="72096654285",
        birthdate=date(1993, 2, 14),
        birthplace="Bonn",
        address=_BECKER_FLAT,
        moved_in=date(2021, 8, 1),
        sex="weiblich",
        marital_status="verheiratet",
        household="becker",
        spouse="david",
        married_on=date(2021, 6, 12),
        married_in="Köln",
        children=(_MIA,),
        employment=Employment(
            "Ford-Werke GmbH",
            Decimal("2480.00"),
            date(2018, 4, 1),
            maternity_from=_MIA_BIRTH - timedelta(weeks=6),
        ),
    ),
    Persona(
        id="david",
        given_name="David",
        family_name="Becker",
        trust_level="substanziell",
        sub="b7c03984-2be3-4ecc-9f07-a223563ebc38",
        description="Father of the newborn Mia, married to Sophie, employed at the Stadtwerke.",
        idnr="32971028224",
        birthdate=date(1990, 10, 3),
        birthplace="Köln",
        address=_BECKER_FLAT,
        moved_in=date(2021, 8, 1),
        sex="männlich",
        marital_status="verheiratet",
        household="becker",
        spouse="sophie",
        married_on=date(2021, 6, 12),
        married_in="Köln",
        children=(_MIA,),
        employment=Employment("Stadtwerke Köln GmbH", Decimal("3125.50"), date(2016, 9, 1)),
    ),
    Persona(
        id="mehmet",
        given_name="Mehmet",
        family_name="Aydın",
        trust_level="substanziell",
        sub="e144c4ee-cf3c-4005-9428-dfad70ce7993",
        description="Moved last month into a residents' parking zone; his car is still "
        "registered at the old address.",
        idnr="76542598744",
        birthdate=date(1996, 5, 21),
        birthplace="Köln",
        address=Address("Brüsseler Straße", "12", "50674", "Köln"),
        moved_in=_in_last_month(15),
        previous_address=Address("Bonner Straße", "180", "50968", "Köln"),
        sex="männlich",
        vehicles=(Vehicle("K-MA 2105", "M1", "Volkswagen", date(2022, 3, 10)),),
        vehicle_holder_address=Address("Bonner Straße", "180", "50968", "Köln"),
        employment=Employment("REWE Group", Decimal("2210.00"), date(2019, 8, 1)),
    ),
    Persona(
        id="paul",
        given_name="Paul",
        family_name="Lange",
        trust_level="hoch",
        sub="6e325d76-d3b1-413a-a0be-9aa9ba30a818",
        description="A minor (16), living with his mother Petra; has an eID.",
        idnr="84292474115",
        birthdate=_days_ago(16 * 365 + 100),
        birthplace="Köln",
        address=_LANGE_FLAT,
        moved_in=date(2012, 5, 1),
        sex="männlich",
        household="lange",
        parents=("petra",),
    ),
    Persona(
        id="petra",
        given_name="Petra",
        family_name="Lange",
        trust_level="substanziell",
        sub="df30a0ea-38b3-46e4-abd3-2c8eddd59451",
        description="Two vehicles (a car and a van) in a residents' parking zone; runs a "
        "courier business; mother of Paul.",
        idnr="87373197680",
        birthdate=date(1978, 7, 30),
        birthplace="Düsseldorf",
        address=_LANGE_FLAT,
        moved_in=date(2012, 5, 1),
        sex="weiblich",
        marital_status="geschieden",
        household="lange",
        vehicles=(
            Vehicle("K-PL 815", "M1", "Škoda", date(2019, 6, 3)),
            Vehicle("K-PL 4410", "N1", "Renault", date(2021, 2, 15)),
        ),
        businesses=(Business("Lange Kurierdienst", "Kurierdienst", date(2015, 3, 1)),),
    ),
    Persona(
        id="claudia",
        given_name="Claudia",
        family_name="Richter",
        trust_level="hoch",
        sub="be6e5d4f-0234-4f17-ac68-d4a019ee685f",
        description="Has an information block (Auskunftssperre, § 51 BMG): the register "
        "withholds her address.",
        idnr="45386140836",
        birthdate=date(1981, 12, 5),
        birthplace="Essen",
        address=Address("Weißhausstraße", "7", "50939", "Köln"),
        moved_in=date(2019, 11, 15),
        sex="weiblich",
        auskunftssperre=True,
    ),
    Persona(
        id="katrin",
        given_name="Katrin",
        family_name="Schulz",
        trust_level="substanziell",
        sub="3e88aa32-5a17-4daa-ac37-5307ecde257b",
        description="One car, living in a residents' parking zone (Belgisches Viertel).",
        idnr="18699346733",
        birthdate=date(1987, 4, 18),
        birthplace="Münster",
        address=Address("Lütticher Straße", "9", "50674", "Köln"),
        moved_in=date(2017, 9, 1),
        sex="weiblich",
        vehicles=(Vehicle("K-KS 4711", "M1", "Opel", date(2020, 7, 22)),),
        employment=Employment("AXA Konzern AG", Decimal("3390.00"), date(2014, 1, 1)),
    ),
    Persona(
        id="bernd",
        given_name="Bernd",
        family_name="Krause",
        trust_level="substanziell",
        sub="4bf01f77-a894-444b-9fbd-9cc9774afa8f",
        description="One car, living outside every residents' parking zone (Rondorf).",
        idnr="36808617932",
        birthdate=date(1966, 1, 27),
        birthplace="Köln",
        address=Address("Kapellenstraße", "8", "50997", "Köln"),
        moved_in=date(1998, 3, 1),
        sex="männlich",
        vehicles=(Vehicle("K-BK 1966", "M1", "Mercedes-Benz", date(2018, 11, 5)),),
        employment=Employment("Stadt Köln", Decimal("2875.00"), date(1991, 8, 1)),
    ),
    Persona(
        id="lukas",
        given_name="Lukas",
        family_name="Fischer",
        trust_level="substanziell",
        sub="52958c0a-3927-4e39-b527-107d21027ce8",
        description="Student of computer science at the Universität zu Köln.",
        idnr="28820020870",
        birthdate=date(2004, 6, 11),
        birthplace="Aachen",
        address=Address("Zülpicher Straße", "58", "50937", "Köln"),
        moved_in=date(2023, 9, 20),
        previous_address=Address("Pontstraße", "31", "52062", "Aachen"),
        sex="männlich",
        enrolment=Enrolment(
            "Universität zu Köln", "Informatik", "Bachelor of Science", date(2023, 10, 1)
        ),
    ),
    # Residents of the other tenants: Kreisstadt Bergheim (NRW) and Stadt Neuenhaus (Lower
    # Saxony); sandbox.population_data maps their postcodes to the municipalities' ARS.
    Persona(
        id="stefan",
        given_name="Stefan",
        family_name="Wagner",
        trust_level="substanziell",
        sub="28eb9248-341e-4077-bd8e-aa21bbea2619",
        description="One car, living in a residents' parking zone of Bergheim (Innenstadt "
        "Bergheim), not of Köln.",
        idnr="92558105747",
        birthdate=date(1982, 9, 14),
        birthplace="Bergheim",
        address=Address("Schützenstraße", "12", "50126", "Bergheim"),
        moved_in=date(2016, 5, 1),
        sex="männlich",
        vehicles=(Vehicle("BM-SW 1409", "M1", "Ford", date(2021, 4, 12)),),
    ),
    Persona(
        id="hanna",
        given_name="Hanna",
        family_name="Brinkmann",
        trust_level="substanziell",
        sub="fb36ab8a-9f9c-4a4a-947d-c678844fd72d",
        description="Lives in Neuenhaus (Grafschaft Bentheim, Lower Saxony), far from Köln; "
        "no car.",
        idnr="28035361735",
        birthdate=date(1995, 2, 3),
        birthplace="Nordhorn",
        address=Address("Uelsener Straße", "18", "49828", "Neuenhaus"),
        moved_in=date(2020, 3, 1),
        sex="weiblich",
    ),
    Persona(
        id="tobias",
        given_name="Tobias",
        family_name="Keller",
        trust_level="substanziell",
        sub="38a0bfc1-cd1e-4757-9851-26f4487692ae",
        description="Moved from Köln to Bergheim a month ago, outside every parking zone; "
        "his car is already registered in Bergheim.",
        idnr="38657490182",
        birthdate=date(1989, 6, 27),
        birthplace="Köln",
        address=Address("Robert-Koch-Straße", "9", "50127", "Bergheim"),
        moved_in=_TOBIAS_MOVE,
        previous_address=Address("Gutenbergstraße", "87", "50823", "Köln"),
        sex="männlich",
        # He reported the move to the Zulassungsstelle at once and took a BM plate (he could
        # have kept his K plate): its holder address is the new one, unlike Mehmet's.
        vehicles=(Vehicle("BM-TK 627", "M1", "Toyota", _TOBIAS_MOVE + timedelta(days=4)),),
    ),
    Persona(
        id="clerk-buergeramt",
        given_name="Sabine",
        family_name="Krüger",
        trust_level="substanziell",
        sub="b1e2a3d4-0000-4000-8000-0000000000b1",
        description="Clerk (Sachbearbeiterin) in the Bürgeramt.",
        department="buergeramt",
        roles=("clerk",),
    ),
    Persona(
        id="supervisor-buergeramt",
        given_name="Martin",
        family_name="Hoffmann",
        trust_level="substanziell",
        sub="b1e2a3d4-0000-4000-8000-0000000000b2",
        description="Head of the Bürgeramt: clerk and supervisor.",
        department="buergeramt",
        roles=("clerk", "supervisor"),
    ),
    Persona(
        id="designer-buergeramt",
        given_name="Julia",
        family_name="Weber",
        trust_level="substanziell",
        sub="b1e2a3d4-0000-4000-8000-0000000000b3",
        description="Business designer in the Bürgeramt: drafts its services, decides no cases.",
        department="buergeramt",
        roles=("designer",),
    ),
    Persona(
        id="clerk-ordnungsamt",
        given_name="Deniz",
        family_name="Yılmaz",
        trust_level="substanziell",
        sub="b1e2a3d4-0000-4000-8000-0000000000c1",
        description="Clerk in the Ordnungsamt, for checks that departments are isolated.",
        department="ordnungsamt",
        roles=("clerk",),
    ),
    Persona(
        id="clerk-verkehr",
        given_name="Lena",
        family_name="Schmitz",
        trust_level="substanziell",
        sub="b1e2a3d4-0000-4000-8000-0000000000d1",
        description="Köln: Straßenverkehrsbehörde (parking permits), clerk and supervisor.",
        department="strassenverkehrsamt",
        roles=("clerk", "supervisor"),
    ),
    Persona(
        id="clerk-bergheim",
        given_name="Jörg",
        family_name="Esser",
        trust_level="substanziell",
        sub="b1e2a3d4-0000-4000-8000-0000000000d2",
        description="Bergheim: Straßenverkehrsbehörde, clerk and supervisor; the same office "
        "name as Köln's, for the proof that tenants are isolated.",
        department="strassenverkehrsamt",
        tenant="bergheim",
        roles=("clerk", "supervisor"),
    ),
    Persona(
        id="clerk-neuenhaus",
        given_name="Hilke",
        family_name="Brink",
        trust_level="substanziell",
        sub="b1e2a3d4-0000-4000-8000-0000000000d3",
        description="Neuenhaus: Ordnungsamt (defect reports), clerk.",
        department="ordnungsamt",
        tenant="neuenhaus",
        roles=("clerk",),
    ),
    Persona(
        id="operator",
        given_name="Kai",
        family_name="Berger",
        trust_level="substanziell",
        sub="b1e2a3d4-0000-4000-8000-0000000000e1",
        description="The municipal data centre's operator: every tenant's health, queues and "
        "configuration, no case and no personal data.",
        department="rechenzentrum",
        roles=("operator",),
    ),
)


def persona_by_id(persona_id: str) -> Persona | None:
    return next((p for p in PERSONAS if p.id == persona_id), None)


def persona_by_idnr(idnr: str) -> Persona | None:
    return next((p for p in PERSONAS if p.idnr == idnr), None)
