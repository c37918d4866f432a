"""The tenant format: `tenants/<id>/tenant.yaml` and the overlays in `tenants/<id>/services/`.

A tenant is an authority that issues notices (a municipality or a district), keyed by its
Amtlicher Regionalschlüssel (ARS). It is configuration in the repository, validated like a
service definition with file:line errors, because a data centre reviews and versions it the
same way. The overlay format is deliberately small: what a template declares `local`, the
department that owns the service locally, and only stricter automation.
"""

from __future__ import annotations

from typing import Annotated

import pydantic
from pydantic import StrictBool, StringConstraints, model_validator

from backend.definitions.models import (
    Account,
    Competence,
    DatedValue,
    Handover,
    Identifier,
    Land,
    LocalizedText,
    Number,
    Pattern,
    Retention,
    Slug,
    Text,
    _Strict,
)
from backend.definitions.models.fees import BookingValue
from backend.domain.language import located_problem
from backend.domain.remedy import Body, Regime

TENANT_FORMAT_VERSION = 1

Ars = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
"""Amtlicher Regionalschlüssel: Land (2), Regierungsbezirk (1), Kreis (2), Verband (4),
Gemeinde (3)."""
Postcode = Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")]

# The first two digits of an ARS name the Land (Statistisches Bundesamt, Gemeindeverzeichnis).
LAND_OF_ARS_PREFIX: dict[str, str] = {
    "01": "SH", "02": "HH", "03": "NI", "04": "HB", "05": "NW", "06": "HE", "07": "RP",
    "08": "BW", "09": "BY", "10": "SL", "11": "BE", "12": "BB", "13": "MV", "14": "SN",
    "15": "ST", "16": "TH",
}  # fmt: skip


class Department(_Strict):
    """An office of the tenant that owns services locally, as a Rechtsbehelfsbelehrung names it."""

    id: Slug = pydantic.Field(
        description="Slug, as service templates name their department (e.g. 'ordnungsamt')."
    )
    name: Text = pydantic.Field(description="Letterhead line, e.g. 'Stadt Bergheim – Ordnungsamt'.")
    at: Text = pydantic.Field(
        description="The name after 'at' in German, with its article in the dative, e.g. "
        "'bei der Stadt Bergheim, Ordnungsamt'."
    )
    address: Text | None = pydantic.Field(
        default=None, description="Postal address on one line; default: the tenant's."
    )
    email: Text | None = pydantic.Field(default=None, description="The office's e-mail address.")


class Contact(_Strict):
    """How citizens reach the authority."""

    email: Text = pydantic.Field(description="General e-mail address.")
    phone: Text = pydantic.Field(description="General telephone number.")
    web: Text | None = pydantic.Field(default=None, description="Web site (https://…).")


class Branding(_Strict):
    """What makes the authority's pages and notices recognisably its own."""

    logo: Text | None = pydantic.Field(
        default=None,
        description="Logo file in the tenant's folder (SVG or PNG), printed on notices.",
    )
    colour: Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")] = pydantic.Field(
        default="#1f4e79",
        description="Main colour as #rrggbb; the portal checks its contrast on white.",
    )


RESERVED_IDS = frozenset(
    {
        "api",
        "applications",
        "auth",
        "barrierefreiheit",
        "cases",
        "console",
        "datenschutz",
        "docs",
        "feedback",
        "gebaerdensprache",
        "healthz",
        "impressum",
        "lang",
        "leichte-sprache",
        "logged-out",
        "login",
        "logout",
        "mailbox",
        "metrics",
        "my-data",
        "orte",
        "readyz",
        "redoc",
        "sandbox",
        "services",
        "session",
        "static",
        "verify",
    }
)
"""The portal's own first path segments: a tenant lives at `/<id>/`, so its id must not be one
(tests/unit/test_tenant_places.py compares this with the routes of the running app)."""

DEPARTMENT_SEPARATOR = "."
"""Between tenant and office in a department key; never part of a slug."""


def qualified_department(tenant_id: str, department_id: str) -> str:
    """`<tenant>.<office>`: the department key of a tenant other than the home one."""
    return f"{tenant_id}{DEPARTMENT_SEPARATOR}{department_id}"


