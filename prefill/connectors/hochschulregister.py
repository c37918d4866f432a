"""Connector to the Hochschulregister: whether and where a citizen is enrolled."""

from __future__ import annotations

from typing import ClassVar

from prefill.connectors.abfrage import AbfrageConnector
from prefill.connectors.base import AttributeSpec, AttributeType, TrustLevel
from prefill.connectors.http import attribute_specs

_ATTRIBUTES: tuple[tuple[str, AttributeType, str], ...] = (
    ("immatrikuliert", "boolean", "Im laufenden Semester an einer Hochschule eingeschrieben"),
    ("hochschule", "string", "Hochschule"),
    ("studiengang", "string", "Studiengang"),
    ("abschluss", "string", "Angestrebter Abschluss"),
    ("fachsemester", "integer", "Fachsemester im laufenden Semester"),
    ("semester", "string", "Laufendes Semester, z. B. WiSe 2026/27"),
    ("immatrikuliert_seit", "date", "Beginn der Einschreibung"),
)


class HochschulregisterConnector(AbfrageConnector):
    """Reads a citizen's enrolment, e.g. for a student discount or BAföG."""

    id: ClassVar[str] = "hochschulregister"
    title: ClassVar[str] = "Hochschulregister"
    identifier: ClassVar[str] = "idnr"
    min_trust_level: ClassVar[TrustLevel] = "substanziell"
    path: ClassVar[str] = "/hochschulregister/v1/studierende/abfrage"

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        """Attributes this registry can deliver, by name."""
        return attribute_specs(_ATTRIBUTES)
