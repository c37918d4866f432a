"""Checks of a definition's register facts and register certificates against its fields, so an
integrator learns at `services validate` that a declaration could never take effect."""

from __future__ import annotations

from collections.abc import Iterator

from backend.definitions.models import ServiceDefinition

Location = tuple[str | int, ...]


def register_fact_problems(definition: ServiceDefinition) -> Iterator[tuple[Location, str]]:
    """A register fact names a field a register fills, once; a certificate names a register
    the service reads."""
    by_id = {f.id: f for f in definition.fields}
    seen: set[str] = set()
    for index, fact in enumerate(definition.automation.register_facts):
        at: Location = ("automation", "register_facts", index, "field")
        field = by_id.get(fact.field)
        if field is None:
            yield at, f"unknown field '{fact.field}'"
        elif field.source is None:
            yield (
                at,
                (
                    f"field '{fact.field}' has no source: a register fact must be prefilled "
                    "from a register"
                ),
            )
        if fact.field in seen:
            yield at, f"field '{fact.field}' is listed twice"
        seen.add(fact.field)
    read = {f.source.connector for f in definition.fields if f.source is not None}
    for index, document in enumerate(definition.documents):
        register = document.certifies_register
        if register is not None and register not in read:
            yield (
                ("documents", index, "certifies_register"),
                f"the service reads nothing from '{register}' "
                f"(it reads: {', '.join(sorted(read)) or 'no register'})",
            )


def statement_free_facts(definition: ServiceDefinition) -> list[str]:
    """The register facts the machine may decide on only when a register delivered them."""
    return [f.field for f in definition.automation.register_facts if not f.allow_statement]
