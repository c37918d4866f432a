"""Reads service definitions and reports every problem as one line: file:line yaml.path: message.

Integrators fix definitions from these lines alone, so each names the file as it was given,
the line of the offending YAML node and the path inside the document.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from backend.definitions.checks import _semantic_problems
from backend.definitions.limits import length_warnings, with_register_limits
from backend.definitions.lint import range_warnings
from backend.definitions.models import ServiceDefinition, definition_json_schema
from backend.definitions.versions import definition_files
from backend.definitions.yaml_lines import _Document, _parse, _validation_problems
from backend.errors import DefinitionError
from prefill.connectors.registry import ConnectorRegistry

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


class LoadedDefinition(NamedTuple):
    """A valid definition and the service.yaml it came from."""

    definition: ServiceDefinition
    file: Path


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
    document.warnings += [
        document.problem(at, message) for at, message in range_warnings(definition)
    ]
    return with_register_limits(definition, connectors), problems


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
