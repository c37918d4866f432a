"""The one place connectors are registered; loader and prefill take a registry as a parameter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

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


def build_default_registry(
    *extra: Callable[[ConnectorRegistry], None], config_dir: Path | None = None
) -> ConnectorRegistry:
    """The registry with every connector shipped with Knopfdruck, plus the generic REST
    connectors configured in config_dir (see prefill.configuration; None: none)."""
    from prefill.connectors import (
        dogtax_register,
        einkommensregister,
        geodaten,
        gewerberegister,
        hochschulregister,
        kfz_zulassungsregister,
        melderegister,
        permit_register,
        personenstandsregister,
    )

    registry = ConnectorRegistry()
    registry.register(melderegister.MelderegisterConnector)
    registry.register(personenstandsregister.PersonenstandsregisterConnector)
    registry.register(kfz_zulassungsregister.KfzZulassungsregisterConnector)
    registry.register(gewerberegister.GewerberegisterConnector)
    registry.register(einkommensregister.EinkommensregisterConnector)
    registry.register(hochschulregister.HochschulregisterConnector)
    registry.register(geodaten.GeodatenConnector)
    registry.register(permit_register.PermitRegisterConnector)
    registry.register(dogtax_register.DogTaxRegisterConnector)
    for add in extra:
        add(registry)
    if config_dir is not None:
        from prefill.configuration import add_configured_connectors

        add_configured_connectors(registry, config_dir)
    return registry
