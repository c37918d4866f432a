"""Several dated versions of one service: where their files live and which one applies.

Layout (docs/integrators.md, "Versions"):

    services/<slug>/service.yaml            the first (or only) version
    services/<slug>/versions/<name>.yaml    every further version, e.g. versions/2026-01-01.yaml
    services/<slug>/templates/, tests/      shared by all versions

Each file is a complete definition with the same ``id``, its own ``version`` and ``valid_from``;
all but the newest need a ``valid_until``, because validate rejects overlapping validity.
A new application starts under the version valid today and stores that version string; the case
keeps it for the rest of its life (``Catalogue.get(slug, version)``), so a rule change never
alters a running case.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from backend.definitions.models import ServiceDefinition

from .constraints import local_today

DEFINITION_FILE = "service.yaml"
VERSIONS_DIR = "versions"


def today() -> date:
    """The administrative day in Germany: a version valid from a date applies from its midnight."""
    return local_today()


def definition_files(folder: Path) -> list[Path]:
    """The definition files of one service folder: service.yaml first, then versions/*.yaml."""
    files = [folder / DEFINITION_FILE] if (folder / DEFINITION_FILE).is_file() else []
    versions = folder / VERSIONS_DIR
    if versions.is_dir():
        files += sorted(
            child
            for child in versions.iterdir()
            if child.is_file()
            and child.suffix in (".yaml", ".yml")
            and not child.name.startswith((".", "_"))
        )
    return files


def service_folder(file: Path) -> Path:
    """The folder a definition file belongs to; templates and tests are relative to it."""
    parent = file.parent
    if parent.name == VERSIONS_DIR and (parent.parent / DEFINITION_FILE).is_file():
        return parent.parent
    return parent


def current_version(definitions: Sequence[ServiceDefinition], day: date) -> ServiceDefinition:
    """The version new applications use on a day.

    The one valid that day; when none is (a gap, or every version still in the future or
    already ended), the latest one that has started, else the earliest, so a service that is
    announced but not yet valid is still listed and its rules refuse cases until it applies.
    """
    if not definitions:
        raise ValueError("no definitions")
    ordered = sorted(definitions, key=lambda definition: definition.valid_from)
    for definition in ordered:
        if definition.is_valid_on(day):
            return definition
    started = [definition for definition in ordered if definition.valid_from <= day]
    return started[-1] if started else ordered[0]
