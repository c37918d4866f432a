"""Tenants and overlays (EfA): what a town may set, what it gets, and every way it can go wrong."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from backend.context import connectors_for
from backend.definitions.loader import LoadedDefinition, check_tree, load_tree
from backend.definitions.models import ServiceDefinition
from backend.settings import Settings
from backend.tenants.loader import Tenancy, load_tenants
from backend.tenants.reference import format_tenant_reference
from backend.tenants.scaffold import overlay_skeleton, tenant_skeleton
from prefill.connectors.registry import ConnectorRegistry

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
TENANTS = ROOT / "tenants"


@pytest.fixture(scope="module")
def connectors() -> ConnectorRegistry:
    return connectors_for(Settings(registries_dir=ROOT / "registries"))


@pytest.fixture(scope="module")
def templates(connectors: ConnectorRegistry) -> list[LoadedDefinition]:
    loaded, problems = load_tree(SERVICES, connectors)
    assert problems == []
    return loaded


@pytest.fixture(scope="module")
def tenancy(templates: list[LoadedDefinition], connectors: ConnectorRegistry) -> Tenancy:
    loaded, problems = load_tenants(TENANTS, templates, connectors)
    assert problems == []
    return loaded


def _template(templates: list[LoadedDefinition], service: str) -> ServiceDefinition:
    (definition,) = [entry.definition for entry in templates if entry.definition.id == service]
    return definition


def _effective(tenancy: Tenancy, tenant: str, service: str) -> ServiceDefinition:
    (entry,) = tenancy.activations[tenant][service].versions
    return entry.definition


def _replace(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {file} exactly once"
    file.write_text(text.replace(old, new), encoding="utf-8")


def _line_of(file: Path, text: str) -> int:
    """The first line of a file that contains the text, counted from 1."""
    lines = file.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


# The repository's tenants.


def test_the_repository_tenants_load_without_problems(tenancy: Tenancy) -> None:
    assert sorted(tenancy.tenants) == ["bergheim", "koeln", "neuenhaus"]
    four = ["anwohnerparkausweis", "hundesteuer-anmeldung", "maengelmelder", "meldebescheinigung"]
    assert sorted(tenancy.activations["koeln"]) == four
    assert sorted(tenancy.activations["bergheim"]) == four
    assert sorted(tenancy.activations["neuenhaus"]) == ["maengelmelder"]
    assert tenancy.tests_folder("bergheim") == TENANTS / "bergheim" / "tests"
    assert [e.definition.id for e in tenancy.entries("neuenhaus")] == ["maengelmelder"]


def test_bergheim_parking_permit_carries_bergheims_authority_court_and_fee(
    tenancy: Tenancy,
) -> None:
    definition = _effective(tenancy, "bergheim", "anwohnerparkausweis")
    assert definition.authority == "Stadt Bergheim – Straßenverkehrsbehörde"
    # Qualified with the tenant: every filter by department separates the towns too.
    assert definition.department == "bergheim.strassenverkehrsamt"
    procedure = definition.procedure
    assert procedure is not None
    assert procedure.regime == "vwgo_klage"
    assert procedure.authority is not None
    assert procedure.authority.at == "bei der Stadt Bergheim, Straßenverkehrsbehörde"
    assert procedure.authority.address == "Bethlehemer Straße 9–11, 50126 Bergheim"
    assert procedure.court is not None
    assert procedure.court.name == "Verwaltungsgericht Köln"
    assert [v.value for v in definition.parameters["jahresgebuehr"]] == [30.7, 60.0]
    (fee,) = definition.fees
    assert fee.legal_reference == (
        "§ 6a Abs. 5a StVG i. V. m. Gebührensatzung für Bewohnerparkausweise der Stadt Bergheim"
    )
    assert fee.booking is not None
    assert fee.booking.endpoint_id == "05362008"  # Bergheim's cash office, not Köln's
    assert fee.booking.kassenzeichen_prefix == "BM62"


def test_bergheim_dog_tax_is_paid_to_bergheim_under_its_statute(tenancy: Tenancy) -> None:
    definition = _effective(tenancy, "bergheim", "hundesteuer-anmeldung")
    (levy,) = definition.levies
    assert levy.payee.holder == "Stadtkasse Bergheim"
    tenant_yaml = (TENANTS / "bergheim" / "tenant.yaml").read_text(encoding="utf-8")
    assert f"iban: {levy.payee.iban}\n" in tenant_yaml
    assert levy.payee.iban == "DE88120300000000362008"
    assert levy.legal_reference == "§ 3 Hundesteuersatzung der Stadt Bergheim i. V. m. § 3 KAG NRW"
    assert levy.kassenzeichen_prefix == "3012"
    assert definition.automation.qa_sample_rate == 0.2
    assert [v.value for v in definition.parameters["gemeinde"]] == ["Bergheim"]
    assert [v.value for v in definition.parameters["satz_erster_hund"]] == [120.0]
    assert (
        definition.legal_basis == "§ 2 Hundesteuersatzung der Stadt Bergheim i. V. m. § 3 KAG NRW"
    )
    assert definition.authority == "Stadt Bergheim – Steueramt"


def test_neuenhaus_reports_go_to_neuenhaus_and_must_lie_in_neuenhaus(tenancy: Tenancy) -> None:
    definition = _effective(tenancy, "neuenhaus", "maengelmelder")
    procedure = definition.procedure
    assert procedure is not None
    assert procedure.regime == "no_administrative_act"
    assert procedure.court is None
    assert procedure.authority is not None
    assert procedure.authority.name == "Stadt Neuenhaus – Ordnungsamt"
    assert procedure.authority.at == "bei der Stadt Neuenhaus, Ordnungsamt"
    assert procedure.authority.address == "Veldhauser Straße 12, 49828 Neuenhaus"
    assert definition.handover is not None
    assert definition.handover.destination == "f03e2d1c-4b5a-4968-8776-a5b4c3d2e1f0"
    assert definition.legal_basis == "§ 11 NPOG i. V. m. § 17 KrWG"
    fields = {field.id: field for field in definition.fields}
    assert (fields["breitengrad"].min, fields["breitengrad"].max) == (52.45, 52.57)
    assert (fields["laengengrad"].min, fields["laengengrad"].max) == (6.88, 7.05)
    pattern = fields["fundort_plz"].pattern
    assert pattern is not None
    assert pattern.regex == "49828"


def test_activating_leaves_the_templates_as_koeln_wrote_them(
    tenancy: Tenancy, templates: list[LoadedDefinition]
) -> None:
    parking = _template(templates, "anwohnerparkausweis")
    assert parking.authority == (
        "Stadt Köln – Amt für Straßen und Verkehrsentwicklung (Straßenverkehrsbehörde)"
    )
    assert parking.procedure is not None and parking.procedure.authority is not None
    assert parking.procedure.authority.at == (
        "bei der Stadt Köln, Amt für Straßen und Verkehrsentwicklung"
    )
    assert [v.value for v in parking.parameters["jahresgebuehr"]] == [30.7, 100.0]
    assert parking.fees[0].booking is not None
    assert parking.fees[0].booking.endpoint_id == "05315000"
    dogs = _template(templates, "hundesteuer-anmeldung")
    assert dogs.levies[0].payee.holder == "Stadtkasse Köln"
    assert dogs.automation.qa_sample_rate == 0.05
    assert dogs.levies[0].legal_reference == (
        "§ 4 Hundesteuersatzung der Stadt Köln i. V. m. § 3 KAG NRW"
    )
    reports = _template(templates, "maengelmelder")
    assert reports.handover is not None
    assert reports.handover.destination == "e2b8f4c6-1a7d-4f3e-8b5c-9d0a1c2e3f62"
    assert reports.procedure is not None and reports.procedure.authority is not None
    assert reports.procedure.authority.name == "Stadt Köln – Ordnungsamt"
    latitude = next(field for field in reports.fields if field.id == "breitengrad")
    assert (latitude.min, latitude.max) == (50.82, 51.09)


# Every problem an overlay or a tenant can have: one line, at its file, line and path.


@dataclass(frozen=True)
class Broken:
    """One edit of a copy of tenants/ and the one problem line it must cause."""

    id: str
    edit: Callable[[Path], object]
    """Edits the copy below root/tenants (and may write root/services, a copy of services/)."""
    file: str
    """Relative to the tenants folder."""
    line: int | str
    """A number, or text whose first line in the edited file is the expected line."""
    path: str | None
    """The YAML path after the line; None: not asserted."""
    cause: str


def _non_local_parameter(root: Path) -> None:
    _replace(
        root / "tenants/bergheim/services/anwohnerparkausweis.yaml",
        "fee_references:",
        "  laufzeit_monate:\n"
        '    - { valid_from: 2024-01-01, value: 6, legal_reference: "§ 9 Satzung" }\n'
        "fee_references:",
    )


def _missing_required_parameter(root: Path) -> None:
    _replace(
        root / "tenants/bergheim/services/hundesteuer-anmeldung.yaml",
        '  gemeinde:\n    - { valid_from: 2024-01-01, value: "Bergheim", '
        'legal_reference: "§ 1 Hundesteuersatzung der Stadt Bergheim" }\n',
        "",
    )


def _dog_tax_in_lower_saxony(root: Path) -> None:
    target = root / "tenants/neuenhaus/services/hundesteuer-anmeldung.yaml"
    shutil.copy(root / "tenants/bergheim/services/hundesteuer-anmeldung.yaml", target)
    _replace(target, "department: steueramt", "department: ordnungsamt")


def _template_without_statutes(root: Path) -> None:
    shutil.copytree(SERVICES, root / "services")
    _replace(
        root / "services/anwohnerparkausweis/service.yaml",
        "  fee_references: [gebuehr]\n  statutes: true\n",
        "  fee_references: [gebuehr]\n",
    )
    _replace(
        root / "tenants/bergheim/services/anwohnerparkausweis.yaml",
        "department: strassenverkehrsamt\n",
        'department: strassenverkehrsamt\nlegal_basis: "§ 1 Satzung der Stadt Bergheim"\n',
    )


def _write(file: str, text: str) -> Callable[[Path], object]:
    return lambda root: (root / "tenants" / file).write_text(text, encoding="utf-8")


def _edit(file: str, old: str, new: str) -> Callable[[Path], None]:
    return lambda root: _replace(root / "tenants" / file, old, new)


BERGHEIM = "bergheim/tenant.yaml"
PARKING = "bergheim/services/anwohnerparkausweis.yaml"
DOGS = "bergheim/services/hundesteuer-anmeldung.yaml"
REPORTS = "bergheim/services/maengelmelder.yaml"

BROKEN = [
    Broken(
        "non-local-parameter",
        _non_local_parameter,
        PARKING,
        "laufzeit_monate:",
        "parameters.laufzeit_monate",
        "parameter 'laufzeit_monate' is not local in service 'anwohnerparkausweis' "
        "(local: jahresgebuehr, gemeinde)",
    ),
    Broken(
        "missing-required-parameter",
        _missing_required_parameter,
        DOGS,
        "parameters:",
        "parameters",
        "missing required local parameter 'gemeinde' of service 'hundesteuer-anmeldung'",
    ),
    Broken(
        "unknown-department",
        _edit(PARKING, "department: strassenverkehrsamt", "department: bauamt"),
        PARKING,
        "department: bauamt",
        "department",
        "unknown department 'bauamt' (tenant 'bergheim' has: strassenverkehrsamt, steueramt, "
        "ordnungsamt, buergeramt)",
    ),
    Broken(
        "land-of-the-template",
        _dog_tax_in_lower_saxony,
        "neuenhaus/services/hundesteuer-anmeldung.yaml",
        "service:",
        "service",
        "service 'hundesteuer-anmeldung' is written for the law of NW; tenant 'neuenhaus' is in NI",
    ),
    Broken(
        "district-activates-municipality-service",
        _edit("neuenhaus/tenant.yaml", "level: municipality", "level: district"),
        "neuenhaus/services/maengelmelder.yaml",
        "service:",
        "service",
        "service 'maengelmelder' is a municipality service in NI; tenant 'neuenhaus' is a district",
    ),
    Broken(
        "legal-basis-without-local-statutes",
        _template_without_statutes,
        PARKING,
        "legal_basis:",
        "legal_basis",
        "service 'anwohnerparkausweis' fixes this; the template does not declare local.statutes",
    ),
    Broken(
        "qa-sample-below-the-template",
        _edit(DOGS, "qa_sample_rate: 0.2", "qa_sample_rate: 0.01"),
        DOGS,
        "qa_sample_rate:",
        "automation.qa_sample_rate",
        "0.01 is below the template's 0.05; a tenant may only sample more",
    ),
    Broken(
        "external-service-without-handover",
        _edit(REPORTS, "handover:\n  destination: c7d19e52-3b8a-4f60-9d2e-5a4b3c2d1e0f\n", ""),
        REPORTS,
        1,
        None,  # a missing key: the line of the document's start
        "service 'maengelmelder' hands cases over to a Fachverfahren: name the tenant's own "
        "destination",
    ),
    Broken(
        "field-bounds-of-a-non-local-field",
        _edit(REPORTS, "field_bounds:\n", "field_bounds:\n  beschreibung: { min: 1 }\n"),
        REPORTS,
        "beschreibung:",
        "field_bounds.beschreibung",
        "the bounds of field 'beschreibung' of service 'maengelmelder' are not local "
        "(local: fundort_plz, breitengrad, laengengrad)",
    ),
    Broken(
        "template-without-local",
        _write(
            "bergheim/services/kindergeld.yaml", "service: kindergeld\ndepartment: ordnungsamt\n"
        ),
        "bergheim/services/kindergeld.yaml",
        "service:",
        "service",
        "service 'kindergeld' (version 1.0.0) declares nothing local",
    ),
    Broken(
        "unknown-service",
        _write(
            "bergheim/services/hundeschule.yaml", "service: hundeschule\ndepartment: steueramt\n"
        ),
        "bergheim/services/hundeschule.yaml",
        "service:",
        "service",
        "no valid service template 'hundeschule'",
    ),
    Broken(
        "file-name-is-not-the-service",
        lambda root: (root / "tenants" / REPORTS).rename(
            root / "tenants/bergheim/services/maengel.yaml"
        ),
        "bergheim/services/maengel.yaml",
        "service:",
        "service",
        "service 'maengelmelder' does not match the file name 'maengel.yaml'",
    ),
    Broken(
        "tenant-id-is-not-the-folder",
        _edit(BERGHEIM, "id: bergheim", "id: bergheim-stadt"),
        BERGHEIM,
        "id: bergheim-stadt",
        "id",
        "id 'bergheim-stadt' does not match the folder name 'bergheim'",
    ),
    # The line of `ars:`, not the file's first line.
    Broken(
        "ars-of-another-tenant",
        _edit("koeln/tenant.yaml", 'ars: "053150000000"', 'ars: "053620008008"'),
        "koeln/tenant.yaml",
        "ars:",
        "ars",
        "ARS 053620008008 is also the tenant in",
    ),
    Broken(
        "ars-in-another-land",
        _edit("neuenhaus/tenant.yaml", "land: NI", "land: NW"),
        "neuenhaus/tenant.yaml",
        "land: NW",
        "land",
        "ARS 034565402014 lies in NI, not in NW",
    ),
    Broken(
        "logo-missing",
        lambda root: (root / "tenants/bergheim/logo.svg").unlink(),
        BERGHEIM,
        "logo: logo.svg",
        "branding.logo",
        "logo 'logo.svg' not found in",
    ),
    Broken(
        "invalid-iban",
        _edit(BERGHEIM, "iban: DE88120300000000362008", "iban: DE88120300000000362009"),
        BERGHEIM,
        "iban:",
        "account.iban",
        "not a valid IBAN",
    ),
    Broken(
        "string-for-a-number",
        _edit(PARKING, "value: 60.0,", 'value: "sechzig",'),
        PARKING,
        "sechzig",
        "parameters.jahresgebuehr[1].value",
        "value is a string, but earlier values are a number",
    ),
    Broken(
        "todo-left-in-tenant",
        _edit(BERGHEIM, 'phone: "02271 89-0"', 'phone: "TODO: Telefonzentrale"'),
        BERGHEIM,
        "phone:",
        "contact.phone",
        "unfinished: TODO: Telefonzentrale",
    ),
    Broken(
        "department-listed-twice",
        _edit(BERGHEIM, "  - id: ordnungsamt", "  - id: steueramt  # twice"),
        BERGHEIM,
        "# twice",
        "departments[2].id",
        "department 'steueramt' is listed twice",
    ),
]


@pytest.mark.parametrize("broken", BROKEN, ids=[case.id for case in BROKEN])
def test_each_problem_is_one_line_at_its_file_line_and_path(
    broken: Broken,
    tmp_path: Path,
    templates: list[LoadedDefinition],
    connectors: ConnectorRegistry,
) -> None:
    shutil.copytree(TENANTS, tmp_path / "tenants")
    broken.edit(tmp_path)
    if (tmp_path / "services").is_dir():
        templates, template_problems = load_tree(tmp_path / "services", connectors)
        assert template_problems == []
    file = tmp_path / "tenants" / broken.file
    line = broken.line if isinstance(broken.line, int) else _line_of(file, broken.line)

    _tenancy, problems = load_tenants(tmp_path / "tenants", templates, connectors)

    assert len(problems) == 1, problems
    (problem,) = problems
    prefix = f"{file.as_posix()}:{line} " + (f"{broken.path}: " if broken.path else "")
    assert problem.startswith(prefix), problem
    assert broken.cause in problem.removeprefix(prefix)


def test_an_invalid_tenant_is_left_out_and_the_valid_ones_stay(
    tmp_path: Path, templates: list[LoadedDefinition], connectors: ConnectorRegistry
) -> None:
    tenants = tmp_path / "tenants"
    shutil.copytree(TENANTS, tenants)
    _replace(tenants / BERGHEIM, "iban: DE88120300000000362008", "iban: DE00")
    # A broken overlay costs only that activation; its tenant stays.
    _replace(tenants / "koeln/services/maengelmelder.yaml", "ordnungsamt", "bauamt")

    tenancy, problems = load_tenants(tenants, templates, connectors)

    assert len(problems) == 2, problems
    assert sorted(tenancy.tenants) == ["koeln", "neuenhaus"]
    assert "bergheim" not in tenancy.activations
    assert sorted(tenancy.activations["koeln"]) == [
        "anwohnerparkausweis",
        "hundesteuer-anmeldung",
        "meldebescheinigung",
    ]
    assert sorted(tenancy.activations["neuenhaus"]) == ["maengelmelder"]


def test_a_folder_without_tenant_yaml_is_one_problem(
    tmp_path: Path, templates: list[LoadedDefinition], connectors: ConnectorRegistry
) -> None:
    (tmp_path / "huerth" / "services").mkdir(parents=True)
    (tmp_path / "_drafts").mkdir()  # an underscore folder is not a tenant

    tenancy, problems = load_tenants(tmp_path, templates, connectors)

    assert problems == [f"{(tmp_path / 'huerth').as_posix()}:1 (root): folder has no tenant.yaml"]
    assert tenancy.tenants == {}


def test_a_missing_tenants_folder_is_no_tenants(
    tmp_path: Path, templates: list[LoadedDefinition], connectors: ConnectorRegistry
) -> None:
    tenancy, problems = load_tenants(tmp_path / "nowhere", templates, connectors)
    assert (tenancy.tenants, problems) == ({}, [])


# local: in the template names only what the template has.

LOCAL_NAMES = [
    (
        "    satz_gefaehrlicher_hund: required\n",
        "    satz_gefaehrlicher_hund: required\n    hundeanzahl_max: required\n",
        "hundeanzahl_max",
        "local.parameters.hundeanzahl_max: no parameter 'hundeanzahl_max' in this service",
    ),
    (
        "  levy_references: [hundesteuer]\n",
        "  levy_references: [hundesteuer]\n  fee_references: [hundemarke]\n",
        "hundemarke",
        "local.fee_references[0]: no fee 'hundemarke' in this service",
    ),
    (
        "  levy_references: [hundesteuer]\n",
        "  levy_references: [hundesteuer, zweitwohnungsteuer]\n",
        "zweitwohnungsteuer",
        "local.levy_references[1]: no levy 'zweitwohnungsteuer' in this service",
    ),
    (
        "  levy_references: [hundesteuer]\n",
        "  levy_references: [hundesteuer]\n  field_bounds: [hundegewicht]\n",
        "hundegewicht",
        "local.field_bounds[0]: no field 'hundegewicht' in this service",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "name", "expected"), LOCAL_NAMES, ids=["parameter", "fee", "levy", "field"]
)
def test_local_names_what_the_template_has(
    old: str, new: str, name: str, expected: str, tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    folder = tmp_path / "hundesteuer-anmeldung"
    shutil.copytree(SERVICES / "hundesteuer-anmeldung", folder)
    file = folder / "service.yaml"
    _replace(file, old, new)

    problems, _warnings = check_tree(folder, connectors)

    assert problems == [f"{file.as_posix()}:{_line_of(file, name)} {expected}"]


# Generated and scaffolded files.


def test_the_committed_tenants_reference_matches_the_models() -> None:
    committed = (ROOT / "docs" / "tenants-reference.md").read_text(encoding="utf-8")
    assert committed == format_tenant_reference(), (
        "docs/tenants-reference.md is stale: run `knopfdruck tenants reference`"
    )


def test_the_tenants_reference_documents_tenant_overlay_and_local() -> None:
    text = format_tenant_reference()
    for model in ("Tenant", "Overlay", "Local", "Department", "FieldBounds"):
        assert f"## {model}\n" in text
    for key in ("ars", "acts_as_district", "field_bounds", "levy_references", "lands"):
        assert f"| `{key}` |" in text


def test_the_overlay_skeleton_lists_what_the_template_leaves_to_the_town(
    tenancy: Tenancy, templates: list[LoadedDefinition]
) -> None:
    text = overlay_skeleton(
        _template(templates, "anwohnerparkausweis"), tenancy.tenants["bergheim"]
    )

    assert "service: anwohnerparkausweis\n" in text
    assert 'department: "strassenverkehrsamt"\n' in text
    assert "# One of: strassenverkehrsamt, steueramt, ordnungsamt, buergeramt\n" in text
    assert (
        "  jahresgebuehr:\n"
        '    - { valid_from: 2026-01-01, value: "TODO", legal_reference: "TODO: your statute" }\n'
    ) in text
    assert 'fee_references:\n  gebuehr: "TODO: your statute"\n' in text
    assert "handover:" not in text  # the permit is decided here, not handed over


def test_the_overlay_skeleton_of_an_external_service_asks_for_a_destination(
    tenancy: Tenancy, templates: list[LoadedDefinition]
) -> None:
    text = overlay_skeleton(_template(templates, "maengelmelder"), tenancy.tenants["neuenhaus"])
    assert 'handover:\n  destination: "TODO: the FIT-Connect destination id"\n' in text
    assert 'department: "ordnungsamt"\n' in text


def test_the_tenant_skeleton_parses_and_fails_only_on_its_gaps(
    tmp_path: Path, templates: list[LoadedDefinition], connectors: ConnectorRegistry
) -> None:
    folder = tmp_path / "huerth"
    folder.mkdir()
    file = folder / "tenant.yaml"
    file.write_text(
        tenant_skeleton("huerth", "053620024024", "Stadt Hürth", "municipality"), encoding="utf-8"
    )

    tenancy, problems = load_tenants(tmp_path, templates, connectors)

    assert tenancy.tenants == {}
    gaps = [line for line in problems if ": unfinished: TODO" in line]
    rest = [line for line in problems if line not in gaps]
    assert len(gaps) == 13
    where = file.as_posix()
    assert rest == [
        f"{where}:11 postcodes[0]: String should match pattern '^[0-9]{{5}}$'",
        f"{where}:14 account.iban: not a valid IBAN (two letters, check digits, no spaces)",
        f"{where}:15 account.bic: not a valid BIC (8 or 11 letters and digits)",
    ]
    text = file.read_text(encoding="utf-8")
    assert 'ars: "053620024024"\n' in text
    assert "land: NW\n" in text  # from the ARS prefix 05
    assert 'name: "Stadt Hürth"\n' in text


# The tenant's own law and court.


def test_a_tenant_in_another_land_brings_its_regime_court_and_stricter_automation(
    tmp_path: Path, templates: list[LoadedDefinition], connectors: ConnectorRegistry
) -> None:
    tenants = tmp_path / "tenants"
    shutil.copytree(TENANTS, tenants)
    # Its fee is paid through its own cash office's XBezahldienste endpoint.
    _replace(
        tenants / "neuenhaus/tenant.yaml", "postcodes:", 'payment_endpoint: "03456014"\npostcodes:'
    )
    # In Lower Saxony the parking permit is a district's matter (the template's competence_in):
    # here Neuenhaus stands for a selbständige Stadt that does that work itself.
    _replace(
        tenants / "neuenhaus/tenant.yaml",
        "level: municipality\n",
        "level: municipality\nacts_as_district: true\n",
    )
    (tenants / "neuenhaus/services/anwohnerparkausweis.yaml").write_text(
        "service: anwohnerparkausweis\n"
        "department: ordnungsamt\n"
        "parameters:\n"
        "  jahresgebuehr:\n"
        '    - { valid_from: 2024-01-01, value: 25.0, legal_reference: "§ 1 Satzung" }\n'
        "  gemeinde:\n"
        '    - { valid_from: 2024-01-01, value: "Neuenhaus", legal_reference: "§ 1 Satzung" }\n'
        'fee_references: { gebuehr: "§ 1 Parkgebührensatzung der Stadt Neuenhaus" }\n'
        "bookings:\n"
        '  gebuehr: { kassenzeichen_prefix: "NH1", haushaltsstelle: "1.2", sachkonto: "4321" }\n'
        'procedure: { regime: vwgo_vorverfahren, legal_basis: "§ 80 Abs. 1 NJG" }\n'
        "automation: { automated: false }\n",
        encoding="utf-8",
    )

    tenancy, problems = load_tenants(tenants, templates, connectors)

    assert problems == []
    definition = _effective(tenancy, "neuenhaus", "anwohnerparkausweis")
    procedure = definition.procedure
    assert procedure is not None
    assert (procedure.regime, procedure.legal_basis) == ("vwgo_vorverfahren", "§ 80 Abs. 1 NJG")
    assert procedure.authority is not None
    assert procedure.authority.at == "bei der Stadt Neuenhaus, Ordnungsamt"
    assert procedure.court is not None
    assert procedure.court.name == "Verwaltungsgericht Osnabrück"
    assert definition.automation.legal_basis is None  # every case goes to a person
    assert [v.value for v in definition.parameters["jahresgebuehr"]] == [25.0]
    assert definition.fees[0].legal_reference == "§ 1 Parkgebührensatzung der Stadt Neuenhaus"


def test_the_court_is_always_the_tenants(
    tmp_path: Path, templates: list[LoadedDefinition], connectors: ConnectorRegistry
) -> None:
    tenants = tmp_path / "tenants"
    shutil.copytree(TENANTS, tenants)
    file = tenants / BERGHEIM
    _replace(file, '  name: "Verwaltungsgericht Köln"', '  name: "Verwaltungsgericht Aachen"')

    tenancy, problems = load_tenants(tenants, templates, connectors)

    assert problems == []
    for service in ("anwohnerparkausweis", "hundesteuer-anmeldung"):
        procedure = _effective(tenancy, "bergheim", service).procedure
        assert procedure is not None and procedure.court is not None
        assert procedure.court.name == "Verwaltungsgericht Aachen"
    koeln = _effective(tenancy, "koeln", "anwohnerparkausweis").procedure
    assert koeln is not None and koeln.court is not None
    assert koeln.court.name == "Verwaltungsgericht Köln"


def _fill_in(skeleton: str, template: ServiceDefinition) -> str:
    """What a person writes over each TODO: the template's own kind of value, any statute."""
    lines: list[str] = []
    parameter = ""
    for line in skeleton.splitlines():
        if line.startswith("  ") and line.strip().endswith(":") and not line.startswith("   "):
            parameter = line.strip().removesuffix(":")
        if 'value: "TODO"' in line:
            value = json.dumps(template.parameters[parameter][-1].value, ensure_ascii=False)
            line = line.replace('value: "TODO"', f"value: {value}")
        line = re.sub(
            r'destination: "TODO[^"]*"', 'destination: "d0e1f2a3-b4c5-4d6e-8f70-8192a3b4c5d6"', line
        )
        line = line.replace('min: "TODO"', "min: 50.9").replace('max: "TODO"', "max: 51.04")
        line = re.sub(r'regex: "TODO[^"]*"', 'regex: "501(26|27|29)"', line)
        lines.append(re.sub(r'"TODO[^"]*"', '"12"', line))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "service", ["anwohnerparkausweis", "hundesteuer-anmeldung", "maengelmelder"]
)
def test_an_activated_skeleton_with_every_todo_filled_in_is_valid(
    service: str, tmp_path: Path, templates: list[LoadedDefinition], connectors: ConnectorRegistry
) -> None:
    """docs/operations.md: `tenants activate` writes every key the template leaves to the town,
    the booking of each fee and levy and the territory's field bounds included, so a skeleton
    filled in passes `tenants validate`."""
    tenants = tmp_path / "tenants"
    shutil.copytree(TENANTS, tenants)
    file = tenants / "bergheim" / "services" / f"{service}.yaml"
    file.unlink()
    loaded, _problems = load_tenants(tenants, templates, connectors)
    template = _template(templates, service)
    skeleton = overlay_skeleton(template, loaded.tenants["bergheim"])
    assert "TODO" in skeleton
    file.write_text(_fill_in(skeleton, template), encoding="utf-8")

    tenancy, problems = load_tenants(tenants, templates, connectors)

    assert problems == []
    assert service in tenancy.activations["bergheim"]


def test_a_fee_paid_through_a_cash_office_needs_the_tenants_own_endpoint(
    tmp_path: Path, templates: list[LoadedDefinition], connectors: ConnectorRegistry
) -> None:
    """Without its own XBezahldienste endpoint, Bergheim's fees would reach Köln's cash office."""
    tenants = tmp_path / "tenants"
    shutil.copytree(TENANTS, tenants)
    _replace(tenants / BERGHEIM, 'payment_endpoint: "05362008"\n', "")
    overlay = tenants / PARKING

    tenancy, problems = load_tenants(tenants, templates, connectors)

    assert problems == [
        f"{overlay.as_posix()}:{_line_of(overlay, 'gebuehr: {')} bookings.gebuehr: the fee "
        "'gebuehr' is paid through the cash office's XBezahldienste endpoint: set "
        "payment_endpoint in tenant 'bergheim''s tenant.yaml"
    ]
    assert "anwohnerparkausweis" not in tenancy.activations["bergheim"]
