"""Which authority is competent for a citizen: by the residence the Melderegister holds.

Pure: the tenancy, a template and an Amtlicher Regionalschlüssel (ARS, the Melderegister's
`anschrift.gemeindeschluessel`) in, the answer out. The portal will route with it (issue 13,
item 3; not wired yet, docs/tenants.md); `knopfdruck tenants route` shows its answers, so a data
centre can check its coverage before citizens arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.definitions.models import ServiceDefinition
from backend.tenants.loader import Tenancy
from backend.tenants.models import LAND_OF_ARS_PREFIX, Tenant

DISTRICT_DIGITS = 5
"""Land (2), Regierungsbezirk (1) and Kreis (2): the part of an ARS that names the district."""


@dataclass(frozen=True)
class Competence:
    """The answer for one service and one residence: who decides, and whether it is here."""

    tenant: Tenant | None
    """The tenant on this platform that decides; None when none is competent here."""
    body: str
    """Who is competent, in words a citizen can act on (also when it is not on the platform)."""
    activated: bool
    """Whether that tenant offers the service here (it may be competent but not have it yet)."""


def competent_tenant(tenancy: Tenancy, template: ServiceDefinition, ars: str) -> Competence:
    """The competent authority for a service and a residence's ARS."""
    local = template.local
    if local is None:
        # Not a local service: the one body its procedure names (e.g. the Familienkasse).
        procedure = template.procedure
        body = procedure.authority.name if procedure and procedure.authority else "-"
        return Competence(None, body, activated=False)
    # The level follows the residence's Land: the Landkreis in one, the town in another.
    level = local.competence_for(LAND_OF_ARS_PREFIX.get(ars[:2], ""))
    for tenant in tenancy.tenants.values():
        if _covers(tenant, level, ars):
            activated = template.id in tenancy.activations.get(tenant.id, {})
            return Competence(tenant, tenant.name, activated)
    if level == "municipality":
        body = f"die Gemeinde mit dem Regionalschlüssel {ars}"
    else:
        body = f"der Kreis mit dem Regionalschlüssel {ars[:DISTRICT_DIGITS]}{'0' * 7}"
    return Competence(None, body, activated=False)


def _covers(tenant: Tenant, competence: str, ars: str) -> bool:
    if competence == "municipality":
        return tenant.ars == ars
    return tenant.covers("district") and tenant.ars[:DISTRICT_DIGITS] == ars[:DISTRICT_DIGITS]


def tenants_for_postcode(tenancy: Tenancy, postcode: str) -> list[Tenant]:
    """The tenants whose territory has this postcode (one postcode may span several towns)."""
    return sorted(
        (tenant for tenant in tenancy.tenants.values() if postcode in tenant.postcodes),
        key=lambda tenant: tenant.name,
    )
