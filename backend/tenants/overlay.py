"""A service as one tenant offers it: the template with the tenant's overlay applied.

Pure: template, tenant and overlay in, the effective definition (or located problems) out. The
overlay can only set what the template declares `local` (backend/definitions/models/local.py);
the authority, the remedy's authority and court and the payee come from the tenant, so a notice
of Bergheim can never carry Köln's court or account.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from backend.definitions.models import ServiceDefinition
from backend.domain.remedy import Body
from backend.tenants.models import Overlay, Tenant

Location = tuple[str | int, ...]
Problem = tuple[Location, str]

_WITH_AUTHORITY = ("vwgo_vorverfahren", "ao_einspruch", "sgg_widerspruch")


def overlay_problems(
    template: ServiceDefinition, tenant: Tenant, overlay: Overlay
) -> list[Problem]:
    """Every way the overlay oversteps the template or misses what it requires."""
    return list(_overlay_problems(template, tenant, overlay))


def _overlay_problems(
    template: ServiceDefinition, tenant: Tenant, overlay: Overlay
) -> Iterator[Problem]:
    local = template.local
    if local is None:
        yield (
            ("service",),
            (
                f"service '{template.id}' (version {template.version}) declares nothing local: "
                "it is offered by the authority its procedure names and cannot be activated by a "
                "tenant"
            ),
        )
        return
    level = local.competence_for(tenant.land)
    if not tenant.covers(level):
        yield (
            ("service",),
            (
                f"service '{template.id}' is a {level} service in {tenant.land}; "
                f"tenant '{tenant.id}' is a {tenant.level}"
                + (" that does not act as district" if tenant.level != "district" else "")
            ),
        )
    if local.lands and tenant.land not in local.lands:
        yield (
            ("service",),
            (
                f"service '{template.id}' is written for the law of {', '.join(local.lands)}; "
                f"tenant '{tenant.id}' is in {tenant.land}"
            ),
        )
    if tenant.department(overlay.department) is None:
        known = ", ".join(d.id for d in tenant.departments)
        yield (
            ("department",),
            (f"unknown department '{overlay.department}' (tenant '{tenant.id}' has: {known})"),
        )
    declared = ", ".join(local.parameters) or "none"
    for name in overlay.parameters:
        if name not in local.parameters:
            yield (
                ("parameters", name),
                (f"parameter '{name}' is not local in service '{template.id}' (local: {declared})"),
            )
    for name, need in local.parameters.items():
        if need == "required" and name not in overlay.parameters:
            yield (
                ("parameters",),
                (f"missing required local parameter '{name}' of service '{template.id}'"),
            )
    for name in local.field_bounds:
        if name not in overlay.field_bounds:
            yield (
                ("field_bounds", name),
                (
                    f"the bounds of field '{name}' follow the tenant's territory: set them (the "
                    "template's are another town's)"
                ),
            )
    for name in overlay.field_bounds:
        if name not in local.field_bounds:
            allowed = ", ".join(local.field_bounds) or "none"
            yield (
                ("field_bounds", name),
                (
                    f"the bounds of field '{name}' of service '{template.id}' are not local "
                    f"(local: {allowed})"
                ),
            )
    yield from _booking_problems(template, tenant, overlay)
    yield from _references(overlay.fee_references, local.fee_references, "fee", template.id)
    yield from _references(overlay.levy_references, local.levy_references, "levy", template.id)
    procedure = template.procedure
    restated = [
        (("legal_basis",), overlay.legal_basis),
        (("procedure",), overlay.procedure),
        (("automation", "legal_basis"), overlay.automation and overlay.automation.legal_basis),
    ]
    for at, value in restated:
        if value is not None and not local.statutes:
            yield (
                at,
                (
                    f"service '{template.id}' fixes this; the template does not declare "
                    "local.statutes"
                ),
            )
    if template.processing == "external" and overlay.handover is None:
        yield (
            ("handover",),
            (
                f"service '{template.id}' hands cases over to a Fachverfahren: name the tenant's "
                "own destination, or its reports would reach the template's office"
            ),
        )
    if template.processing != "external" and overlay.handover is not None:
        yield ("handover",), f"service '{template.id}' decides its cases and hands none over"
    if procedure is not None and procedure.objection_authority is not None:
        yield (
            ("service",),
            (
                "the template's remedy goes to a separate Widerspruchsbehörde, which the overlay "
                "format cannot name per tenant yet"
            ),
        )
    regime = overlay.procedure.regime if overlay.procedure else None
    if (regime or (procedure.regime if procedure else None)) == "sgg_widerspruch":
        yield (
            ("procedure",),
            ("sgg_widerspruch needs the Sozialgericht; a tenant names only its Verwaltungsgericht"),
        )
    automation = overlay.automation
    if automation is not None:
        rate = automation.qa_sample_rate
        if rate is not None and rate < template.automation.qa_sample_rate:
            yield (
                ("automation", "qa_sample_rate"),
                (
                    f"{rate} is below the template's {template.automation.qa_sample_rate}; "
                    "a tenant may only sample more"
                ),
            )
        if automation.legal_basis is not None and (
            not automation.automated or template.automation.legal_basis is None
        ):
            yield (
                ("automation", "legal_basis"),
                (
                    "a legal basis for automated decisions only restates the template's; this "
                    "activation decides nothing automatically"
                ),
            )


def _booking_problems(
    template: ServiceDefinition, tenant: Tenant, overlay: Overlay
) -> Iterator[Problem]:
    """Every fee with a booking and every levy needs the tenant's own cash-office booking, and a
    fee paid through XBezahldienste the tenant's own endpoint (never the template town's)."""
    for fee in template.fees:
        if fee.booking is not None and fee.booking.endpoint_id and not tenant.payment_endpoint:
            yield (
                ("bookings", fee.id),
                (
                    f"the fee '{fee.id}' is paid through the cash office's XBezahldienste "
                    f"endpoint: set payment_endpoint in tenant '{tenant.id}''s tenant.yaml"
                ),
            )
    booked = {fee.id: "fee" for fee in template.fees if fee.booking is not None}
    booked |= {levy.id: "levy" for levy in template.levies}
    for name, kind in booked.items():
        booking = overlay.bookings.get(name)
        if booking is None:
            yield (
                ("bookings",),
                (
                    f"the {kind} '{name}' of service '{template.id}' is paid to the tenant: name "
                    f"its Kassenzeichen prefix{' and accounts' if kind == 'fee' else ''} in "
                    f"bookings.{name}"
                ),
            )
        elif kind == "fee" and (booking.haushaltsstelle is None or booking.sachkonto is None):
            yield ("bookings", name), f"the fee '{name}' needs haushaltsstelle and sachkonto"
        elif kind == "levy" and (booking.haushaltsstelle or booking.sachkonto):
            yield (
                ("bookings", name),
                (f"the levy '{name}' is booked by its Kassenzeichen only; remove the accounts"),
            )
    for name in overlay.bookings:
        if name not in booked:
            yield (
                ("bookings", name),
                (f"service '{template.id}' has no fee with a booking and no levy '{name}'"),
            )


def _references(
    given: dict[str, str], local: list[str], kind: str, service: str
) -> Iterator[Problem]:
    for name in given:
        if name not in local:
            allowed = ", ".join(local) or "none"
            yield (
                (f"{kind}_references", name),
                (
                    f"the {kind} '{name}' of service '{service}' does not take a local legal "
                    f"reference (local: {allowed})"
                ),
            )


def activate(template: ServiceDefinition, tenant: Tenant, overlay: Overlay) -> ServiceDefinition:
    """The effective definition; call only after `overlay_problems` found none (else a
    ValidationError or KeyError names what is wrong)."""
    department = tenant.department(overlay.department)
    if department is None:
        raise KeyError(overlay.department)
    data: dict[str, Any] = template.model_dump(by_alias=True)
    data["department"] = department.id
    data["authority"] = department.name
    if overlay.legal_basis is not None:
        data["legal_basis"] = overlay.legal_basis
    if overlay.handover is not None:
        data["handover"] = overlay.handover.model_dump(by_alias=True)
    if overlay.title is not None:
        data["title"] = overlay.title.model_dump(by_alias=True)
    for name, values in overlay.parameters.items():
        data["parameters"][name] = [value.model_dump(by_alias=True) for value in values]
    for entry in data["fields"]:
        bounds = overlay.field_bounds.get(entry["id"])
        if bounds is not None:
            entry.update(bounds.model_dump(by_alias=True, exclude_none=True))
    for fee in data["fees"]:
        if fee["id"] in overlay.fee_references:
            fee["legal_reference"] = overlay.fee_references[fee["id"]]
        booking = overlay.bookings.get(fee["id"])
        if fee.get("booking") and booking is not None:
            fee["booking"].update(booking.model_dump(by_alias=True, exclude_none=True))
        if fee.get("booking") and tenant.payment_endpoint:
            fee["booking"]["endpoint_id"] = tenant.payment_endpoint
    for levy in data["levies"]:
        if levy["id"] in overlay.levy_references:
            levy["legal_reference"] = overlay.levy_references[levy["id"]]
        levy["payee"] = tenant.account.model_dump(by_alias=True)
        if levy["id"] in overlay.bookings:
            levy["kassenzeichen_prefix"] = overlay.bookings[levy["id"]].kassenzeichen_prefix
    if data.get("procedure") is not None:
        data["procedure"] = _procedure(data["procedure"], tenant, overlay, department.name)
    if overlay.automation is not None:
        automation = data["automation"]
        if overlay.automation.legal_basis is not None:
            automation["legal_basis"] = overlay.automation.legal_basis
        if not overlay.automation.automated:
            automation["legal_basis"] = None
        if overlay.automation.qa_sample_rate is not None:
            automation["qa_sample_rate"] = overlay.automation.qa_sample_rate
    if overlay.retention is not None:
        data["retention"] = overlay.retention.model_dump(by_alias=True)
    effective = ServiceDefinition.model_validate(data)
    # The office's platform-wide key (Tenant.department_key) is set after validation: it is no
    # slug an author could write, and it puts the tenant into every filter by department.
    key = tenant.department_key(department.id)
    return effective if key == department.id else effective.model_copy(update={"department": key})


def _procedure(
    procedure: dict[str, Any], tenant: Tenant, overlay: Overlay, office_name: str
) -> dict[str, Any]:
    """The remedy under the tenant's law, lodged at its office, heard by its court."""
    if overlay.procedure is not None:
        procedure["regime"] = overlay.procedure.regime
        procedure["legal_basis"] = overlay.procedure.legal_basis
    department = tenant.department(overlay.department)
    assert department is not None
    regime = procedure["regime"]
    if regime in _WITH_AUTHORITY or procedure.get("authority") is not None:
        office = Body(
            name=office_name,
            at=department.at,
            address=department.address or tenant.address,
        )
        procedure["authority"] = office.model_dump(by_alias=True)
    if regime == "no_administrative_act":
        procedure["court"] = None
    elif regime == "vwgo_klage" or procedure.get("court") is not None:
        procedure["court"] = tenant.court.model_dump(by_alias=True)
    return procedure


def validation_problems(exc: ValidationError) -> list[Problem]:
    """A ValidationError of the effective definition as located problems (a model check's own
    location included, so a tenant's wrongly typed value points at its parameter)."""
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        at: Location = tuple(error["loc"])
        if error["type"] == "definition":
            at += tuple((error.get("ctx") or {}).get("at", ()))
        problems.append((at, str(error["msg"]).removeprefix("Value error, ")))
    return problems
