"""Length limits of text fields, from the definition and from the registers they are written to.

A register refuses an entry longer than it stores; found only after the decision, that is a
failed write-back of a case already approved (issue 14, item 4). So the limit a register
declares for an attribute becomes the limit of the field copied into it, and intake refuses
the over-long answer while the citizen can still correct it.

Decision: a definition that declares a longer max_length than the register stores is an
error, not clamped with a warning. Clamping would leave a service.yaml that promises what
the platform does not accept; validate finds the contradiction before go-live, at no cost
to any case. A field that declares nothing takes the register's limit without a word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from backend.definitions.models import TEXT_TYPES, Field, ServiceDefinition, yaml_path
from prefill.connectors.base import WritableConnector
from prefill.connectors.registry import ConnectorRegistry, UnknownConnector

Location = tuple[str | int, ...]

_FIELD = r"fields\.([A-Za-z_][A-Za-z0-9_]*)"
_COPY = re.compile(rf"^\s*{_FIELD}\s*$")
_PART = re.compile(rf"\s*(?:{_FIELD}|'([^'\\]*)'|\"([^\"\\]*)\")\s*(\+|$)")
_READS = re.compile(rf"\b{_FIELD}")


@dataclass(frozen=True)
class RegisterLimit:
    """The smallest limit a register declares for an attribute a field is copied into."""

    max_length: int
    at: Location
    """The write-back record entry that copies the field, for messages."""
    register: str


def effective_max_length(declared: int | None, register: int | None, default: int) -> int:
    """What intake accepts: the declared limit (else the platform default), lowered to the
    register's where the field is written back to one."""
    own = declared if declared is not None else default
    return own if register is None else min(own, register)


def concatenation(source: str) -> list[str | int] | None:
    """The parts of ``fields.a + ' ' + fields.b``: field ids, and literals as their length.

    None for any other expression: its length cannot be bounded from its parts."""
    parts: list[str | int] = []
    position = 0
    while position < len(source):
        match = _PART.match(source, position)
        if match is None or match.end() == position:
            return None
        field_id, single, double = match.group(1), match.group(2), match.group(3)
        parts.append(field_id if field_id is not None else len(single or double or ""))
        position = match.end()
        if match.group(4) == "" and position < len(source):
            return None
    return parts or None


def register_limits(
    definition: ServiceDefinition, connectors: ConnectorRegistry
) -> dict[str, RegisterLimit]:
    """Per field copied unchanged into a register attribute with a declared limit, the
    smallest such limit; unknown connectors are left to the loader's own checks."""
    found: dict[str, RegisterLimit] = {}
    for index, entry in enumerate(definition.writeback):
        connector = _writable(entry.connector, connectors)
        if connector is None:
            continue
        for key, source in entry.record.items():
            copy = _COPY.match(source)
            limit = connector.write_limit(entry.operation, key)
            if copy is None or limit is None:
                continue
            field_id = copy.group(1)
            known = found.get(field_id)
            if known is None or limit < known.max_length:
                at: Location = ("writeback", index, "record", key)
                found[field_id] = RegisterLimit(limit, at, connector.title)
    return found


def length_problems(
    definition: ServiceDefinition, connectors: ConnectorRegistry
) -> Iterator[tuple[Location, str]]:
    """Errors: a declared max_length above the limit of the register the field is written to."""
    positions = {field.id: index for index, field in enumerate(definition.fields)}
    for field_id, limit in register_limits(definition, connectors).items():
        index = positions.get(field_id)
        if index is None:
            continue
        field = definition.fields[index]
        if field.type in TEXT_TYPES and field.max_length and field.max_length > limit.max_length:
            yield (
                ("fields", index, "max_length"),
                f"max_length {field.max_length} is more than the {limit.max_length} characters "
                f"the {limit.register} stores at {yaml_path(limit.at)}",
            )


def length_warnings(
    definition: ServiceDefinition, connectors: ConnectorRegistry
) -> Iterator[tuple[Location, str]]:
    """Warnings: a written-back text field limited by neither the definition nor the register,
    and a composed entry whose parts together may exceed what the register stores."""
    # Joined parts count with their effective limits, a register's already adopted.
    by_id = {field.id: field for field in with_register_limits(definition, connectors).fields}
    limited = register_limits(definition, connectors)
    warned: set[str] = set()
    for index, entry in enumerate(definition.writeback):
        connector = _writable(entry.connector, connectors)
        for key, source in entry.record.items():
            at: Location = ("writeback", index, "record", key)
            register = connector.write_limit(entry.operation, key) if connector else None
            parts = concatenation(source)
            most = _most_characters(parts, by_id) if parts and len(parts) > 1 else None
            if register is not None and most is not None:
                # Joined from bounded parts: the register's limit holds if their sum fits.
                if most > register:
                    yield (
                        at,
                        f"warning: this entry can be {most} characters long, the register "
                        f"stores {register}; declare max_length on the fields it joins",
                    )
                continue
            for field_id in dict.fromkeys(_READS.findall(source)):
                field = by_id.get(field_id)
                if (
                    field is None
                    or field.type not in TEXT_TYPES
                    or field.max_length is not None
                    or field_id in limited
                    or field_id in warned
                ):
                    continue
                warned.add(field_id)
                yield (
                    at,
                    f"warning: field '{field_id}' is written to the register but has no length "
                    "limit from the definition or the register; declare max_length",
                )


def with_register_limits(
    definition: ServiceDefinition, connectors: ConnectorRegistry
) -> ServiceDefinition:
    """The definition with each written-back field's max_length lowered to its register's."""
    limited = register_limits(definition, connectors)
    fields: list[Field] = []
    changed = False
    for field in definition.fields:
        limit = limited.get(field.id)
        default = field.length_limit
        if limit is None or default is None:
            fields.append(field)
            continue
        effective = effective_max_length(field.max_length, limit.max_length, default)
        if effective != field.max_length:
            field = field.model_copy(update={"max_length": effective})
            changed = True
        fields.append(field)
    return definition.model_copy(update={"fields": fields}) if changed else definition


def _most_characters(parts: list[str | int], by_id: dict[str, Field]) -> int | None:
    """The longest a concatenation can be; None if a part is no text field (no bound)."""
    total = 0
    for part in parts:
        if isinstance(part, int):
            total += part
            continue
        field = by_id.get(part)
        limit = field.length_limit if field is not None else None
        if limit is None:
            return None
        total += limit
    return total


def _writable(connector_id: str, connectors: ConnectorRegistry) -> type[WritableConnector] | None:
    try:
        connector = connectors.get(connector_id)
    except UnknownConnector:
        return None
    return connector if issubclass(connector, WritableConnector) else None
