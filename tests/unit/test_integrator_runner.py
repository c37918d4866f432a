"""`services test` as an integrator needs it: pinned versions, file:line, no aborts, rendering."""

from __future__ import annotations

import functools
import shutil
from datetime import date
from pathlib import Path

import pytest

from backend.cases.service_tests import CaseResult, run_service_tests_sync
from backend.definitions.catalogue import Catalogue
from backend.definitions.loader import load_tree
from backend.definitions.scaffold import scaffold_service
from backend.documents import NoticeRenderer
from backend.notices.issue import render_problems
from backend.settings import Settings
from prefill.configuration import build_default_registry
from prefill.connectors.registry import ConnectorRegistry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def connectors() -> ConnectorRegistry:
    return build_default_registry()


def _run(services: Path, connectors: ConnectorRegistry, slug: str) -> list[CaseResult]:
    """The CLI's run: the tree's valid services, each case decided and its documents rendered."""
    loaded, problems = load_tree(services, connectors)
    assert problems == []
    check = functools.partial(
        render_problems, Settings(services_dir=services), NoticeRenderer(services.resolve())
    )
    return run_service_tests_sync(Catalogue(loaded), connectors, [slug], check)


def _cases_file(folder: Path) -> Path:
    return folder / "tests" / "cases.yaml"


def _prepend_cases(folder: Path, text: str) -> None:
    file = _cases_file(folder)
    file.write_text(
        file.read_text(encoding="utf-8").replace("cases:\n", "cases:\n" + text, 1),
        encoding="utf-8",
    )


def test_a_broken_case_is_reported_at_its_line_and_the_others_still_run(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    scaffold = scaffold_service(tmp_path, "sondernutzung", today=date(2026, 3, 1))
    _prepend_cases(
        scaffold.folder,
        "  - name: Tippfehler\n    persona: erkia\n    expect: {outcome: approved}\n",
    )
    lines = _cases_file(scaffold.folder).read_text(encoding="utf-8").splitlines()
    broken_line = lines.index("  - name: Tippfehler") + 1
    results = _run(tmp_path, connectors, "sondernutzung")
    failed = [r for r in results if not r.passed]
    assert [(r.outcome, r.case.line) for r in failed] == [("invalid", broken_line)]
    assert "unknown persona 'erkia'" in failed[0].differences[0]
    assert len(results) >= 7
    # Every readable case knows its own line, so a failure points at it.
    passed = [r for r in results if r.passed]
    for result in passed:
        assert lines[result.case.line - 1] == f"  - name: {result.case.name}"


def test_a_case_may_pin_a_version_valid_from_next_year(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    scaffold = scaffold_service(tmp_path, "sondernutzung", today=date(2026, 3, 1))
    first = scaffold.folder / "service.yaml"
    text = first.read_text(encoding="utf-8")
    assert 'version: "0.1.0"\nvalid_from: 2026-01-01\n' in text and "value: 12.0," in text
    first.write_text(
        text.replace(
            "valid_from: 2026-01-01\n", "valid_from: 2026-01-01\nvalid_until: 2099-12-31\n", 1
        ),
        encoding="utf-8",
    )
    # Version 2.0.0 from 2100 on, with a higher fee: only a pinned case reaches it today.
    (scaffold.folder / "versions").mkdir()
    header = 'version: "0.1.0"\nvalid_from: 2026-01-01\n'
    later = text.replace(header, 'version: "2.0.0"\nvalid_from: 2100-01-01\n', 1)
    (scaffold.folder / "versions" / "2100-01-01.yaml").write_text(
        later.replace("value: 12.0,", "value: 30.0,", 1), encoding="utf-8"
    )
    case = (
        "  - name: {name}\n    persona: erika\n{pin}"
        "    reference_date: {day}\n    answers: {{exemplare: 1}}\n"
        "    expect: {{outcome: approved, amounts: {{gebuehr: {fee}}}}}\n"
    )
    _prepend_cases(
        scaffold.folder,
        case.format(name="Heute", pin="", day="2026-06-01", fee="10.00")
        + case.format(
            name="Neue Fassung", pin='    version: "2.0.0"\n', day="2100-03-01", fee="30.00"
        )
        + case.format(
            name="Keine solche Fassung", pin="    version: 9.0\n", day="2100-03-01", fee="30.00"
        ),
    )
    results = {r.case.name: r for r in _run(tmp_path, connectors, "sondernutzung")}
    assert results["Heute"].passed, results["Heute"].differences
    assert results["Neue Fassung"].passed, results["Neue Fassung"].differences
    assert results["Keine solche Fassung"].differences == [
        "version: sondernutzung has no version '9.0' (versions: 0.1.0, 2.0.0)"
    ]


def test_a_template_that_fails_on_real_data_fails_the_case(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    """validate cannot know that a filter gets the wrong type; rendering each case does."""
    scaffold = scaffold_service(tmp_path, "sondernutzung", today=date(2026, 3, 1))
    template = scaffold.folder / "templates" / "bescheid.html"
    text = template.read_text(encoding="utf-8")
    assert "{{ fields.exemplare }}" in text
    template.write_text(
        text.replace("{{ fields.exemplare }}", "{{ fields.exemplare | date_de }}"),
        encoding="utf-8",
    )
    results = _run(tmp_path, connectors, "sondernutzung")
    approved = [r for r in results if r.outcome == "approved"]
    assert approved
    for result in approved:
        assert not result.passed
        assert result.differences[0].startswith(
            "document bescheid: Template 'bescheid.html', line "
        )
        assert "expected a date" in result.differences[0]
    rejected = [r for r in results if r.outcome == "rejected"]
    assert rejected and all(r.passed for r in rejected)  # the scaffold issues no rejection


def test_every_shipped_case_renders_its_documents(connectors: ConnectorRegistry) -> None:
    """Dates unquoted or quoted: Hundesteuer's answers are given both ways."""
    services = ROOT / "services"
    results = _run(services, connectors, "hundesteuer-anmeldung")
    assert [r.differences for r in results if not r.passed] == []
    assert any(r.outcome == "approved" for r in results)


def test_dates_in_answers_may_be_unquoted(tmp_path: Path, connectors: ConnectorRegistry) -> None:
    folder = tmp_path / "hundesteuer-anmeldung"
    shutil.copytree(ROOT / "services" / "hundesteuer-anmeldung", folder)
    cases = _cases_file(folder)
    text = cases.read_text(encoding="utf-8")
    assert 'haltungsbeginn: "2026-01-10"' in text
    cases.write_text(text.replace('"2026-01-10"', "2026-01-10"), encoding="utf-8")
    results = _run(tmp_path, connectors, "hundesteuer-anmeldung")
    assert [r.differences for r in results if not r.passed] == []
