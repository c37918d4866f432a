"""What every part of a service definition shares: strict models, names, texts, located errors."""

from __future__ import annotations

from typing import Annotated

import pydantic
from pydantic import (
    AfterValidator,
    StrictFloat,
    StrictInt,
    StringConstraints,
)

from backend.domain.cel import MAX_SOURCE_LENGTH
from backend.domain.language import Strict, Text, located_problem

_Strict = Strict
"""The base of every definition model (the domain's strict value model)."""
_problem = located_problem

# Words CEL reserves: a field named like one could not be written as ``fields.<name>``.
_CEL_RESERVED = frozenset(
    {
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
        "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
        "void", "while",
    }
)  # fmt: skip


def _not_reserved(name: str) -> str:
    """Reject names rules could not refer to."""
    if name in _CEL_RESERVED:
        raise ValueError(f"'{name}' is a reserved word in CEL and cannot be used as a name")
    return name


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=63)]
Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=63),
    AfterValidator(_not_reserved),
]
CelSource = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SOURCE_LENGTH)]
Number = StrictInt | StrictFloat


def _first_duplicate(values: list[str]) -> tuple[int, int] | None:
    """Index of the first repeated value and of its first occurrence."""
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            return index, seen[value]
        seen[value] = index
    return None


class LocalizedList(_Strict):
    """Short texts in German and English, e.g. the words citizens search a service by."""

    de: list[Text] = pydantic.Field(default_factory=list, description="German entries.")
    en: list[Text] = pydantic.Field(default_factory=list, description="English entries.")

    def get(self, lang: str) -> list[str]:
        """The entries in one language, German for anything not English."""
        return list(self.en if lang == "en" else self.de)


def yaml_path(at: tuple[str | int, ...]) -> str:
    """A location tuple as the YAML path integrators read, e.g. rules[2].output."""
    text = ""
    for part in at:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(root)"
