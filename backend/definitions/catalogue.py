"""The services on offer, loaded once at start-up and looked up by slug."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path

from backend.definitions.loader import LoadedDefinition, load_tree
from backend.definitions.models import ServiceDefinition
from backend.errors import DefinitionError, NotFound
from prefill.connectors.registry import ConnectorRegistry


def _collation_key(text: str) -> str:
    """Sort titles as German readers expect (DIN 5007-1: Ä with A, ß with ss)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


class Catalogue:
    """Valid service definitions by slug, with the folder each lives in."""

    def __init__(self, entries: Iterable[LoadedDefinition]) -> None:
        self._entries: dict[str, LoadedDefinition] = {}
        for entry in entries:
            slug = entry.definition.id
            if slug in self._entries:
                raise ValueError(f"service '{slug}' is in the catalogue twice")
            self._entries[slug] = entry

    def get(self, slug: str) -> ServiceDefinition:
        """The definition of a service; NotFound if there is none by that slug."""
        return self._entry(slug).definition

    def folder(self, slug: str) -> Path:
        """The service's folder, where its templates and integrator tests live."""
        return self._entry(slug).file.parent

    def all(self, lang: str = "de") -> list[ServiceDefinition]:
        """Every service sorted by title in one language, as the catalogue page lists them."""
        return sorted(
            (entry.definition for entry in self._entries.values()),
            key=lambda definition: _collation_key(definition.title.get(lang)),
        )

    def __contains__(self, slug: object) -> bool:
        return slug in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def _entry(self, slug: str) -> LoadedDefinition:
        try:
            return self._entries[slug]
        except KeyError:
            raise NotFound(f"Unknown service '{slug}'.") from None


def load_catalogue(services_dir: Path, connectors: ConnectorRegistry) -> Catalogue:
    """Load every service; refuse to start with any invalid one, naming all problems at once."""
    loaded, problems = load_tree(services_dir, connectors)
    if problems:
        raise DefinitionError(problems)
    return Catalogue(loaded)
