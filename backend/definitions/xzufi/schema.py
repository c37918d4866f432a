"""Our own check of every XZuFi message before it leaves: the official XSD is not available
here, so the structure we emit is transcribed into knopfdruck-xzufi-2.2-subset.xsd."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from backend.xmlsafe import load_schema

SCHEMA_FILE = Path(__file__).with_name("knopfdruck-xzufi-2.2-subset.xsd")


class XzufiInvalid(ValueError):
    """A message that fails our XSD: nothing of it is served or written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("XZuFi message fails the schema: " + "; ".join(problems))
        self.problems = problems


@cache
def _schema() -> etree.XMLSchema:
    return load_schema(str(SCHEMA_FILE))


def problems(root: Any) -> list[str]:
    """Every schema error of the message, with its line, or none."""
    schema = _schema()
    if schema.validate(root):
        return []
    errors: Any = schema.error_log
    return [f"line {error.line}: {error.message}" for error in errors]


def check(root: Any) -> None:
    """Raise XzufiInvalid unless the message passes our XSD."""
    found = problems(root)
    if found:
        raise XzufiInvalid(found)