class Tenant(_Strict):
    """An authority that issues notices on the platform: `tenants/<id>/tenant.yaml`."""

    id: Slug = pydantic.Field(description="Slug, equal to the folder name; used in URLs.")
    ars: Ars = pydantic.Field(description="Amtlicher Regionalschlüssel of its territory.")
    level: Competence = pydantic.Field(
        description="municipality (Gemeinde, Stadt) or district (Kreis, kreisfreie Städte are "
        "municipalities that also act as district)."
    )
    acts_as_district: StrictBool = pydantic.Field(
        default=False,
        description="A kreisfreie Stadt does a district's work too, so it can activate services "
        "whose competence is district.",
    )
    home: StrictBool = pydantic.Field(
        default=False,
        description="The authority the platform served before it had tenants (at most one): "
        "its departments keep their plain ids, and cases without a tenant are its.",
    )
    name: Text = pydantic.Field(description="Name, e.g. 'Stadt Bergheim'.")
    land: Land = pydantic.Field(description="Land, two letters; must match the ARS.")
    address: Text = pydantic.Field(description="Postal address of the administration.")
    contact: Contact
    postcodes: list[Postcode] = pydantic.Field(
        min_length=1,
        description="Postcodes of its territory, for a visitor who picks a place before login.",
    )
    account: Account = pydantic.Field(
        description="The authority's account fees and local taxes are paid to."
    )
    payment_endpoint: Annotated[str, StringConstraints(pattern=r"^[\w-]{1,27}$")] | None = (
        pydantic.Field(
            default=None,
            description="XBezahldienste endpointId of its cash office; required to activate a "
            "service whose fees are paid through one.",
        )
    )
    court: Body = pydantic.Field(
        description="The Verwaltungsgericht whose district covers the territory (§ 52 VwGO)."
    )
    imprint_url: Text | None = pydantic.Field(default=None, description="Its Impressum page.")
    privacy_url: Text | None = pydantic.Field(
        default=None, description="Its data protection page (Art. 13 GDPR)."
    )
    branding: Branding = pydantic.Field(default_factory=Branding)
    departments: list[Department] = pydantic.Field(
        min_length=1, description="Its offices that own services."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Tenant:
        """The ARS, the Land and the department ids must tell one story."""
        if LAND_OF_ARS_PREFIX.get(self.ars[:2]) != self.land:
            raise located_problem(
                f"ARS {self.ars} lies in {LAND_OF_ARS_PREFIX.get(self.ars[:2], 'no Land')}, "
                f"not in {self.land}",
                "land",
            )
        if self.id in RESERVED_IDS:
            raise located_problem(
                f"id '{self.id}' is a path of the portal itself; the tenant's pages live at "
                f"/{self.id}/, so choose another id",
                "id",
            )
        if self.acts_as_district and self.level != "municipality":
            raise located_problem("only a municipality can act as district", "acts_as_district")
        seen: set[str] = set()
        for index, department in enumerate(self.departments):
            if department.id in seen:
                raise located_problem(
                    f"department '{department.id}' is listed twice", "departments", index, "id"
                )
            seen.add(department.id)
        return self

    def department_key(self, department_id: str) -> str:
        """The platform-wide key of one of its offices, as cases and clerks' logins carry it.

        Qualified with the tenant (`bergheim.strassenverkehrsamt`) so that every filter by
        department also filters by tenant: a clerk of one town never matches another town's
        office of the same name. The home tenant's keys stay plain, so a database and the
        clerk accounts from before tenancy keep working unchanged (docs/tenants.md)."""
        return department_id if self.home else qualified_department(self.id, department_id)

    def department(self, department_id: str) -> Department | None:
        """One of its offices by slug."""
        return next((d for d in self.departments if d.id == department_id), None)

    def covers(self, competence: Competence) -> bool:
        """Whether it can be the competent authority for services of that level."""
        return self.level == competence or (competence == "district" and self.acts_as_district)


class FieldBounds(_Strict):
    """A field's bounds within the tenant's territory; unset keys keep the template's."""

    min: Number | None = pydantic.Field(default=None, description="Smallest allowed value.")
    max: Number | None = pydantic.Field(default=None, description="Largest allowed value.")
    range_reason: LocalizedText | None = pydantic.Field(
        default=None, description="Why the range, told to a citizen whose answer is outside it."
    )
    pattern: Pattern | None = pydantic.Field(
        default=None, description="The form the answer must have, e.g. the town's postcodes."
    )


class OverlayBooking(_Strict):
    """Where the tenant's cash office books a fee or levy: never the template's town's."""

    kassenzeichen_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,12}$")] = (
        pydantic.Field(description="Start of every Kassenzeichen of this fee or levy.")
    )
    haushaltsstelle: BookingValue | None = pydantic.Field(
        default=None, description="Haushaltsstelle of a fee (required for a fee with booking)."
    )
    sachkonto: BookingValue | None = pydantic.Field(
        default=None, description="Sachkonto of a fee (required for a fee with booking)."
    )


