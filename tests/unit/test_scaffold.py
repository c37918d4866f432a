"""`services new`: the scaffold validates and passes its own integrator tests from the start."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from backend.cases.service_tests import load_cases, run_service_tests_sync
from backend.definitions.catalogue import Catalogue
from backend.definitions.loader import load_tree, validate_tree
from backend.definitions.scaffold import ScaffoldError, scaffold_service
from prefill.configuration import build_default_registry


def test_scaffold_validates_and_its_cases_pass(tmp_path: Path) -> None:
    connectors = build_default_registry()
    scaffold = scaffold_service(tmp_path, "sondernutzung", today=date(2026, 3, 1))
    assert scaffold.folder == tmp_path / "sondernutzung"
    assert {p.relative_to(scaffold.folder).as_posix() for p in scaffold.files} == {
        "service.yaml",
        "templates/bescheid.html",
        "tests/cases.yaml",
    }
    assert validate_tree(tmp_path, connectors) == []
    cases = load_cases("sondernutzung", scaffold.folder)
    outcomes = [case.expect.outcome for case in cases]
    assert len(cases) >= 6
    assert {"approved", "rejected", "referred"} <= set(outcomes)
    loaded, problems = load_tree(tmp_path, connectors)
    assert problems == []
    results = run_service_tests_sync(Catalogue(loaded), connectors, ["sondernutzung"])
    assert [r.case.name for r in results if not r.passed] == []
    assert len(results) == len(cases)


def test_scaffold_refuses_bad_slugs_and_existing_folders(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="not a valid slug"):
        scaffold_service(tmp_path, "Hunde Steuer")
    scaffold_service(tmp_path, "hund")
    with pytest.raises(ScaffoldError, match="already exists"):
        scaffold_service(tmp_path, "hund")
