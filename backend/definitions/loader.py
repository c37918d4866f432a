"""Reads service definitions and reports every problem as one line: file:line yaml.path: message.

Integrators fix definitions from these lines alone, so each names the file as it was given,
the line of the offending YAML node and the path inside the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import ValidationError
from yaml.constructor import ConstructorError

from backend.definitions.limits import length_problems, length_warnings, with_register_limits
from backend.definitions.lint import template_problems, todo_problems
from backend.definitions.models import (
    CalculationRule,
    DecisionTableRule,
    EligibilityRule,
    ServiceDefinition,
    definition_json_schema,
    yaml_path,
)
from backend.definitions.register_facts import register_fact_problems
from backend.definitions.versions import definition_files, service_folder
from backend.errors import DefinitionError
from backend.rules import CelSyntaxError, compile_expression, references
from prefill.connectors.base import TRUST_ORDER, WritableConnector
from prefill.connectors.registry import ConnectorRegistry, UnknownConnector
from prefill.service import missing_lookup_keys

__all__ = [
    "DEFINITION_FILE",
    "LoadedDefinition",
    "check_tree",
    "definition_json_schema",
    "load_definition",
    "load_tree",
    "validate_tree",
]

DEFINITION_FILE = "service.yaml"

Location = tuple[str | int, ...]


class _DefinitionYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so keys like ``on`` stay strings."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """Report an impossible date such as 2024-13-01 at its line instead of crashing."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise ConstructorError(
                None, None, f"invalid date {node.value!r}: {exc}", node.start_mark
            ) from None


# A copy without YAML 1.1 booleans (yes/no/on/off); true/false are added back below.
_DefinitionYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DefinitionYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_DefinitionYamlLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _DefinitionYamlLoader.construct_yaml_timestamp
)


class LoadedDefinition(NamedTuple):
    """A valid definition and the service.yaml it came from."""

    definition: ServiceDefinition
    file: Path


@dataclass
class _Document:
    """One service.yaml as given, with its node tree to map locations to lines."""

    file: Path
    root: yaml.Node | None = None
    own_keys: dict[int, set[int]] = field(default_factory=dict)
    """Per mapping node, the key nodes written in it (before merge keys were resolved)."""
    warnings: list[str] = field(default_factory=list)
    """Lines that do not stop the definition from loading but deserve a fix before go-live."""

    def problem(self, at: Location, message: str, *, missing_key: bool = False) -> str:
        """Format one problem line; the line is that of the deepest node that exists."""
        line, path = self._locate(at, missing_key=missing_key)
        return f"{self.file.as_posix()}:{line} {path}: {' '.join(message.split())}"

    def _locate(self, at: Location, *, missing_key: bool) -> tuple[int, str]:
        """Walk the nodes along a location, skipping parts with no node (pydantic's union tags)."""
        node = self.root
        if node is None:
            return 1, yaml_path(at)
        line = node.start_mark.line + 1
        path: list[str | int] = []
        # Below a key taken from an anchor (<<: *x), lines point into the anchor, far from the
        # entry that has the problem: stay at the line of the entry that merged it.
        merged = False
        for position, part in enumerate(at):
            if isinstance(node, yaml.MappingNode):
                for key, value in reversed(node.value):
                    # Reversed: after a merge (<<), the mapping's own keys come last and win.
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        merged = merged or id(key) not in self.own_keys.get(id(node), set())
                        if not merged:
                            line = key.start_mark.line + 1
                        node = value
                        path.append(part)
                        break
                else:
                    if missing_key and position == len(at) - 1:
                        path.append(part)
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                node = node.value[part]
                if not merged:
                    line = node.start_mark.line + 1
                path.append(part)
        return line, yaml_path(tuple(path))


def load_definition(path: Path, connectors: ConnectorRegistry) -> ServiceDefinition:
    """Load one service (its folder or its service.yaml); raise DefinitionError on any problem."""
    file = path / DEFINITION_FILE if path.is_dir() else path
    loaded, problems = _load_document(_Document(file), connectors)
    if loaded is None or problems:
        raise DefinitionError(problems)
    return loaded


def validate_tree(path: Path, connectors: ConnectorRegistry) -> list[str]:
    """Every problem of the services dir, one service folder or one service.yaml; empty if valid."""
    return load_tree(path, connectors)[1]


def check_tree(path: Path, connectors: ConnectorRegistry) -> tuple[list[str], list[str]]:
    """Problems and warnings of a path, for `services validate`: only problems fail it."""
    _valid, problems, warnings = _scan_tree(path, connectors)
    return problems, warnings


def load_tree(
    path: Path, connectors: ConnectorRegistry
) -> tuple[list[LoadedDefinition], list[str]]:
    """Load every service below a path, returning the valid ones and all problems found."""
    valid, problems, _warnings = _scan_tree(path, connectors)
    return valid, problems


