"""Test personas shared by the sandbox identity provider and the sandbox registries.

Citizens carry the data the Melderegister holds about them, so the IdP and every sandbox
registry tell one consistent story. Clerks carry department and roles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Address:
    strasse: str
    hausnummer: str
    plz: str
    ort: str


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
    roles: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def is_clerk(self) -> bool:
        return self.department is not None


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
        id="clerk-ordnungsamt",
        given_name="Deniz",
        family_name="Yılmaz",
        trust_level="substanziell",
        sub="b1e2a3d4-0000-4000-8000-0000000000c1",
        description="Clerk in the Ordnungsamt, for checks that departments are isolated.",
        department="ordnungsamt",
        roles=("clerk",),
    ),
)


def persona_by_id(persona_id: str) -> Persona | None:
    return next((p for p in PERSONAS if p.id == persona_id), None)


def persona_by_idnr(idnr: str) -> Persona | None:
    return next((p for p in PERSONAS if p.idnr == idnr), None)
