"""docs/integrators-reference.md, generated from the definition models so it cannot drift.

`knopfdruck services reference` writes it; tests/unit/test_toolkit_reference.py fails when the
committed file differs from what the models say.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from backend.definitions.models import FORMAT_VERSION, ServiceDefinition

HEADER = f"""# Service definition format v{FORMAT_VERSION}: reference

Generated from `backend/definitions/models/` by `knopfdruck services reference`; do not edit
by hand (a test compares this file with the models). How to write a service: see
[integrators.md](integrators.md). Every mapping rejects unknown keys, so a misspelt key is an
error with its line, never silently ignored.

"""


def _type_name(annotation: Any, models: list[type[BaseModel]]) -> str:
    """A readable type, collecting nested models to document them too."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        inner, *meta = get_args(annotation)
        text = _type_name(inner, models)
        for item in meta:
            pattern = getattr(item, "pattern", None)
            if pattern:
                text += f" matching `{pattern}`"
        return text
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(arg, models) for arg in get_args(annotation))
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if origin is list:
        (item,) = get_args(annotation)
        return f"list of {_type_name(item, models)}"
    if origin is dict:
        key, value = get_args(annotation)
        return f"mapping of {_type_name(key, models)} to {_type_name(value, models)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation not in models:
            models.append(annotation)
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if annotation is type(None):
        return "null"
    names = {"str": "text", "int": "integer", "float": "number", "bool": "boolean", "date": "date"}
    name = getattr(annotation, "__name__", str(annotation))
    return names.get(name, name)


def _default(info: Any) -> str:
    if info.is_required():
        return "**required**"
    value = info.default_factory() if info.default_factory is not None else info.default
    if value is PydanticUndefined:
        return ""
    if isinstance(value, BaseModel):
        return "see below"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value in ([], {}):
        return "empty"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def format_reference() -> str:
    """The whole reference as Markdown, one table per model, in order of first use."""
    return format_models(HEADER, [ServiceDefinition])


def format_models(header: str, roots: list[type[BaseModel]]) -> str:
    """Markdown tables for the root models and every model they use, in order of first use;
    shared by the service reference and the tenant reference (backend/tenants)."""
    models: list[type[BaseModel]] = list(roots)
    parts = [header]
    index = 0
    while index < len(models):
        model = models[index]
        index += 1
        hints = typing.get_type_hints(model, include_extras=True)
        doc = " ".join((model.__doc__ or "").split())
        parts.append(f"## {model.__name__}\n\n{doc}\n\n")
        parts.append("| key | type | default | meaning |\n|---|---|---|---|\n")
        for name, info in model.model_fields.items():
            type_text = _type_name(hints[name], models)
            constraints = [
                f"{label} {getattr(item, attr)}"
                for item in info.metadata
                for attr, label in (
                    ("ge", "≥"),
                    ("gt", ">"),
                    ("le", "≤"),
                    ("lt", "<"),
                    ("min_length", "min. length"),
                )
                if getattr(item, attr, None) is not None
            ]
            if constraints:
                type_text += " (" + ", ".join(constraints) + ")"
            parts.append(
                f"| `{name}` | {_cell(type_text)} | {_default(info)} | "
                f"{_cell(info.description or '')} |\n"
            )
        parts.append("\n")
    return "".join(parts).rstrip("\n") + "\n"
