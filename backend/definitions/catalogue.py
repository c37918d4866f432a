"""The services on offer, loaded once at start-up and looked up by slug."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from backend.definitions.loader import LoadedDefinition, load_tree
from backend.definitions.models import ServiceDefinition
from backend.definitions.versions import current_version, service_folder, today
from backend.errors import DefinitionError, NotFound
from prefill.connectors.registry import ConnectorRegistry

_log = logging.getLogger(__name__)


def _collation_key(text: str) -> str:
    """Sort titles as German readers expect (DIN 5007-1: Ä with A, ß with ss)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


class Catalogue:
    """Valid service definitions by slug (each in one or more dated versions), with the folder
    each lives in."""

    def __init__(
        self, entries: Iterable[LoadedDefinition], *, clock: Callable[[], date] = today
    ) -> None:
        self._versions: dict[str, list[LoadedDefinition]] = {}
        self._clock = clock
        for entry in entries:
            slug, version = entry.definition.id, entry.definition.version
            versions = self._versions.setdefault(slug, [])
            if any(known.definition.version == version for known in versions):
                raise ValueError(f"service '{slug}' version '{version}' is in the catalogue twice")
            versions.append(entry)
        for versions in self._versions.values():
            versions.sort(key=lambda entry: entry.definition.valid_from)

    def get(self, slug: str, version: str | None = None) -> ServiceDefinition:
        """The definition of a service: the version valid today, or the named version a case
        started under (it keeps that one for life); NotFound if there is none."""
        return self._entry(slug, version).definition

    def versions(self, slug: str) -> list[ServiceDefinition]:
        """Every version of a service, oldest valid_from first."""
        self._entry(slug)
        return [entry.definition for entry in self._versions[slug]]

    def folder(self, slug: str) -> Path:
        """The service's folder, where its templates and integrator tests live."""
        return service_folder(self._entry(slug).file)

    def all(self, lang: str = "de") -> list[ServiceDefinition]:
        """Every service (its current version) sorted by title, as the catalogue page lists them."""
        return sorted(
            (self._entry(slug).definition for slug in self._versions),
            key=lambda definition: _collation_key(definition.title.get(lang)),
        )

    def entries(self) -> list[LoadedDefinition]:
        """Every version of every service with its file, e.g. as templates tenants activate."""
        return [entry for versions in self._versions.values() for entry in versions]

    def __contains__(self, slug: object) -> bool:
        return slug in self._versions

    def __len__(self) -> int:
        return len(self._versions)

    def _entry(self, slug: str, version: str | None = None) -> LoadedDefinition:
        versions = self._versions.get(slug)
        if not versions:
            raise NotFound(f"Unknown service '{slug}'.")
        if version is None:
            today_s = current_version([entry.definition for entry in versions], self._clock())
            return next(entry for entry in versions if entry.definition is today_s)
        for entry in versions:
            if entry.definition.version == version:
                return entry
        # The version was edited in place or its file removed while cases were open. Stopping
        # those cases would strand them; they continue under today's version, loudly.
        fallback = self._entry(slug)
        _log.warning(
            "service %s has no version %s any more; using version %s",
            slug,
            version,
            fallback.definition.version,
        )
        return fallback


def load_catalogue(services_dir: Path, connectors: ConnectorRegistry) -> Catalogue:
    """Load every service; refuse to start with any invalid one, naming all problems at once."""
    loaded, problems = load_tree(services_dir, connectors)
    if problems:
        raise DefinitionError(problems)
    return Catalogue(loaded)
