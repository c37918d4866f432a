"""Reads `tenants/`: every tenant, its overlays, and the services as each tenant offers them.

Layout (docs/tenants.md):

    tenants/<id>/tenant.yaml              the authority (backend/tenants/models.py: Tenant)
    tenants/<id>/services/<service>.yaml  one overlay per activated service (Overlay)
    tenants/<id>/tests/<service>.yaml     the tenant's integrator test cases (optional)
    tenants/<id>/<logo file>              its logo, named in tenant.yaml

Every problem is one line `file:line yaml.path: message`, like a service definition's, and
every template × tenant combination is checked: the overlay against what the template declares
local, and the effective definition with all checks a template gets (rules type-checked against
the tenant's parameter values, templates rendered), so a town's typo fails `validate`, not a
citizen's case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from backend.definitions.catalogue import Catalogue
from backend.definitions.checks import _semantic_problems
from backend.definitions.loader import LoadedDefinition
from backend.definitions.models import ServiceDefinition
from backend.definitions.yaml_lines import _Document, read_model
from backend.errors import NotFound
from backend.tenants.models import DEPARTMENT_SEPARATOR, Overlay, Tenant
from backend.tenants.overlay import activate, overlay_problems, validation_problems
from prefill.connectors.registry import ConnectorRegistry

TENANT_FILE = "tenant.yaml"
OVERLAYS_DIR = "services"
TESTS_DIR = "tests"


@dataclass(frozen=True)
class Activation:
    """One service as one tenant offers it: every version of the template, made effective."""

    tenant: str
    overlay: Overlay
    file: Path
    versions: tuple[LoadedDefinition, ...]
    """Effective definitions with the template's file, so templates and folders resolve."""


@dataclass
class Tenancy:
    """The valid tenants and their activated services; tenants with problems are left out."""

    tenants: dict[str, Tenant] = field(default_factory=dict)
    folders: dict[str, Path] = field(default_factory=dict)
    activations: dict[str, dict[str, Activation]] = field(default_factory=dict)

    _catalogues: dict[str, Catalogue] = field(default_factory=dict, repr=False, compare=False)

    @property
    def home(self) -> Tenant | None:
        """The authority the platform served before tenants: rows without a tenant are its."""
        return next((tenant for tenant in self.tenants.values() if tenant.home), None)

    def catalogue_of(self, tenant_id: str) -> Catalogue:
        """The services as one tenant offers them (made once per loaded tenancy)."""
        if tenant_id not in self._catalogues:
            if tenant_id not in self.tenants:
                raise NotFound(f"Unknown tenant '{tenant_id}'.")
            self._catalogues[tenant_id] = Catalogue(self.entries(tenant_id))
        return self._catalogues[tenant_id]

    def by_department(self, department_key: str) -> Tenant | None:
        """The tenant a department key belongs to (`bergheim.x` → Bergheim; plain → home)."""
        prefix, dot, _office = department_key.partition(DEPARTMENT_SEPARATOR)
        return self.tenants.get(prefix) if dot else self.home

    def entries(self, tenant_id: str) -> list[LoadedDefinition]:
        """The effective definitions of one tenant, for a Catalogue of its own."""
        return [
            entry
            for activation in self.activations.get(tenant_id, {}).values()
            for entry in activation.versions
        ]

    def tests_folder(self, tenant_id: str) -> Path:
        """Where the tenant keeps its integrator test cases."""
        return self.folders[tenant_id] / TESTS_DIR


def load_tenants(
    path: Path, templates: Iterable[LoadedDefinition], connectors: ConnectorRegistry
) -> tuple[Tenancy, list[str]]:
    """Every tenant below `path` checked against the valid service templates; the valid part
    and all problems. A missing folder is no tenants (a platform for one authority)."""
    tenancy = Tenancy()
    problems: list[str] = []
    if not path.is_dir():
        return tenancy, problems
    by_service: dict[str, list[LoadedDefinition]] = {}
    for entry in templates:
        by_service.setdefault(entry.definition.id, []).append(entry)
    ars_seen: dict[str, Path] = {}
    for folder in sorted(child for child in path.iterdir() if child.is_dir()):
        if folder.name.startswith((".", "_")):
            continue
        file = folder / TENANT_FILE
        if not file.is_file():
            problems.append(f"{folder.as_posix()}:1 (root): folder has no {TENANT_FILE}")
            continue
        document = _Document(file)
        tenant, tenant_problems = _load_tenant(document, folder)
        problems += tenant_problems
        if tenant is None:
            continue
        if tenant.ars in ars_seen:
            problems.append(
                document.problem(
                    ("ars",),
                    f"ARS {tenant.ars} is also the tenant in {ars_seen[tenant.ars].as_posix()}",
                )
            )
            continue
        ars_seen[tenant.ars] = file
        home = next((t for t in tenancy.tenants.values() if t.home), None)
        if tenant.home and home is not None:
            problems.append(
                document.problem(("home",), f"'{home.id}' is already the home tenant (at most one)")
            )
            continue
        activations: dict[str, Activation] = {}
        overlays = folder / OVERLAYS_DIR
        for overlay_file in sorted(overlays.glob("*.yaml")) if overlays.is_dir() else []:
            activation, overlay_problems_found = _load_overlay(
                _Document(overlay_file), tenant, by_service, connectors
            )
            problems += overlay_problems_found
            if activation is not None and not overlay_problems_found:
                activations[activation.overlay.service] = activation
        if not tenant_problems:
            tenancy.tenants[tenant.id] = tenant
            tenancy.folders[tenant.id] = folder
            tenancy.activations[tenant.id] = activations
    return tenancy, problems


