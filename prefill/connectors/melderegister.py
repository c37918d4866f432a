"""Connector to the Melderegister: one purpose-bound read per call, with provenance per value."""

from __future__ import annotations

from typing import ClassVar

from prefill.connectors.abfrage import AbfrageConnector
from prefill.connectors.base import AttributeSpec, AttributeType, TrustLevel
from prefill.connectors.http import attribute_specs, encode_header_value

__all__ = ["MelderegisterConnector", "encode_header_value"]

# § 3 Abs. 1 BMG lists what a Meldebehörde stores; these are the items services may ask for.
_ATTRIBUTES: tuple[tuple[str, AttributeType, str], ...] = (
    ("familienname", "string", "Familienname"),
    ("vornamen", "string", "Vornamen"),
    ("geburtsname", "string", "Geburtsname"),
    ("geburtsdatum", "date", "Geburtsdatum"),
    ("geburtsort", "string", "Geburtsort"),
    ("geschlecht", "string", "Geschlecht (weiblich, männlich, divers, ohne Angabe)"),
    ("anschrift.strasse", "string", "Straße der Hauptwohnung"),
    ("anschrift.hausnummer", "string", "Hausnummer der Hauptwohnung"),
    ("anschrift.plz", "string", "Postleitzahl der Hauptwohnung"),
    ("anschrift.ort", "string", "Ort der Hauptwohnung"),
    # The municipality of the address: routing a resident to the competent authority needs it.
    (
        "anschrift.gemeindeschluessel",
        "string",
        "Amtlicher Regionalschlüssel (12 Stellen) der Gemeinde der Hauptwohnung",
    ),
    ("einzugsdatum", "date", "Einzugsdatum in die Hauptwohnung"),
    ("fruehere_anschrift.strasse", "string", "Straße der vorigen Hauptwohnung"),
    ("fruehere_anschrift.hausnummer", "string", "Hausnummer der vorigen Hauptwohnung"),
    ("fruehere_anschrift.plz", "string", "Postleitzahl der vorigen Hauptwohnung"),
    ("fruehere_anschrift.ort", "string", "Ort der vorigen Hauptwohnung"),
    ("staatsangehoerigkeit", "string", "Staatsangehörigkeit"),
    ("familienstand", "string", "Familienstand"),
    ("haushalt.personen", "integer", "Personen, die in der Hauptwohnung gemeldet sind"),
    ("haushalt.minderjaehrige", "integer", "Minderjährige, die in der Hauptwohnung gemeldet sind"),
    ("kinder", "list", "Minderjährige Kinder: Vornamen, Familienname, Geburtsdatum"),
    ("gesetzliche_vertreter", "list", "Gesetzliche Vertreter eines Minderjährigen"),
    ("auskunftssperre", "boolean", "Auskunftssperre nach § 51 BMG"),
)


class MelderegisterConnector(AbfrageConnector):
    """Reads name, birth, address and household data from the residents' register, by idnr."""

    id: ClassVar[str] = "melderegister"
    title: ClassVar[str] = "Melderegister"
    identifier: ClassVar[str] = "idnr"
    min_trust_level: ClassVar[TrustLevel] = "substanziell"
    path: ClassVar[str] = "/melderegister/v1/personen/abfrage"

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        """Attributes this registry can deliver, by name."""
        return attribute_specs(_ATTRIBUTES)
