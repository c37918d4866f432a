"""validate beyond the schema (TODOs, templates) and dated versions of one service."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from backend.definitions.catalogue import Catalogue, load_catalogue
from backend.definitions.loader import load_tree, validate_tree
from backend.definitions.versions import current_version, service_folder
from prefill.configuration import build_default_registry
from prefill.connectors.registry import ConnectorRegistry

BASE = """\
id: {slug}
version: "{version}"
valid_from: {valid_from}
{valid_until}leika: "99000000000001"
title: {{ de: Test, en: Test }}
description: {{ de: Ein Test., en: A test. }}
department: test
trust_level: substanziell
legal_basis: "§ 1 Testsatzung"
fields:
  - {{ id: name, type: string, label: {{ de: Name, en: Name }}, required: true }}
  - {{ id: anzahl, type: integer, label: {{ de: Anzahl, en: Number }}, required: true }}
rules:
  - id: betrag
    kind: calculation
    legal_reference: "§ 2 Testsatzung"
    output: betrag
    expression: "double(fields.anzahl) * 2.0"
    reason: {{ de: "Betrag {{amount}}", en: "Amount {{amount}}" }}
documents:
  - id: bescheid
    kind: notice
    template: {template}
    title: {{ de: Bescheid, en: Notice }}
    on: [approved]
retention: {{ days: 30, legal_basis: "{retention}" }}
procedure:
  regime: vwgo_vorverfahren
  authority: {{ name: Testamt, at: beim Testamt, address: "Testweg 1, 12345 Teststadt" }}
