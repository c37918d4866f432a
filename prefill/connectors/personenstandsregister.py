"""Connector to the Personenstandsregister: marriages and births (PStG), keyed by idnr."""

from __future__ import annotations

from typing import ClassVar

from prefill.connectors.abfrage import AbfrageConnector
from prefill.connectors.base import AttributeSpec, AttributeType, TrustLevel
from prefill.connectors.http import attribute_specs

# § 3 PStG: the Standesamt keeps the Ehe-, Lebenspartnerschafts-, Geburten- and Sterberegister.
_ATTRIBUTES: tuple[tuple[str, AttributeType, str], ...] = (
    ("familienstand", "string", "Familienstand laut Personenstandsregister"),
    ("eheschliessung.datum", "date", "Tag der Eheschließung"),
    ("eheschliessung.ort", "string", "Ort (Standesamt) der Eheschließung"),
    ("ehegatte.vornamen", "string", "Vornamen des Ehegatten"),
    ("ehegatte.familienname", "string", "Familienname des Ehegatten"),
    ("kinder", "list", "Kinder: Vornamen, Familienname, Geburtsdatum, Geburtsort"),
    ("anzahl_kinder", "integer", "Zahl der beurkundeten Kinder"),
    ("juengstes_kind.vornamen", "string", "Vornamen des jüngsten Kindes"),
    ("juengstes_kind.familienname", "string", "Familienname des jüngsten Kindes"),
    ("juengstes_kind.geburtsdatum", "date", "Geburtsdatum des jüngsten Kindes"),
    ("juengstes_kind.geburtsort", "string", "Geburtsort des jüngsten Kindes"),
)


class PersonenstandsregisterConnector(AbfrageConnector):
    """Reads marriages and children of a person from the civil status registers."""

    id: ClassVar[str] = "personenstandsregister"
    title: ClassVar[str] = "Personenstandsregister"
    identifier: ClassVar[str] = "idnr"
    min_trust_level: ClassVar[TrustLevel] = "substanziell"
    path: ClassVar[str] = "/personenstandsregister/v1/personen/abfrage"

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        """Attributes this registry can deliver, by name."""
        return attribute_specs(_ATTRIBUTES)