def _load_tenant(document: _Document, folder: Path) -> tuple[Tenant | None, list[str]]:
    """One tenant.yaml, with the checks that need its folder (id, logo)."""
    tenant, problems = read_model(document, Tenant)
    if tenant is None:
        return None, problems
    if tenant.id != folder.name:
        problems.append(
            document.problem(
                ("id",), f"id '{tenant.id}' does not match the folder name '{folder.name}'"
            )
        )
    logo = tenant.branding.logo
    if logo is not None:
        target = (folder / logo).resolve()
        if not target.is_relative_to(folder.resolve()) or not target.is_file():
            problems.append(
                document.problem(
                    ("branding", "logo"), f"logo '{logo}' not found in {folder.as_posix()}"
                )
            )
        elif target.suffix.lower() not in (".svg", ".png"):
            problems.append(document.problem(("branding", "logo"), "the logo must be SVG or PNG"))
    return tenant, problems


def _load_overlay(
    document: _Document,
    tenant: Tenant,
    templates: dict[str, list[LoadedDefinition]],
    connectors: ConnectorRegistry,
) -> tuple[Activation | None, list[str]]:
    """One overlay applied to every version of its template, with each version's problems."""
    overlay, problems = read_model(document, Overlay)
    if overlay is None:
        return None, problems
    if overlay.service != document.file.stem:
        problems.append(
            document.problem(
                ("service",),
                f"service '{overlay.service}' does not match the file name '{document.file.name}'",
            )
        )
    versions = templates.get(overlay.service)
    if not versions:
        problems.append(
            document.problem(
                ("service",),
                f"no valid service template '{overlay.service}' (see services validate)",
            )
        )
        return None, problems
    effective: list[LoadedDefinition] = []
    for entry in versions:
        template = entry.definition
        found = overlay_problems(template, tenant, overlay)
        if not found:
            try:
                definition = activate(template, tenant, overlay)
            except ValidationError as exc:
                found = validation_problems(exc)
            else:
                found = list(
                    _semantic_problems(definition, entry.file, connectors, documents=False)
                )
                effective.append(LoadedDefinition(definition, entry.file))
        label = f" (version {template.version})" if len(versions) > 1 else ""
        for at, message in found:
            written = _as_written(at, template, overlay)
            if written is not None:
                problems.append(document.problem(written, message + label, missing_key=True))
            else:
                # A problem in what the tenant did not write (e.g. a template rule that does not
                # type-check with the tenant's values) is reported at the overlay, with its path.
                where = ".".join(str(part) for part in at) or "(root)"
                problems.append(document.problem((), f"as activated{label}, {where}: {message}"))
    activation = Activation(tenant.id, overlay, document.file, tuple(effective))
    return activation, problems


def _as_written(
    at: tuple[str | int, ...], template: ServiceDefinition, overlay: Overlay
) -> tuple[str | int, ...] | None:
    """Where in the overlay the tenant wrote what a location of the effective definition
    points at (e.g. fields[4].min → field_bounds.breitengrad.min); None if it did not."""
    if not at:
        return None
    head, rest = at[0], at[1:]
    if head in Overlay.model_fields:
        return at
    if not rest or not isinstance(rest[0], int):
        return None
    index, tail = rest[0], rest[1:]
    if head == "fields" and index < len(template.fields):
        field_id = template.fields[index].id
        if field_id in overlay.field_bounds:
            return ("field_bounds", field_id, *tail)
    if head == "fees" and index < len(template.fees):
        fee_id = template.fees[index].id
        if tail[:1] == ("booking",) and fee_id in overlay.bookings:
            return ("bookings", fee_id, *tail[1:])
        if tail[:1] == ("legal_reference",) and fee_id in overlay.fee_references:
            return ("fee_references", fee_id)
    if head == "levies" and index < len(template.levies):
        levy_id = template.levies[index].id
        if tail[:1] == ("kassenzeichen_prefix",) and levy_id in overlay.bookings:
            return ("bookings", levy_id, "kassenzeichen_prefix")
        if tail[:1] == ("legal_reference",) and levy_id in overlay.levy_references:
            return ("levy_references", levy_id)
    return None
