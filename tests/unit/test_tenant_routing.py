"""Routing by residence: the competent tenant for a service and an ARS (backend/tenants/routing)."""

from __future__ import annotations

import pytest

from backend.definitions.loader import LoadedDefinition
from backend.definitions.models import Local, ServiceDefinition
from backend.tenants.loader import Tenancy
from backend.tenants.routing import competent_tenant, tenants_for_postcode
from knopfdruck.cli import main
from tests.unit.test_tenants import _template, connectors, templates, tenancy  # noqa: F401

KOELN, BERGHEIM, NEUENHAUS, HUERTH = "053150000000", "053620008008", "034565402014", "053620024024"


@pytest.mark.parametrize(
    ("service", "ars", "tenant", "activated"),
    [
        ("anwohnerparkausweis", BERGHEIM, "bergheim", True),
        ("anwohnerparkausweis", KOELN, "koeln", True),
        ("meldebescheinigung", BERGHEIM, "bergheim", True),
        # Neuenhaus levies its own dog tax, but the template is NRW law: competent, not here.
        ("hundesteuer-anmeldung", NEUENHAUS, "neuenhaus", False),
        ("maengelmelder", NEUENHAUS, "neuenhaus", True),
    ],
)
def test_the_tenant_of_the_residence_is_competent(
    tenancy: Tenancy,  # noqa: F811
    templates: list[LoadedDefinition],  # noqa: F811
    service: str,
    ars: str,
    tenant: str,
    activated: bool,
) -> None:
    answer = competent_tenant(tenancy, _template(templates, service), ars)
    assert answer.tenant is not None and answer.tenant.id == tenant
    assert answer.activated is activated
    assert answer.body == answer.tenant.name


def test_a_town_without_a_tenant_is_named_by_its_key(
    tenancy: Tenancy,  # noqa: F811
    templates: list[LoadedDefinition],  # noqa: F811
) -> None:
    answer = competent_tenant(tenancy, _template(templates, "anwohnerparkausweis"), HUERTH)
    assert (answer.tenant, answer.activated) == (None, False)
    assert answer.body == "die Gemeinde mit dem Regionalschlüssel 053620024024"


def test_the_level_follows_the_land_of_the_residence(
    tenancy: Tenancy,  # noqa: F811
    templates: list[LoadedDefinition],  # noqa: F811
) -> None:
    """In Lower Saxony the Landkreis is the Straßenverkehrsbehörde: Neuenhaus is not named."""
    parking = _template(templates, "anwohnerparkausweis")
    assert parking.local is not None and parking.local.competence_for("NI") == "district"
    answer = competent_tenant(tenancy, parking, NEUENHAUS)
    assert (answer.tenant, answer.activated) == (None, False)
    assert answer.body == "der Kreis mit dem Regionalschlüssel 034560000000"
    # In NRW the town itself.
    assert competent_tenant(tenancy, parking, BERGHEIM).body == "Stadt Bergheim"


def test_a_district_service_goes_to_the_district_or_a_city_that_acts_as_one(
    tenancy: Tenancy,  # noqa: F811
    templates: list[LoadedDefinition],  # noqa: F811
) -> None:
    parking = _template(templates, "anwohnerparkausweis")
    assert parking.local is not None
    district = parking.model_copy(
        update={"local": Local(competence="district", parameters=parking.local.parameters)}
    )
    # Köln is kreisfrei: every ARS of its district (05315…) is Köln's.
    koeln = competent_tenant(tenancy, district, "053150000123")
    assert koeln.tenant is not None and koeln.tenant.id == "koeln"
    # Bergheim is a town of the Rhein-Erft-Kreis, which is no tenant here.
    rhein_erft = competent_tenant(tenancy, district, BERGHEIM)
    assert rhein_erft.tenant is None
    assert rhein_erft.body == "der Kreis mit dem Regionalschlüssel 053620000000"


def test_a_service_without_local_stays_with_the_body_its_procedure_names(
    tenancy: Tenancy,  # noqa: F811
    templates: list[LoadedDefinition],  # noqa: F811
) -> None:
    kindergeld: ServiceDefinition = _template(templates, "kindergeld")
    answer = competent_tenant(tenancy, kindergeld, BERGHEIM)
    assert answer.tenant is None
    assert answer.body == "Familienkasse Nordrhein-Westfalen West"


def test_a_visitor_finds_the_tenants_of_a_postcode(tenancy: Tenancy) -> None:  # noqa: F811
    assert [t.id for t in tenants_for_postcode(tenancy, "50127")] == ["bergheim"]
    assert [t.id for t in tenants_for_postcode(tenancy, "50667")] == ["koeln"]
    assert tenants_for_postcode(tenancy, "99999") == []


def test_route_prints_one_line_per_service(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenants", "route", "--ars", BERGHEIM]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "anwohnerparkausweis          bergheim (Stadt Bergheim): offered here" in lines
    assert (
        "kindergeld                   Familienkasse Nordrhein-Westfalen West (not a local "
        "service: its own area only)"
    ) in lines
    assert main(["tenants", "route", "--ars", "12"]) == 2
    assert "no Amtlicher Regionalschlüssel" in capsys.readouterr().err
