"""Connector to the Gewerberegister: businesses registered by their owner (§ 14 GewO)."""

from __future__ import annotations

from typing import ClassVar

from prefill.connectors.abfrage import AbfrageConnector
from prefill.connectors.base import AttributeSpec, AttributeType, TrustLevel
from prefill.connectors.http import attribute_specs

_ATTRIBUTES: tuple[tuple[str, AttributeType, str], ...] = (
    ("betriebe", "list", "Angemeldete Betriebe: Name, Tätigkeit, Anschrift, Beginn"),
    ("anzahl_betriebe", "integer", "Zahl der angemeldeten Betriebe"),
    ("betrieb.name", "string", "Name des Betriebs, wenn genau einer angemeldet ist"),
    ("betrieb.taetigkeit", "string", "Angemeldete Tätigkeit, wenn genau ein Betrieb"),
    ("betrieb.beginn", "date", "Beginn der Tätigkeit, wenn genau ein Betrieb"),
)


class GewerberegisterConnector(AbfrageConnector):
    """Reads the businesses a citizen has registered (Gewerbeanzeigen)."""

    id: ClassVar[str] = "gewerberegister"
    title: ClassVar[str] = "Gewerberegister"
    identifier: ClassVar[str] = "idnr"
    min_trust_level: ClassVar[TrustLevel] = "substanziell"
    path: ClassVar[str] = "/gewerberegister/v1/inhaber/abfrage"

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        """Attributes this registry can deliver, by name."""
        return attribute_specs(_ATTRIBUTES)