"""


@pytest.fixture(scope="module")
def connectors() -> ConnectorRegistry:
    return build_default_registry()


def _write(
    file: Path,
    *,
    slug: str = "probe",
    version: str = "1.0.0",
    valid_from: str = "2025-01-01",
    valid_until: str = "",
    template: str = "templates/bescheid.html",
    retention: str = "Testaufbewahrung",
) -> Path:
    file.parent.mkdir(parents=True, exist_ok=True)
    until = f"valid_until: {valid_until}\n" if valid_until else ""
    file.write_text(
        BASE.format(
            slug=slug,
            version=version,
            valid_from=valid_from,
            valid_until=until,
            template=template,
            retention=retention,
        ),
        encoding="utf-8",
    )
    return file


def _template(folder: Path, text: str, name: str = "bescheid.html") -> None:
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    (folder / "templates" / name).write_text(text, encoding="utf-8")


GOOD_TEMPLATE = (
    '{% extends "bescheid_layout.html" %}\n'
    "{% block details %}<p>{{ fields.name }}: {{ fields['anzahl'] }}, "
    "{{ amounts.betrag | money_de }}</p>{% endblock %}\n"
)


def test_a_complete_service_has_no_problems(tmp_path: Path, connectors: ConnectorRegistry) -> None:
    _write(tmp_path / "probe" / "service.yaml")
    _template(tmp_path / "probe", GOOD_TEMPLATE)
    assert validate_tree(tmp_path, connectors) == []


def test_todo_values_are_unfinished_with_file_line_and_path(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    file = _write(tmp_path / "probe" / "service.yaml", retention="TODO: Rechtsgrundlage")
    _template(tmp_path / "probe", GOOD_TEMPLATE)
    assert validate_tree(tmp_path, connectors) == [
        f"{file.as_posix()}:26 retention.legal_basis: unfinished: TODO: Rechtsgrundlage"
    ]


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        (
            "{% extends 'bescheid_layout.html' %}\n{% block details %}\n{{ fields.nmae }}\n"
            "{% endblock %}",
            "templates/bescheid.html:3: unknown field 'nmae' (fields: anzahl, name)",
        ),
        (
            "{{ amounts['gebuehr'] }}",
            "templates/bescheid.html:1: unknown amount 'gebuehr' (amounts: betrag)",
        ),
        (
            "{% if outcome %}\n<p>offen",
            "templates/bescheid.html:2: template syntax error: Unexpected end of template. "
            "Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The "
            "innermost block that needs to be closed is 'if'.",
        ),
        (
            "{% include 'teil.html' %}",
            "template 'teil.html' (used by templates/bescheid.html) not found in {folder}"
            "/templates or the shared templates",
        ),
        (
            "{% extends 'bescheid_layout.html' %}\n{% block details %}\n"
            "{{ amounts.betrag | geld }}\n{% endblock %}",
            "templates/bescheid.html:3: No filter named 'geld'.",
        ),
        (
            "<p>{{ fields.name }}</p>\n<p>{{ gebuehr }}</p>",
            "templates/bescheid.html:2: unknown name 'gebuehr': a template reads fields.<id>, "
            "amounts.<id> and the notice's own names (docs/integrators.md, 'The notice')",
        ),
        (
            "<p>{{ fields.name.vorname }}</p>",
            "templates/bescheid.html:1: field 'name' is a string value; it has no attribute "
            "'vorname'",
        ),
    ],
    ids=[
        "unknown-field",
        "unknown-amount",
        "syntax",
        "missing-include",
        "unknown-filter",
        "unknown-name",
        "attribute-on-a-string",
    ],
)
def test_template_problems_point_at_the_document_and_the_template_line(
    template: str, problem: str, tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    file = _write(tmp_path / "probe" / "service.yaml")
    _template(tmp_path / "probe", template)
    folder = (tmp_path / "probe").as_posix()
    assert validate_tree(tmp_path, connectors) == [
        f"{file.as_posix()}:23 documents[0].template: {problem.format(folder=folder)}"
    ]


def test_names_set_imported_or_given_by_the_renderer_are_known(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    _write(tmp_path / "probe" / "service.yaml")
    _template(
        tmp_path / "probe",
        '{% extends "bescheid_layout.html" %}\n{% from "_teil.html" import zeile %}\n'
        "{% block details %}{% set n = fields.anzahl + 1 %}{% for r in reasons %}"
        "{{ loop.index }} {{ zeile(r.text) }}{% endfor %}{{ n }} {{ fields.name.upper() }} "
        "{{ issued_on | date_de }} {{ reference }} {{ range(3) | list }}{% endblock %}\n",
    )
    _template(tmp_path / "probe", "{% macro zeile(t) %}{{ t }}{% endmacro %}", name="_teil.html")
    assert validate_tree(tmp_path, connectors) == []


def test_included_service_templates_are_checked_too(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    file = _write(tmp_path / "probe" / "service.yaml")
    _template(tmp_path / "probe", "{% include 'teil.html' %}")
    _template(tmp_path / "probe", "{{ fields.falsch }}", name="teil.html")
    assert validate_tree(tmp_path, connectors) == [
        f"{file.as_posix()}:23 documents[0].template: templates/teil.html:1: unknown field "
        "'falsch' (fields: anzahl, name)"
    ]


def test_templates_outside_the_templates_folder_are_refused(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    file = _write(tmp_path / "probe" / "service.yaml", template="bescheid.html")
    (tmp_path / "probe" / "bescheid.html").write_text("x", encoding="utf-8")
    assert validate_tree(tmp_path, connectors) == [
        f"{file.as_posix()}:23 documents[0].template: templates must live in the folder "
        "'templates/' of the service"
    ]


def _versions(tmp_path: Path, *, first_until: str) -> tuple[Path, Path]:
    folder = tmp_path / "probe"
    first = _write(folder / "service.yaml", valid_until=first_until)
    second = _write(
        folder / "versions" / "2026-01-01.yaml", version="2.0.0", valid_from="2026-01-01"
    )
    _template(folder, GOOD_TEMPLATE)
    return first, second


def test_versions_in_the_versions_folder_load_and_share_templates(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    first, second = _versions(tmp_path, first_until="2025-12-31")
    loaded, problems = load_tree(tmp_path, connectors)
    assert problems == []
    assert [(e.definition.version, e.file) for e in loaded] == [("1.0.0", first), ("2.0.0", second)]
    assert service_folder(second) == tmp_path / "probe"
    # Validating one service folder includes its versions.
    assert validate_tree(tmp_path / "probe", connectors) == []


def test_overlapping_versions_are_rejected(tmp_path: Path, connectors: ConnectorRegistry) -> None:
    first, second = _versions(tmp_path, first_until="2026-01-01")
    assert validate_tree(tmp_path, connectors) == [
        f"{second.as_posix()}:3 valid_from: service 'probe' is also defined in "
        f"{first.as_posix()} for 2025-01-01 – 2026-01-01; validity overlaps"
    ]


def test_two_versions_with_one_version_string_are_rejected(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    folder = tmp_path / "probe"
    first = _write(folder / "service.yaml", valid_until="2025-12-31")
    second = _write(folder / "versions" / "neu.yaml", valid_from="2026-01-01")
    _template(folder, GOOD_TEMPLATE)
    assert validate_tree(tmp_path, connectors) == [
        f"{second.as_posix()}:2 version: version '1.0.0' of service 'probe' is also defined "
        f"in {first.as_posix()}; give each version its own"
    ]


def test_catalogue_offers_todays_version_and_keeps_a_cases_version(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    _versions(tmp_path, first_until="2025-12-31")
    loaded, _ = load_tree(tmp_path, connectors)
    in_2025 = Catalogue(loaded, clock=lambda: date(2025, 6, 1))
    in_2026 = Catalogue(loaded, clock=lambda: date(2026, 6, 1))
    assert in_2025.get("probe").version == "1.0.0"
    assert in_2026.get("probe").version == "2.0.0"
    # A case started under 1.0.0 keeps it after 2.0.0 applies.
    assert in_2026.get("probe", "1.0.0").version == "1.0.0"
    assert [d.version for d in in_2026.versions("probe")] == ["1.0.0", "2.0.0"]
    assert [d.version for d in in_2026.all()] == ["2.0.0"]
    assert len(in_2026) == 1
    assert in_2026.folder("probe") == tmp_path / "probe"
    # A version edited away falls back to today's instead of stranding the case.
    assert in_2026.get("probe", "0.9.0").version == "2.0.0"
    with pytest.raises(ValueError, match=r"version '1\.0\.0' is in the catalogue twice"):
        Catalogue([loaded[0], loaded[0]])


def test_current_version_before_between_and_after_validity(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    _versions(tmp_path, first_until="2025-06-30")  # a gap until 2026-01-01
    definitions = load_catalogue(tmp_path, connectors).versions("probe")
    assert current_version(definitions, date(2024, 1, 1)).version == "1.0.0"
    assert current_version(definitions, date(2025, 9, 1)).version == "1.0.0"
    assert current_version(definitions, date(2030, 1, 1)).version == "2.0.0"


def test_a_service_that_issues_a_notice_without_a_procedure_is_refused(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    """A Bescheid needs the right Rechtsbehelfsbelehrung; a wrong one runs a year (§ 58 VwGO)."""
    file = _write(tmp_path / "probe" / "service.yaml")
    _template(tmp_path / "probe", GOOD_TEMPLATE)
    text = file.read_text(encoding="utf-8")
    file.write_text(text[: text.index("procedure:")], encoding="utf-8")
    (problem,) = validate_tree(tmp_path, connectors)
    assert "procedure" in problem and "must declare its procedure" in problem
    assert problem.startswith(f"{file.as_posix()}:")


def test_a_notice_cannot_be_declared_no_administrative_act(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    file = _write(tmp_path / "probe" / "service.yaml")
    _template(tmp_path / "probe", GOOD_TEMPLATE)
    text = file.read_text(encoding="utf-8")
    file.write_text(
        text.replace("regime: vwgo_vorverfahren", "regime: no_administrative_act"),
        encoding="utf-8",
    )
    (problem,) = validate_tree(tmp_path, connectors)
    assert "procedure.regime" in problem and "is an administrative act" in problem
