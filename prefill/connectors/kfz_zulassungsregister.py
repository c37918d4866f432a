"""Connector to the Kfz-Zulassungsregister: vehicles registered to a holder (§ 31 StVG)."""

from __future__ import annotations

from typing import ClassVar

from prefill.connectors.abfrage import AbfrageConnector
from prefill.connectors.base import AttributeSpec, AttributeType, TrustLevel
from prefill.connectors.http import attribute_specs

_ATTRIBUTES: tuple[tuple[str, AttributeType, str], ...] = (
    ("fahrzeuge", "list", "Zugelassene Fahrzeuge: Kennzeichen, Fahrzeugklasse, Marke, Datum"),
    ("anzahl_fahrzeuge", "integer", "Zahl der auf die Person zugelassenen Fahrzeuge"),
    # With two or more vehicles the register cannot say which one is meant: the citizen picks.
    ("kennzeichen", "string", "Kennzeichen, wenn genau ein Fahrzeug zugelassen ist"),
    ("fahrzeugklasse", "string", "EG-Fahrzeugklasse (M1, N1, L3e …), bei genau einem Fahrzeug"),
    ("halteranschrift.strasse", "string", "Straße der Halteranschrift"),
    ("halteranschrift.hausnummer", "string", "Hausnummer der Halteranschrift"),
    ("halteranschrift.plz", "string", "Postleitzahl der Halteranschrift"),
    ("halteranschrift.ort", "string", "Ort der Halteranschrift"),
)


class KfzZulassungsregisterConnector(AbfrageConnector):
    """Reads the vehicles registered to the citizen and the address the register holds."""

    id: ClassVar[str] = "kfz-zulassungsregister"
    title: ClassVar[str] = "Kfz-Zulassungsregister"
    identifier: ClassVar[str] = "idnr"
    min_trust_level: ClassVar[TrustLevel] = "substanziell"
    path: ClassVar[str] = "/kfz-zulassungsregister/v1/halter/abfrage"

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        """Attributes this registry can deliver, by name."""
        return attribute_specs(_ATTRIBUTES)
