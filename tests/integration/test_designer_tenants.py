"""A template change is checked against every tenant that activated it, before it can go live.

Issue 13 with issue 15's designer: a department edits a template that Köln and Bergheim both
use; the check runs both towns' own test cases against their overlays and refuses a draft that
would break an overlay, naming the town's file and line, so a template change never strands a
municipality.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session

from backend.console import designer
from backend.db import build_engine
from backend.definitions.catalogue import load_catalogue
from backend.department.identity import ClerkIdentity
from backend.migrate import upgrade_database
from backend.settings import Settings
from prefill.configuration import build_default_registry
from tests.conftest import ROOT

SERVICE = "anwohnerparkausweis"
DESIGNER = ClerkIdentity("designer-v", "Vera Lang", "strassenverkehrsamt", ("designer",))


@dataclass
class World:
    session: Session
    env: designer.CheckSettings


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    services = tmp_path / "services"
    shutil.copytree(ROOT / "services" / SERVICE, services / SERVICE)
    for tenant in ("koeln", "bergheim"):
        shutil.copytree(ROOT / "tenants" / tenant, tmp_path / "tenants" / tenant)
        for other in ("hundesteuer-anmeldung", "maengelmelder", "meldebescheinigung"):
            (tmp_path / "tenants" / tenant / "services" / f"{other}.yaml").unlink()
            (tmp_path / "tenants" / tenant / "tests" / f"{other}.yaml").unlink(missing_ok=True)
    url = f"sqlite:///{tmp_path / 'designer.db'}"
    upgrade_database(url)
    settings = Settings(
        services_dir=services, data_dir=tmp_path / "data", database_url=url, _env_file=None
    )
    connectors = build_default_registry()
    engine = build_engine(url)
    with Session(engine) as session:
        catalogue = load_catalogue(services, connectors)
        yield World(session, designer.CheckSettings(settings, catalogue, connectors))
    engine.dispose()


def test_the_check_runs_every_tenants_own_cases_against_its_overlay(world: World) -> None:
    draft = designer.start_draft(world.session, DESIGNER, world.env.catalogue, SERVICE)
    checked = designer.check_draft(world.session, DESIGNER, world.env, draft)
    assert checked.checks["problems"] == []
    names = {t["name"]: t for t in checked.checks["tests"]}
    bergheim = names["[bergheim] Stefan in der Bergheimer Innenstadt – Bergheimer Gebühr 2026"]
    assert bergheim["passed"] and bergheim["outcome"] == "approved", bergheim["differences"]
    # Every case passes: the template's own, dated ones under the version of their day.
    assert [name for name, test in names.items() if not test["passed"]] == []
    assert names["[koeln] Katrin in Zone K-12 – Kölner Gebühr 2026"]["passed"]
    # The template's own cases still run against the template.
    assert names["Katrin, ein Fahrzeug in Zone K-12 – Gebühr 2026"]["passed"]
    assert checked.checks["ok"]


def test_a_draft_that_would_break_a_tenants_overlay_is_refused(world: World) -> None:
    draft = designer.start_draft(world.session, DESIGNER, world.env.catalogue, SERVICE)
    # The fee is no longer the towns' to set: every overlay that sets it breaks.
    text = draft.text.replace(
        "parameters: { jahresgebuehr: required, gemeinde: required }",
        "parameters: { gemeinde: required }",
    )
    assert text != draft.text
    designer.save_draft(world.session, DESIGNER, draft, text=text)
    checked = designer.check_draft(world.session, DESIGNER, world.env, draft)
    problems = checked.checks["problems"]
    assert [p.split(" ", 1)[0] for p in problems] == [
        f"tenants/{tenant}/services/anwohnerparkausweis.yaml:{_line(tenant, 'jahresgebuehr:')}"
        for tenant in ("bergheim", "koeln")
    ]
    assert all(
        "parameters.jahresgebuehr: parameter 'jahresgebuehr' is not local in service "
        "'anwohnerparkausweis' (local: gemeinde)" in p
        for p in problems
    )
    assert not checked.checks["ok"]


def _line(tenant: str, text: str) -> int:
    """The line of a tenant's parking overlay that holds the text, counted from 1."""
    file = ROOT / "tenants" / tenant / "services" / "anwohnerparkausweis.yaml"
    lines = file.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)
