"""Connector to the city's Geodaten: the residents' parking zone of an address (§ 45 Abs. 1b
Nr. 2a StVO), looked up by the address the Melderegister holds for the citizen."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from prefill.connectors.abfrage import AbfrageConnector
from prefill.connectors.base import AttributeSpec, AttributeType, RegistryQuery, TrustLevel
from prefill.connectors.http import attribute_specs

_ATTRIBUTES: tuple[tuple[str, AttributeType, str], ...] = (
    # A definite "no": outside every zone is false (ok), never an empty field to be typed in.
    ("in_bewohnerparkgebiet", "boolean", "Die Anschrift liegt in einem Bewohnerparkgebiet"),
    ("bewohnerparkgebiet", "string", "Kennung des Bewohnerparkgebiets, z. B. K-12"),
    ("bewohnerparkgebiet.name", "string", "Name des Bewohnerparkgebiets"),
)

_KEY = ("anschrift.strasse", "anschrift.hausnummer", "anschrift.plz")


class GeodatenConnector(AbfrageConnector):
    """Reads the parking zone of the citizen's registered address; knows no persons at all."""

    id: ClassVar[str] = "geodaten"
    # Named as a register, like the others: the portal writes "Aus dem <title>".
    title: ClassVar[str] = "Geodatenregister"
    identifier: ClassVar[str] = "anschrift"
    min_trust_level: ClassVar[TrustLevel] = "substanziell"
    keyed_by: ClassVar[tuple[tuple[str, str], ...]] = tuple(
        ("melderegister", attribute) for attribute in _KEY
    )
    path: ClassVar[str] = "/geodaten/v1/bewohnerparken/abfrage"
    unknown_codes: ClassVar[frozenset[str]] = frozenset({"adresse_unbekannt"})
    # An address the city's map does not know is a data problem for a person, not a "no".
    unknown_result: ClassVar[tuple[Literal["empty", "failed"], str]] = (
        "failed",
        "address not found in the geodata",
    )

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        """Attributes this registry can deliver, by name."""
        return attribute_specs(_ATTRIBUTES)

    def lookup_key(self, query: RegistryQuery) -> dict[str, Any]:
        """The address, in the body: an address is personal data and stays out of URLs."""
        parts = query.identifier_parts
        return {
            "anschrift": {
                "strasse": parts.get("anschrift.strasse", ""),
                "hausnummer": parts.get("anschrift.hausnummer", ""),
                "plz": parts.get("anschrift.plz", ""),
            }
        }
