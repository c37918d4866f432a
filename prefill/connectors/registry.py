"""The one place connectors are registered; loader and prefill take a registry as a parameter."""

from __future__ import annotations

from collections.abc import Iterator

from prefill.connectors.base import Connector


class UnknownConnector(KeyError):
    """A service or call named a connector nobody registered."""


class ConnectorRegistry:
    """Maps connector ids to connector classes and rejects duplicate ids."""

    def __init__(self) -> None:
        self._connectors: dict[str, type[Connector]] = {}

    def register(self, connector: type[Connector]) -> type[Connector]:
        """Register a connector class; usable as a class decorator."""
        if connector.id in self._connectors:
            raise ValueError(f"connector id {connector.id!r} is registered twice")
        self._connectors[connector.id] = connector
        return connector

    def __call__(self, connector: type[Connector]) -> type[Connector]:
        return self.register(connector)

    def get(self, connector_id: str) -> type[Connector]:
        try:
            return self._connectors[connector_id]
        except KeyError:
            raise UnknownConnector(connector_id) from None

    def __contains__(self, connector_id: object) -> bool:
        return connector_id in self._connectors

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._connectors))
