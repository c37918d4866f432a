"""Which authority an application is made to: routing by residence or by the chosen place.

Issue 13, item 3. A service with `local:` is decided by a tenant; which one follows the
template's `local.competent_by`:

- `residence` (parking permit, dog tax, Meldebescheinigung): the municipality (or district) of
  the residence the Melderegister holds, read as its Amtlicher Regionalschlüssel
  (`anschrift.gemeindeschluessel`, readable even under an Auskunftssperre because it names the
  town, not the address). The read is logged like every prefill read, so the data cockpit shows
  it (§ 10 OZG). A place the citizen picked does not override the register: if it differs, the
  citizen is told who is competent instead of getting another town's notice.
- `place` (Mängelmelder): the town the citizen picked (URL `/<tenant>/…` or the place picker),
  since the matter lies there; the overlay's field bounds keep the reported place inside it.
  Without a choice it is the home tenant, if the platform has one (it grew from that town).

If the Melderegister cannot answer, the place the citizen picked is used, else the home tenant:
the service's rules check the residence again on the address the case carries (e.g.
`wohnsitz_gemeinde`), so a wrong guess cannot approve anything, and it never blocks a citizen
because one register is down. A service without `local:` has no tenant (None): it is the one
body its procedure names. Rows store None also for the home tenant (docs/tenants.md).
"""

from __future__ import annotations

import logging

from backend.auth.tokens import Identity
from backend.context import AppContext
from backend.definitions.models import ServiceDefinition
from backend.errors import KnopfdruckError, NotFound
from backend.tenants.routing import competent_tenant
from prefill.service import DataNeed, PrefillOutcome, prefill

log = logging.getLogger("knopfdruck.cases")

RESIDENCE_NEED = DataNeed(
    key="wohnsitz_ars",
    connector="melderegister",
    attribute="anschrift.gemeindeschluessel",
    purpose="Zuständige Behörde für den Wohnsitz bestimmen (örtliche Zuständigkeit)",
    legal_basis="§ 3 Abs. 1 VwVfG i. V. m. § 34 Abs. 1 BMG",
)
"""The one register value routing reads: the residence's municipality key, no address."""


class NotCompetent(KnopfdruckError):
    """The authority chosen, or none on this platform, is competent: say who is."""

    status_code = 409
    code = "not_competent"

    def __init__(self, message: str, *, body: str, tenant: str | None, service: str) -> None:
        super().__init__(message)
        self.body = body
        self.tenant = tenant
        self.service = service


class PlaceNeeded(KnopfdruckError):
    """A service decided where its matter lies needs the citizen to pick the town first."""

    status_code = 409
    code = "place_needed"


async def residence_ars(
    ctx: AppContext, identity: Identity, service: str
) -> tuple[str | None, PrefillOutcome]:
    """The residence's ARS from the Melderegister (None if it cannot say), and the read's log."""
    claims = {"sub": identity.sub, **({"idnr": identity.idnr} if identity.idnr else {})}
    outcome = await prefill(
        [RESIDENCE_NEED],
        identity_claims=claims,
        service=service,
        application_id=None,
        actor="citizen",
        registry=ctx.connectors,
        configs=ctx.connector_configs,
        client=ctx.http,
        declared={(RESIDENCE_NEED.connector, RESIDENCE_NEED.attribute)},
        health=ctx.registry_health,
    )
    result = outcome.results.get(RESIDENCE_NEED.key)
    value = result.value if result is not None and result.status == "ok" else None
    return (value if isinstance(value, str) and value else None), outcome


async def authority_for(
    ctx: AppContext, identity: Identity, template: ServiceDefinition, place: str | None
) -> tuple[str | None, PrefillOutcome | None]:
    """The tenant an application of this citizen goes to (None: home tenant or no tenant), and
    the register read it took (to log with the application)."""
    tenancy = ctx.tenancy
    if template.local is None or not tenancy.tenants:
        return None, None
    home = tenancy.home
    if template.local.competent_by == "place":
        if place is None and home is not None:
            # A platform that grew from one town keeps it as the place when none was chosen.
            place = home.id
        if place is None:
            raise PlaceNeeded(
                "Bitte wählen Sie zuerst den Ort, um den es geht. "
                "(Please choose the town this is about first.)"
            )
        if template.id not in tenancy.activations.get(place, {}):
            raise NotFound("Diesen Dienst gibt es an diesem Ort nicht. (Not offered there.)")
        return (None if home is not None and home.id == place else place), None
    ars, outcome = await residence_ars(ctx, identity, template.id)
    if ars is None:
        # The register is down or holds no residence: the chosen place, else the home tenant;
        # the rules check the residence on the case's address (module docstring).
        chosen = place if place in tenancy.tenants else None
        log.warning("routing: no residence key for %s, using %s", template.id, chosen or "home")
        if chosen is not None and template.id not in tenancy.activations.get(chosen, {}):
            raise NotFound("Diesen Dienst gibt es an diesem Ort nicht. (Not offered there.)")
        return (None if chosen is None or (home and home.id == chosen) else chosen), outcome
    competence = competent_tenant(tenancy, template, ars)
    tenant = competence.tenant
    if tenant is None or not competence.activated:
        raise NotCompetent(
            f"Für Ihren Wohnsitz ist {competence.body} zuständig. Dort stellen Sie diesen Antrag; "
            "hier bietet diese Behörde ihn nicht an. (Another authority is competent for your "
            "residence; it does not offer this service here.)",
            body=competence.body,
            tenant=None,
            service=template.id,
        )
    if place is not None and place != tenant.id:
        raise NotCompetent(
            f"Für Ihren Wohnsitz ist {tenant.name} zuständig, nicht der gewählte Ort. "
            f"(For your residence, {tenant.name} is competent.)",
            body=tenant.name,
            tenant=tenant.id,
            service=template.id,
        )
    return (None if tenant.home else tenant.id), outcome
