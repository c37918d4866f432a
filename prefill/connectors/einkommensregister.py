"""Connector to the Einkommensregister: employees' monthly net pay as reported to the
Rentenversicherung (§ 28a SGB IV), which Elterngeld is computed from (§ 2 BEEG)."""

from __future__ import annotations

from typing import ClassVar

from prefill.connectors.abfrage import AbfrageConnector
from prefill.connectors.base import AttributeSpec, AttributeType, TrustLevel
from prefill.connectors.http import attribute_specs

_ATTRIBUTES: tuple[tuple[str, AttributeType, str], ...] = (
    ("beschaeftigt", "boolean", "Derzeit sozialversicherungspflichtig beschäftigt"),
    ("arbeitgeber", "string", "Derzeitiger Arbeitgeber"),
    ("nettoeinkommen.monate", "list", "Nettoeinkommen der letzten 24 Monate: Monat, Betrag, Art"),
    # § 2b Abs. 1 BEEG: months with Mutterschaftsgeld do not count; the register leaves them out.
    (
        "nettoeinkommen.durchschnitt_12_monate",
        "decimal",
        "Durchschnittliches monatliches Nettoeinkommen der letzten 12 Monate mit Einkommen",
    ),
)


class EinkommensregisterConnector(AbfrageConnector):
    """Reads what employers reported about a citizen's pay; the basis of Elterngeld."""

    id: ClassVar[str] = "einkommensregister"
    title: ClassVar[str] = "Einkommensregister"
    identifier: ClassVar[str] = "idnr"
    # Income is sensitive: only with an eID at trust level hoch.
    min_trust_level: ClassVar[TrustLevel] = "hoch"
    path: ClassVar[str] = "/einkommensregister/v1/beschaeftigte/abfrage"

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        """Attributes this registry can deliver, by name."""
        return attribute_specs(_ATTRIBUTES)
