"""Checks of a valid definition against the world outside its file: folder, connectors,
templates and CEL. Each problem is a location inside the document and a message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from backend.definitions.cel_types import (
    Declarations,
    Expected,
    declarations,
    type_problem,
)
from backend.definitions.limits import length_problems
from backend.definitions.lint import reason_problems, template_problems
from backend.definitions.models import (
    CalculationRule,
    DecisionTableRule,
    EligibilityRule,
    ServiceDefinition,
)
from backend.definitions.register_facts import register_fact_problems
from backend.definitions.versions import service_folder
from backend.definitions.yaml_lines import Location
from backend.domain.cel import CelSyntaxError, compile_expression, references
from prefill.connectors.base import TRUST_ORDER, WritableConnector
from prefill.connectors.registry import ConnectorRegistry, UnknownConnector
from prefill.service import missing_lookup_keys


def _semantic_problems(
    definition: ServiceDefinition,
    file: Path,
    connectors: ConnectorRegistry,
    *,
    documents: bool = True,
) -> Iterator[tuple[Location, str]]:
    """Checks against the world outside the file: folder, connectors, templates, CEL.

    ``documents=False`` skips the notice templates: for a tenant's activation of a template
    they were checked with the template, since what they may read (field ids and kinds, amount
    names) is nothing an overlay can change; it halves the time 100 tenants take to load."""
    folder = service_folder(file)
    if folder.name != definition.id:
        yield ("id",), f"id '{definition.id}' does not match the folder name '{folder.name}'"
    yield from _source_problems(definition, connectors)
    for index, document in enumerate(definition.documents if documents else ()):
        if not (folder / document.template).is_file():
            yield (
                ("documents", index, "template"),
                f"template '{document.template}' not found in {folder.as_posix()}",
            )
        else:
            for message in template_problems(folder, document.template, definition):
                yield ("documents", index, "template"), message
    yield from _expression_problems(definition, connectors)
    yield from _writeback_problems(definition, connectors)
    yield from length_problems(definition, connectors)
    yield from register_fact_problems(definition)
    yield from reason_problems(definition)
    yield from local_problems(definition)


def _source_problems(
    definition: ServiceDefinition, connectors: ConnectorRegistry
) -> Iterator[tuple[Location, str]]:
    """Data minimisation is enforced here: only attributes a connector declares can be read."""
    registered = ", ".join(connectors) or "none"
    trust_checked: set[str] = set()
    for index, entry in enumerate(definition.fields):
        if entry.source is None:
            continue
        source = entry.source
        try:
            connector = connectors.get(source.connector)
        except UnknownConnector:
            yield (
                ("fields", index, "source", "connector"),
                f"unknown connector '{source.connector}' (registered: {registered})",
            )
            continue
        spec = connector.available_attributes().get(source.attribute)
        if spec is None:
            yield (
                ("fields", index, "source", "attribute"),
                f"unknown attribute '{source.attribute}' of connector '{connector.id}'",
            )
        elif entry.type not in FIELD_TYPES_FOR_ATTRIBUTE[spec.type]:
            fitting = ", ".join(sorted(FIELD_TYPES_FOR_ATTRIBUTE[spec.type]))
            yield (
                ("fields", index, "type"),
                f"type '{entry.type}' cannot hold attribute '{source.attribute}' of connector "
                f"'{connector.id}', which is {spec.type} (use one of: {fitting})",
            )
        needed = connector.min_trust_level
        if (
            connector.id not in trust_checked
            and TRUST_ORDER[definition.trust_level] < TRUST_ORDER[needed]
        ):
            yield (
                ("trust_level",),
                f"trust level '{definition.trust_level}' is below '{needed}', "
                f"which connector '{connector.id}' requires",
            )
        trust_checked.add(connector.id)
    sources = [(f.source.connector, f.source.attribute) for f in definition.fields if f.source]
    for connector_id, message in missing_lookup_keys(sources, connectors):
        index = next(
            i
            for i, f in enumerate(definition.fields)
            if f.source and f.source.connector == connector_id
        )
        yield ("fields", index, "source", "connector"), message


# Which field types can show a register attribute without losing or mis-typing it: the rules
# read a field by its own type (cel_types), so a string field on an integer attribute would
# compare text with numbers. A list or record is shown to the citizen as text.
FIELD_TYPES_FOR_ATTRIBUTE: dict[str, frozenset[str]] = {
    "string": frozenset({"string", "text", "choice", "iban", "email"}),
    "date": frozenset({"date"}),
    "integer": frozenset({"integer", "decimal"}),
    "decimal": frozenset({"decimal"}),
    "boolean": frozenset({"boolean"}),
    "list": frozenset({"string", "text"}),
    "object": frozenset({"string", "text"}),
}


def _expression_problems(
    definition: ServiceDefinition, connectors: ConnectorRegistry
) -> Iterator[tuple[Location, str]]:
    """Every CEL expression compiles, reads only what exists before it, and type-checks."""
    scope: dict[str, set[str]] = {
        "fields": {field.id for field in definition.fields},
        "params": set(definition.parameters),
        "amounts": set(),
    }
    typed = declarations(definition, connectors)
    for index, rule in enumerate(definition.rules):
        if isinstance(rule, EligibilityRule):
            at: Location = ("rules", index, "condition")
            yield from _check_expression(rule.condition, at, scope, typed=typed, expected="bool")
        elif isinstance(rule, CalculationRule):
            at = ("rules", index, "expression")
            yield from _check_expression(rule.expression, at, scope, typed=typed, expected="number")
        elif isinstance(rule, DecisionTableRule):
            for row_index, row in enumerate(rule.rows):
                at = ("rules", index, "rows", row_index, "when")
                yield from _check_expression(row.when, at, scope, typed=typed, expected="bool")
        if not isinstance(rule, EligibilityRule):
            scope["amounts"].add(rule.output)
    for index, fee in enumerate(definition.fees):
        if isinstance(fee.amount, str):
            at = ("fees", index, "amount")
            yield from _check_expression(fee.amount, at, scope, typed=typed, expected="number")
        scope["amounts"].add(fee.id)


WRITEBACK_NAMES = frozenset({"reference"})
"""Names a write-back record may read besides the rules' scope: the case's Aktenzeichen."""


def _writeback_problems(
    definition: ServiceDefinition, connectors: ConnectorRegistry
) -> Iterator[tuple[Location, str]]:
    """A write-back must name a writable connector, one of its operations and valid CEL."""
    registered = ", ".join(connectors) or "none"
    scope: dict[str, set[str]] = {
        "fields": {field.id for field in definition.fields},
        "params": set(definition.parameters),
        # Written after the decision: every amount the rules or fees can compute is in scope.
        "amounts": {
            rule.output for rule in definition.rules if not isinstance(rule, EligibilityRule)
        }
        | {fee.id for fee in definition.fees},
    }
    typed = declarations(definition, connectors, extra=[("reference", "string")])
    for index, entry in enumerate(definition.writeback):
        at: Location = ("writeback", index)
        try:
            connector = connectors.get(entry.connector)
        except UnknownConnector:
            yield (
                (*at, "connector"),
                f"unknown connector '{entry.connector}' (registered: {registered})",
            )
        else:
            if not issubclass(connector, WritableConnector):
                yield (*at, "connector"), f"connector '{connector.id}' does not accept writes"
            elif entry.operation not in connector.write_operations:
                offered = ", ".join(connector.write_operations) or "none"
                yield (
                    (*at, "operation"),
                    f"unknown operation '{entry.operation}' of connector '{connector.id}' "
                    f"(offers: {offered})",
                )
        for key, source in entry.record.items():
            yield from _check_expression(
                source,
                (*at, "record", key),
                scope,
                extra_names=WRITEBACK_NAMES,
                typed=typed,
                expected="any",
            )


_MEMBER_PROBLEMS = {
    "fields": "unknown field '{name}'",
    "params": "unknown parameter '{name}'",
    "amounts": "amount '{name}' is not computed by an earlier rule or fee",
}


def _check_expression(
    source: str,
    at: Location,
    scope: dict[str, set[str]],
    *,
    extra_names: frozenset[str] = frozenset(),
    typed: Declarations,
    expected: Expected,
) -> Iterator[tuple[Location, str]]:
    """Compile one expression, check every name it reads against the scope at its position,
    then its types: a rule that cannot run must fail here, not on a citizen's case."""
    try:
        program = compile_expression(source)
    except CelSyntaxError as exc:
        yield at, str(exc)
        return
    found = references(program)
    for root, name in found.members:
        if name not in scope[root]:
            yield at, _MEMBER_PROBLEMS[root].format(name=name)
    in_scope = ", ".join(["fields", "params", "amounts", "reference_date", *sorted(extra_names)])
    for name in found.unknown_names:
        if name not in extra_names:
            yield at, f"unknown name '{name}' (in scope: {in_scope})"
    unknown_members = [name for root, name in found.members if name not in scope[root]]
    unknown_names = [name for name in found.unknown_names if name not in extra_names]
    for name in found.unknown_functions:
        yield at, f"unknown function '{name}'"
    if unknown_members or unknown_names or found.unknown_functions:
        return  # named above; the type checker would only say it again in its own words
    problem = type_problem(typed, source, expected)
    if problem is not None:
        yield at, problem


def local_problems(definition: ServiceDefinition) -> Iterator[tuple[Location, str]]:
    """Names in `local` must exist in the template, or an overlay could set nothing real."""
    local = definition.local
    if local is None:
        return
    for name in local.parameters:
        if name not in definition.parameters:
            yield ("local", "parameters", name), f"no parameter '{name}' in this service"
    fees = {fee.id for fee in definition.fees}
    for index, name in enumerate(local.fee_references):
        if name not in fees:
            yield ("local", "fee_references", index), f"no fee '{name}' in this service"
    fields = {field.id for field in definition.fields}
    for index, name in enumerate(local.field_bounds):
        if name not in fields:
            yield ("local", "field_bounds", index), f"no field '{name}' in this service"
    levies = {levy.id for levy in definition.levies}
    for index, name in enumerate(local.levy_references):
        if name not in levies:
            yield ("local", "levy_references", index), f"no levy '{name}' in this service"