def _scan_tree(
    path: Path, connectors: ConnectorRegistry
) -> tuple[list[LoadedDefinition], list[str], list[str]]:
    """Load every service below a path: the valid ones, all problems and all warnings."""
    files, problems = _discover(path)
    warnings: list[str] = []
    valid: list[LoadedDefinition] = []
    # Definitions that only fail semantic checks still take part in the overlap check.
    parsed: list[tuple[LoadedDefinition, _Document]] = []
    for file in files:
        document = _Document(file)
        definition, file_problems = _load_document(document, connectors)
        problems += file_problems
        warnings += document.warnings
        if definition is not None:
            parsed.append((LoadedDefinition(definition, file), document))
            if not file_problems:
                valid.append(LoadedDefinition(definition, file))
    problems += _overlaps(parsed)
    return valid, problems, warnings


def _discover(path: Path) -> tuple[list[Path], list[str]]:
    """The service.yaml files a path stands for, and problems if it stands for none."""
    where = path.as_posix()
    if path.is_file():
        return [path], []
    if not path.is_dir():
        return [], [f"{where}:1 (root): no such file or directory"]
    if (path / DEFINITION_FILE).is_file():
        return definition_files(path), []
    files: list[Path] = []
    problems: list[str] = []
    for folder in sorted(child for child in path.iterdir() if child.is_dir()):
        if folder.name.startswith((".", "_")):
            continue
        if (folder / DEFINITION_FILE).is_file():
            files += definition_files(folder)
        else:
            problems.append(f"{folder.as_posix()}:1 (root): folder has no {DEFINITION_FILE}")
    if not files and not problems:
        problems.append(f"{where}:1 (root): no services found (expected <slug>/{DEFINITION_FILE})")
    return files, problems


def _load_document(
    document: _Document, connectors: ConnectorRegistry
) -> tuple[ServiceDefinition | None, list[str]]:
    """Parse, validate and check one definition; never raises for a bad file."""
    data, problems = _parse(document)
    if data is None:
        return None, problems
    try:
        definition = ServiceDefinition.model_validate(data)
    except ValidationError as exc:
        return None, problems + _validation_problems(exc, document)
    problems += [
        document.problem(at, message)
        for at, message in _semantic_problems(definition, document.file, connectors)
    ]
    document.warnings += [
        document.problem(at, message) for at, message in length_warnings(definition, connectors)
    ]
    return with_register_limits(definition, connectors), problems


