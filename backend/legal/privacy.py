"""The Datenschutzerklärung's facts, taken from what the platform really processes.

Art. 13 GDPR asks for the controller, its data protection officer, purposes and legal bases,
recipients, retention and the data subject's rights. Each service definition already declares
its reads (`source:` with purpose and legal basis), its write-backs, handover, fees, automation
basis and retention; this module only gathers them per authority, so the page can never claim
less or other than the code does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.definitions.models import LocalizedText, ServiceDefinition
from backend.definitions.portal import Authority, Contact, PortalConfig, authority_of
from backend.settings import Settings
from prefill.connectors.registry import ConnectorRegistry


@dataclass(frozen=True)
class RegisterRead:
    """One register a service reads, what from it, why and under which law."""

    register: str
    fields: tuple[LocalizedText, ...]
    purpose: str
    legal_basis: str


@dataclass(frozen=True)
class Recipient:
    """Who receives personal data from a service, why and on which basis."""

    kind: str
    """register (a write-back), fachverfahren (the handover) or payment (the fee's provider);
    the page words the last two in the citizen's language."""
    name: str
    purpose: str
    legal_basis: str


@dataclass(frozen=True)
class ServicePrivacy:
    """Everything Art. 13 GDPR requires the page to say about one service."""

    id: str
    title: LocalizedText
    legal_basis: str
    reads: tuple[RegisterRead, ...]
    entered: tuple[LocalizedText, ...]
    recipients: tuple[Recipient, ...]
    retention_days: int
    retention_basis: str
    draft_days: int
    automated_basis: str | None
    """§ 35a VwVfG and the like (Art. 22 Abs. 2 lit. b GDPR); None: a person decides."""


@dataclass
class AuthorityPrivacy:
    """One controller (Verantwortlicher) with its services."""

    name: str
    address: str
    config: Authority | None
    services: list[ServicePrivacy] = field(default_factory=list)

    def officer(self, portal: PortalConfig) -> Contact:
        """Its data protection officer; the operator's when it has none configured."""
        return (
            self.config.data_protection_officer if self.config else portal.data_protection_officer
        )

    def supervisor(self, portal: PortalConfig) -> Contact:
        """Where a complaint goes (Art. 77 GDPR)."""
        own = self.config.supervisory_authority if self.config else None
        return own or portal.supervisory_authority

    @property
    def slug(self) -> str:
        """An anchor for links from a service page to its controller's section."""
        return "".join(c if c.isalnum() else "-" for c in self.name.casefold()).strip("-")


def _reads(definition: ServiceDefinition, connectors: ConnectorRegistry) -> list[RegisterRead]:
    grouped: dict[tuple[str, str, str], list[LocalizedText]] = {}
    for f in definition.fields:
        if f.source is None:
            continue
        key = (f.source.connector, f.source.purpose, f.source.legal_basis)
        grouped.setdefault(key, []).append(f.label)
    reads = []
    for (connector, purpose, basis), labels in grouped.items():
        title = connectors.get(connector).title if connector in connectors else connector
        reads.append(RegisterRead(title, tuple(labels), purpose, basis))
    return reads


def _recipients(
    definition: ServiceDefinition, connectors: ConnectorRegistry, settings: Settings
) -> list[Recipient]:
    out = []
    for w in definition.writeback:
        title = connectors.get(w.connector).title if w.connector in connectors else w.connector
        out.append(Recipient("register", title, w.purpose, w.legal_basis))
    if definition.handover is not None:
        out.append(
            Recipient("fachverfahren", definition.handover.destination, "", definition.legal_basis)
        )
    if definition.fees:
        out.append(
            Recipient(
                "payment",
                settings.payment_provider,
                "",
                "Art. 6 Abs. 1 lit. e DSGVO i. V. m. "
                + "; ".join(dict.fromkeys(f.legal_reference for f in definition.fees)),
            )
        )
    return out


def service_privacy(
    definition: ServiceDefinition, connectors: ConnectorRegistry, settings: Settings
) -> ServicePrivacy:
    """What one service processes, as its definition declares it."""
    return ServicePrivacy(
        id=definition.id,
        title=definition.title,
        legal_basis=definition.legal_basis,
        reads=tuple(_reads(definition, connectors)),
        entered=tuple(
            f.label for f in definition.fields if f.source is None and f.options_from is None
        ),
        recipients=tuple(_recipients(definition, connectors, settings)),
        retention_days=definition.retention.days,
        retention_basis=definition.retention.legal_basis,
        draft_days=definition.draft_lifetime_days,
        automated_basis=(
            definition.automation.legal_basis if definition.processing == "automated" else None
        ),
    )


def controllers(
    definitions: list[ServiceDefinition],
    portal: PortalConfig,
    connectors: ConnectorRegistry,
    settings: Settings,
) -> list[AuthorityPrivacy]:
    """One entry per authority that offers services here, with what each service processes."""
    by_name: dict[str, AuthorityPrivacy] = {}
    for definition in definitions:
        name, address = authority_of(definition, settings.authority_name)
        config = portal.authority(name)
        entry = by_name.get(name)
        if entry is None:
            where = address or (config.address if config else portal.operator.address)
            entry = by_name[name] = AuthorityPrivacy(name, where, config)
        entry.services.append(service_privacy(definition, connectors, settings))
    return sorted(by_name.values(), key=lambda a: a.name.casefold())