class OverlayProcedure(_Strict):
    """The regime under this tenant's Land law; the authority and court come from the tenant."""

    regime: Regime = pydantic.Field(description="As in the service definition's procedure.")
    legal_basis: Text | None = pydantic.Field(
        default=None, description="Why this regime applies here, e.g. '§ 80 Abs. 1 NJG'."
    )


class OverlayAutomation(_Strict):
    """Only stricter than the template: fewer automated decisions, a larger QA sample."""

    automated: StrictBool = pydantic.Field(
        default=True,
        description="false: every case of this tenant goes to a person, whatever the template "
        "allows (§ 35a VwVfG permits automation, it does not require it); true: as the template "
        "allows, never more.",
    )
    legal_basis: Text | None = pydantic.Field(
        default=None,
        description="The automated decisions' legal basis under the tenant's Land law (e.g. "
        "'§ 155 Abs. 4 AO i. V. m. § 11 Abs. 1 Nr. 4 Buchst. b NKAG'), where the template "
        "declares local.statutes.",
    )
    qa_sample_rate: float | None = pydantic.Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Share of automated decisions sampled for review; at least the template's.",
    )


class Overlay(_Strict):
    """A tenant's activation of one service: `tenants/<id>/services/<service>.yaml`."""

    service: Slug = pydantic.Field(description="The service template, equal to the file name.")
    department: Slug = pydantic.Field(
        description="The tenant's office that owns the service (its letterhead and the "
        "authority a Widerspruch is lodged at)."
    )
    title: LocalizedText | None = pydantic.Field(
        default=None, description="A local name in the catalogue; default: the template's."
    )
    legal_basis: Text | None = pydantic.Field(
        default=None,
        description="The service's legal basis under the tenant's statutes, where the template "
        "declares local.statutes.",
    )
    handover: Handover | None = pydantic.Field(
        default=None,
        description="The tenant's own Fachverfahren; required when the template hands cases "
        "over (processing: external), so no town's reports reach another town's office.",
    )
    parameters: dict[Identifier, list[DatedValue]] = pydantic.Field(
        default_factory=dict,
        description="Dated values of the parameters the template declares local, each with "
        "the tenant's own statute as legal_reference.",
    )
    field_bounds: dict[Identifier, FieldBounds] = pydantic.Field(
        default_factory=dict,
        description="Bounds of the fields the template declares local.field_bounds.",
    )
    bookings: dict[Identifier, OverlayBooking] = pydantic.Field(
        default_factory=dict,
        description="Per fee with a booking and per levy: the tenant's cash office's "
        "Kassenzeichen prefix and accounts; required for each, so no payment is booked to "
        "another town's budget.",
    )
    fee_references: dict[Identifier, Text] = pydantic.Field(
        default_factory=dict, description="Fee id to the tenant's statute that sets it."
    )
    levy_references: dict[Identifier, Text] = pydantic.Field(
        default_factory=dict, description="Levy id to the tenant's statute that levies it."
    )
    procedure: OverlayProcedure | None = pydantic.Field(
        default=None,
        description="The regime under the tenant's Land law, where the template declares "
        "local.statutes.",
    )
    automation: OverlayAutomation | None = pydantic.Field(
        default=None, description="Stricter automation than the template."
    )
    retention: Retention | None = pydantic.Field(
        default=None,
        description="The tenant's own retention period for the service's cases, under its "
        "records schedule (Aktenordnung); default: the template's. The town is the controller "
        "(Art. 5 Abs. 1 lit. e GDPR), so the period is its decision.",
    )