def _parse(document: _Document) -> tuple[dict[str, Any] | None, list[str]]:
    """Read and parse the YAML, keeping the node tree for line numbers."""
    where = document.file.as_posix()
    try:
        raw = document.file.read_bytes()
    except OSError as exc:
        return None, [f"{where}:1 (root): cannot read the file: {exc.strerror}"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [f"{where}:{line} (root): the file is not valid UTF-8"]
    loader = _DefinitionYamlLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, [f"{where}:1 (root): the file is empty"]
        document.root = root
        problems = list(_index_keys(document, root))
        problems += todo_problems(document.file, root)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        detail = exc.problem or "unreadable"
        if exc.context:
            detail += f" ({exc.context})"
        return None, [f"{where}:{line} (root): invalid YAML: {detail}"]
    except yaml.YAMLError as exc:
        return None, [f"{where}:1 (root): invalid YAML: {exc}"]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        not_mapping = "a service definition must be a mapping of keys to values"
        return None, [*problems, document.problem((), not_mapping)]
    return data, problems


def _index_keys(document: _Document, root: yaml.Node) -> Iterator[str]:
    """Record each mapping's own keys, and report duplicates: YAML keeps the last of two equal
    keys silently, which in a definition is always a mistake."""
    seen_nodes: set[int] = set()

    def walk(node: yaml.Node, at: Location) -> Iterator[str]:
        if id(node) in seen_nodes:
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            document.own_keys[id(node)] = {id(key) for key, _ in node.value}
            keys: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in keys:
                        line = key.start_mark.line + 1
                        where = yaml_path((*at, key.value))
                        yield f"{document.file.as_posix()}:{line} {where}: duplicate key"
                    keys.add(key.value)
                    yield from walk(value, (*at, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                yield from walk(item, (*at, index))

    yield from walk(root, ())


_TYPE_MESSAGES = {
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "dict_type": "expected a mapping (key: value)",
    "list_type": "expected a list",
    "missing": "required key is missing",
    "extra_forbidden": "unknown key (check the spelling)",
}


def _validation_problems(error: ValidationError, document: _Document) -> list[str]:
    """One line per location; the alternatives of a union are merged into one message."""
    grouped: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        at: Location = tuple(item["loc"])
        kind = item["type"]
        ctx = item.get("ctx") or {}
        message = _TYPE_MESSAGES.get(kind, item["msg"]).removeprefix("Value error, ")
        missing_key = kind == "missing"
        if kind == "definition":
            at += tuple(ctx["at"])
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            discriminator = str(ctx.get("discriminator", "kind")).strip("'")
            expected = str(ctx.get("expected_tags", "")).replace("'", "")
            at += (discriminator,)
            missing_key = kind == "union_tag_not_found"
            found = (
                "required key is missing"
                if missing_key
                else f"unknown {discriminator} '{ctx.get('tag', '')}'"
            )
            message = f"{found} (expected one of: {expected})" if expected else found
        # Keep the location without its message as the grouping key.
        head = document.problem(at, "", missing_key=missing_key).rstrip()
        grouped.setdefault(head, []).append(message)
    return [f"{head} {_merge(messages)}" for head, messages in grouped.items()]


def _merge(messages: list[str]) -> str:
    """Merge a union's per-member messages; a member that matched the type explains best."""
    unique = list(dict.fromkeys(messages))
    specific = [message for message in unique if not message.startswith("Input should be ")]
    if specific:
        return "; ".join(specific)
    return "Input should be " + " or ".join(m.removeprefix("Input should be ") for m in unique)


def _semantic_problems(
    definition: ServiceDefinition, file: Path, connectors: ConnectorRegistry
) -> Iterator[tuple[Location, str]]:
    """Checks against the world outside the file: folder, connectors, templates, CEL."""
    folder = service_folder(file)
    if folder.name != definition.id:
        yield ("id",), f"id '{definition.id}' does not match the folder name '{folder.name}'"
    yield from _source_problems(definition, connectors)
    for index, document in enumerate(definition.documents):
        if not (folder / document.template).is_file():
            yield (
                ("documents", index, "template"),
                f"template '{document.template}' not found in {folder.as_posix()}",
            )
        else:
            for message in template_problems(folder, document.template, definition):
                yield ("documents", index, "template"), message
    yield from _expression_problems(definition)
    yield from _writeback_problems(definition, connectors)
    yield from length_problems(definition, connectors)
    yield from register_fact_problems(definition)


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
        if source.attribute not in connector.available_attributes():
            yield (
                ("fields", index, "source", "attribute"),
                f"unknown attribute '{source.attribute}' of connector '{connector.id}'",
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


def _expression_problems(definition: ServiceDefinition) -> Iterator[tuple[Location, str]]:
    """Every CEL expression compiles and reads only what exists before it is evaluated."""
    scope: dict[str, set[str]] = {
        "fields": {field.id for field in definition.fields},
        "params": set(definition.parameters),
        "amounts": set(),
    }
    for index, rule in enumerate(definition.rules):
        if isinstance(rule, EligibilityRule):
            yield from _check_expression(rule.condition, ("rules", index, "condition"), scope)
        elif isinstance(rule, CalculationRule):
            yield from _check_expression(rule.expression, ("rules", index, "expression"), scope)
        elif isinstance(rule, DecisionTableRule):
            for row_index, row in enumerate(rule.rows):
                at = ("rules", index, "rows", row_index, "when")
                yield from _check_expression(row.when, at, scope)
        if not isinstance(rule, EligibilityRule):
            scope["amounts"].add(rule.output)
    for index, fee in enumerate(definition.fees):
        if isinstance(fee.amount, str):
            yield from _check_expression(fee.amount, ("fees", index, "amount"), scope)
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
                source, (*at, "record", key), scope, extra_names=WRITEBACK_NAMES
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
) -> Iterator[tuple[Location, str]]:
    """Compile one expression and check every name it reads against the scope at its position."""
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
    for name in found.unknown_functions:
        yield at, f"unknown function '{name}'"


def _overlaps(loaded: list[tuple[LoadedDefinition, _Document]]) -> list[str]:
    """Two definitions of one service valid on one day would make the rule version ambiguous."""
    problems: list[str] = []
    by_id: dict[str, list[tuple[LoadedDefinition, _Document]]] = {}
    for entry in loaded:
        by_id.setdefault(entry[0].definition.id, []).append(entry)
    for entries in by_id.values():
        entries.sort(key=lambda entry: entry[0].definition.valid_from)
        for position, (later, document) in enumerate(entries):
            for earlier, _ in entries[:position]:
                first, second = earlier.definition, later.definition
                if first.valid_until is not None and first.valid_until < second.valid_from:
                    if first.version == second.version:
                        # Cases name the version they started under; two files with one name
                        # would make that name ambiguous (backend/definitions/versions.py).
                        problems.append(
                            document.problem(
                                ("version",),
                                f"version '{second.version}' of service '{second.id}' is also "
                                f"defined in {earlier.file.as_posix()}; give each version its "
                                "own",
                            )
                        )
                    continue
                problems.append(
                    document.problem(
                        ("valid_from",),
                        f"service '{second.id}' is also defined in {earlier.file.as_posix()} "
                        f"for {_period(first.valid_from, first.valid_until)}; validity overlaps",
                    )
                )
    return problems


def _period(start: date, end: date | None) -> str:
    """A validity period as integrators write it."""
    return f"{start.isoformat()} – {end.isoformat() if end else 'open end'}"
