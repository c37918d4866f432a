"""Reads one service.yaml keeping its node tree, so every problem names its file and line.

A problem is one line: file:line yaml.path: message. Locations come from pydantic errors or
from the checks; the node tree maps them back to the line an integrator has to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.constructor import ConstructorError

from backend.definitions.lint import todo_problems
from backend.definitions.models import yaml_path

Location = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


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


def load_yaml(text: str) -> Any:
    """A definition's YAML as the loader reads it (YAML 1.2 booleans: ``on:`` stays a key), for
    tools that look into definition text without loading it (the designer, the guide's tests)."""
    return yaml.load(text, Loader=_DefinitionYamlLoader)


def read_model(document: _Document, model: type[M]) -> tuple[M | None, list[str]]:
    """One YAML file read into a model; None and file:line problems when it does not fit."""
    data, problems = _parse(document)
    if data is None:
        return None, problems
    try:
        return model.model_validate(data), problems
    except ValidationError as exc:
        return None, problems + _validation_problems(exc, document)
