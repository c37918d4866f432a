"""Everything a request or a worker step needs, built once per process by a function."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from dbos import DBOSClient
from sqlalchemy.engine import Engine

from backend.auth.tokens import TokenVerifier
from backend.crypto import configure_keys, keys_for
from backend.db import engine_for
from backend.definitions.catalogue import Catalogue, load_catalogue
from backend.definitions.models import ServiceDefinition
from backend.definitions.portal import PortalConfig, load_portal_config, missing_authorities
from backend.documents.render import NoticeRenderer
from backend.errors import DefinitionError
from backend.records.models import Application, Case
from backend.settings import Settings
from backend.tenants.loader import Tenancy, load_tenants
from prefill.configuration import build_default_registry, registry_configs
from prefill.connectors.base import ConnectorConfig
from prefill.connectors.registry import ConnectorRegistry
from prefill.health import RegistryHealth

log = logging.getLogger("knopfdruck.legal")


@dataclass
class AppContext:
    """The process's wiring: settings, database, definitions, connectors, clients."""

    settings: Settings
    engine: Engine
    connectors: ConnectorRegistry
    catalogue: Catalogue
    renderer: NoticeRenderer
    http: httpx.AsyncClient
    verifier: TokenVerifier
    dbos_client: DBOSClient
    connector_configs: dict[str, ConnectorConfig] = field(default_factory=dict)
    registry_health: RegistryHealth = field(default_factory=RegistryHealth)
    tenancy: Tenancy = field(default_factory=Tenancy)
    """The authorities served and their activated services (backend/tenants), checked at
    start-up like the definitions."""
    portal: PortalConfig | None = None
    """The operator's legal information (backend/definitions/portal.py), checked at start-up."""
    """Circuit breakers and counters per registry; process-local (see prefill.health)."""

    def definition(
        self, service: str, version: str | None = None, tenant: str | None = None
    ) -> ServiceDefinition:
        """A service as an authority offers it: the tenant's activation, or for no tenant the
        home tenant's (else the template as written, e.g. the Familienkasse's Kindergeld).

        A tenant that no longer offers the service raises NotFound rather than falling back to
        the template: another town's fees or office must never decide its case."""
        if tenant is not None:
            return self.tenancy.catalogue_of(tenant).get(service, version)
        home = self.tenancy.home
        if home is not None:
            own = self.tenancy.catalogue_of(home.id)
            if service in own:
                return own.get(service, version)
        return self.catalogue.get(service, version)

    def tenant_of_department(self, department: str) -> str | None:
        """The tenant a department key belongs to, as rows store it (None for the home one)."""
        tenant = self.tenancy.by_department(department)
        return None if tenant is None or tenant.home else tenant.id

    def department_services(self, department: str) -> list[ServiceDefinition]:
        """The services one office owns, as its authority offers them (a clerk's services)."""
        tenant = self.tenant_of_department(department)
        if tenant is not None:
            offered = self.tenancy.catalogue_of(tenant).all()
        else:
            offered = [self.definition(d.id) for d in self.catalogue.all()]
        return [d for d in offered if d.department == department]

    def draft_definition(self, application: Application) -> ServiceDefinition:
        """A draft follows today's version of its service, at its authority."""
        return self.definition(application.service, tenant=application.tenant)

    def case_definition(self, case: Case) -> ServiceDefinition:
        """The definition a case runs under for life: its version, its authority's values."""
        return self.definition(case.service, case.service_version, case.tenant)

    def close(self) -> None:
        self.dbos_client.destroy()
        self.engine.dispose()


def connectors_for(settings: Settings) -> ConnectorRegistry:
    """The shipped connectors plus those an operator configured in the registries folder."""
    return build_default_registry(config_dir=settings.registries_dir)


def connector_configs(
    settings: Settings, connectors: ConnectorRegistry
) -> dict[str, ConnectorConfig]:
    """Every connector is reached under the registries base URL (it knows its own path below),
    unless its file in the registries folder says otherwise; secrets come from the environment.

    Raises prefill.configuration.RegistryConfigError at start-up for a broken file or a missing
    secret, so no citizen meets it at the first read.
    """
    return registry_configs(
        connectors,
        default_base_url=settings.registry_base_url,
        default_timeout_s=settings.registry_timeout_s,
        config_dir=settings.registries_dir,
    )


def build_context(settings: Settings, *, connectors: ConnectorRegistry | None = None) -> AppContext:
    """Load and check every service definition, connect the database; fail early and clearly."""
    registry = connectors or connectors_for(settings)
    catalogue = load_catalogue(settings.services_dir, registry)
    tenancy = load_tenancy(settings, catalogue, registry)
    portal = load_portal_config(settings.portal_config)
    for warning in missing_authorities(portal, catalogue.all(), settings.authority_name):
        log.warning("legal pages: %s", warning)
    # Before any row is read or written: income, IBAN and tax id are encrypted at rest.
    configure_keys(keys_for(settings.field_encryption_keys, settings.data_dir))
    engine = engine_for(settings)
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.registry_timeout_s),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": "Knopfdruck/0.1"},
    )
    verifier = TokenVerifier(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        client=http,
        api_clients=settings.api_clients,
    )
    return AppContext(
        settings=settings,
        engine=engine,
        connectors=registry,
        catalogue=catalogue,
        renderer=NoticeRenderer(settings.services_dir),
        http=http,
        verifier=verifier,
        # The client only writes workflow rows inside our own transactions (see cases.submission).
        dbos_client=DBOSClient(system_database_engine=engine, lazy=True),
        connector_configs=connector_configs(settings, registry),
        portal=portal,
        tenancy=tenancy,
    )


def load_tenancy(
    settings: Settings, catalogue: Catalogue, connectors: ConnectorRegistry
) -> Tenancy:
    """Every tenant and overlay checked against the catalogue; refuse to start on a problem, as
    with a definition: a town's wrong fee must fail here, not in a citizen's case."""
    tenancy, problems = load_tenants(settings.tenants_folder(), catalogue.entries(), connectors)
    if problems:
        raise DefinitionError(problems)
    return tenancy


def data_path(settings: Settings, name: str) -> Path:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.data_dir / name
