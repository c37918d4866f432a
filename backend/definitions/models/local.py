"""What a service template leaves to each tenant that activates it ("Einer für Alle", EfA).

A service is written once in `services/<slug>/`; a municipality switches it on with a small
overlay (`tenants/<id>/services/<slug>.yaml`, backend/tenants). The overlay may set only what
the template declares here: everything else, above all the rules and what goes to a person,
stays the template's, so 50 towns cannot drift into 50 different laws.
"""

from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import StrictBool

from backend.definitions.models.base import Identifier, _Strict

Land = Literal[
    "BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST", "SH", "TH"
]  # fmt: skip
"""A Land by its two-letter code (ISO 3166-2:DE without the prefix)."""

Competence = Literal["municipality", "district"]
"""The level of the authority competent for a citizen: the municipality or the district (Kreis)
of the residence the Melderegister holds."""


class Local(_Strict):
    """The keys a tenant's overlay may set; a service without this block cannot be activated by
    a tenant (it is offered by the one authority its procedure names, e.g. a Familienkasse)."""

    competence: Competence = pydantic.Field(
        description="Which authority is competent for a citizen: the municipality or the district "
        "(Kreis) of the residence; a tenant of another level cannot activate the service."
    )
    competence_in: dict[Land, Competence] = pydantic.Field(
        default_factory=dict,
        description="Länder that give the matter to another level than `competence`, e.g. "
        "{NI: district}: in Lower Saxony the Landkreis, not the town, is the "
        "Straßenverkehrsbehörde. Routing and activation use the level of the residence's Land.",
    )
    competent_by: Literal["residence", "place"] = pydantic.Field(
        default="residence",
        description="What decides the competent authority: the applicant's residence as the "
        "Melderegister holds it (a parking permit, a dog tax), or the place the citizen chose "
        "because the matter lies there (a defect reported in a town they do not live in).",
    )
    parameters: dict[Identifier, Literal["required", "optional"]] = pydantic.Field(
        default_factory=dict,
        description="Parameters each tenant sets with its own dated values (fees, rates, its "
        "statute as legal_reference). required: every overlay must set it; optional: the "
        "template's values apply where an overlay sets none.",
    )
    fee_references: list[Identifier] = pydantic.Field(
        default_factory=list,
        description="Fees whose legal_reference each tenant replaces with its own statute "
        "(e.g. its Gebührensatzung).",
    )
    levy_references: list[Identifier] = pydantic.Field(
        default_factory=list,
        description="Levies whose legal_reference each tenant replaces with its own statute "
        "(e.g. its Hundesteuersatzung).",
    )
    field_bounds: list[Identifier] = pydantic.Field(
        default_factory=list,
        description="Fields whose bounds follow the tenant's territory (min, max, range_reason, "
        "pattern), e.g. the coordinates or postcode of a place that must lie in the town.",
    )
    statutes: StrictBool = pydantic.Field(
        default=False,
        description="Whether a tenant restates, under its own statutes and Land law, the "
        "service's legal basis, the legal basis of its automated decisions and the procedural "
        "regime (Land law decides whether a Vorverfahren precedes the Klage, § 68 Abs. 1 Satz 2 "
        "VwGO).",
    )
    lands: list[Land] = pydantic.Field(
        default_factory=list,
        description="The Länder whose law the rules are written for (e.g. a dangerous-dog list "
        "of one Land's statute); empty: every Land.",
    )

    def competence_for(self, land: str) -> Competence:
        """The level competent in one Land (`competence_in`, else `competence`)."""
        for named, level in self.competence_in.items():
            if named == land:
                return level
        return self.competence
