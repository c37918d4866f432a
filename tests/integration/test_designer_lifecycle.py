"""Draft → check → review → publish, with the database and a services folder of its own."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader
from sqlmodel import Session, select

from backend.console import designer
from backend.console.models import CatalogueRevision
from backend.db import build_engine
from backend.definitions.catalogue import Catalogue, load_catalogue
from backend.definitions.constraints import local_today
from backend.department.identity import ClerkIdentity
from backend.errors import Conflict, Forbidden, InvalidInput
from backend.migrate import upgrade_database
from backend.settings import Settings
from prefill.configuration import build_default_registry
from tests.conftest import ROOT

JULIA = ClerkIdentity("designer-j", "Julia Weber", "buergeramt", ("designer",))
MARTIN = ClerkIdentity("supervisor-m", "Martin Hoffmann", "buergeramt", ("clerk", "supervisor"))
SABINE = ClerkIdentity("clerk-s", "Sabine Krüger", "buergeramt", ("clerk",))
DENIZ = ClerkIdentity("designer-d", "Deniz Yılmaz", "ordnungsamt", ("designer",))
SERVICE = "meldebescheinigung"


@dataclass
class World:
    settings: Settings
    session: Session
    env: designer.CheckSettings

    def reload(self) -> None:
        catalogue = load_catalogue(self.settings.services_dir, self.env.connectors)
        self.env = designer.CheckSettings(self.settings, catalogue, self.env.connectors)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    services = tmp_path / "services"
    shutil.copytree(ROOT / "services" / SERVICE, services / SERVICE)
    url = f"sqlite:///{tmp_path / 'designer.db'}"
    upgrade_database(url)
    settings = Settings(
        services_dir=services, data_dir=tmp_path / "data", database_url=url, _env_file=None
    )
    connectors = build_default_registry()
    catalogue = load_catalogue(services, connectors)
    engine = build_engine(url)
    with Session(engine) as session:
        yield World(settings, session, designer.CheckSettings(settings, catalogue, connectors))
    engine.dispose()


def _reason_path(text: str) -> tuple[str | int, ...]:
    rules = yaml.safe_load(text)["rules"]
    return ("rules", 0, "reason", "de") if rules else ("title", "de")


def test_a_draft_goes_live_after_a_second_person_approves(world: World) -> None:
    live = world.env.catalogue.get(SERVICE)
    draft = designer.start_draft(world.session, JULIA, world.env.catalogue, SERVICE)
    assert draft.base_version == live.version
    path = _reason_path(draft.text)
    new_text = "Laut Melderegister wohnen Sie in Köln; die Bescheinigung wird erteilt."
    text = designer.edit_value(draft.text, path, new_text, literal=False)
    designer.save_draft(world.session, JULIA, draft, text=text)
    checked = designer.check_draft(world.session, JULIA, world.env, draft)
    assert checked.checks["problems"] == []
    assert checked.checks["tests"] and all(t["passed"] for t in checked.checks["tests"])
    assert checked.checks["ok"] and designer.checks_current(checked)

    # Four eyes: the author cannot approve, a clerk without the role neither.
    designer.submit(world.session, JULIA, checked)
    with pytest.raises(Forbidden):
        designer.publish(world.session, JULIA, world.env, checked, local_today())
    with pytest.raises(Forbidden):
        designer.publish(world.session, SABINE, world.env, checked, local_today())
    with pytest.raises(InvalidInput, match="frühestens ab heute"):
        designer.publish(
            world.session, MARTIN, world.env, checked, local_today() - timedelta(days=1)
        )
    follower = designer.CatalogueFollower(
        build_engine(world.settings.database_url),
        world.settings.services_dir,
        world.env.connectors,
        lambda c: seen.append(c),
        interval_s=60,
    )
    seen: list[Catalogue] = []
    assert follower.check() is False  # notes the newest publication: none yet
    catalogue = designer.publish(world.session, MARTIN, world.env, checked, local_today())

    published = catalogue.get(SERVICE)
    assert published.version == designer.next_version([live.version])
    assert published.valid_from == local_today()
    assert catalogue.get(SERVICE, live.version).valid_until == local_today() - timedelta(days=1)
    assert checked.status == "published" and checked.reviewer == MARTIN.sub
    revisions = world.session.exec(select(CatalogueRevision)).all()
    assert [(r.service, r.version, r.published_by) for r in revisions] == [
        (SERVICE, published.version, MARTIN.sub)
    ]
    # Another process (here: a second follower) sees the publication and reloads.
    assert follower.check() is True
    assert seen[0].get(SERVICE).version == published.version
    assert follower.check() is False
    # A published draft is immutable.
    with pytest.raises(Conflict):
        designer.save_draft(world.session, JULIA, checked, text="id: x\n")


def test_a_draft_s_notice_is_previewed_for_a_test_persona(world: World) -> None:
    draft = designer.start_draft(world.session, JULIA, world.env.catalogue, SERVICE)
    pdf, name = designer.preview_pdf(JULIA, world.env, draft, "erika", "approved")
    assert pdf.startswith(b"%PDF") and name.endswith("-approved-erika-vorschau.pdf")
    page = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Erika" in page and "Mustermann" in page and "VORSCHAU" in page
    with pytest.raises(InvalidInput, match="Testperson"):
        designer.preview_pdf(JULIA, world.env, draft, "clerk-buergeramt", "approved")
    with pytest.raises(InvalidInput, match="kein Schriftstück"):
        designer.preview_pdf(JULIA, world.env, draft, "erika", "rejected")


def test_rolling_back_is_publishing_the_older_version_again(world: World) -> None:
    first = designer.start_draft(world.session, JULIA, world.env.catalogue, SERVICE)
    designer.check_draft(world.session, JULIA, world.env, first)
    designer.submit(world.session, JULIA, first)
    world.env = designer.CheckSettings(
        world.settings,
        designer.publish(world.session, MARTIN, world.env, first, local_today()),
        world.env.connectors,
    )
    versions = [d.version for d in world.env.catalogue.versions(SERVICE)]
    back = designer.start_draft(
        world.session, JULIA, world.env.catalogue, SERVICE, from_version=versions[0]
    )
    designer.check_draft(world.session, JULIA, world.env, back)
    # The same day already has a version: the rollback starts tomorrow.
    back.text = designer.set_top_level(
        back.text, "valid_from", (local_today() + timedelta(days=1)).isoformat()
    )
    designer.save_draft(world.session, JULIA, back, text=back.text)
    designer.check_draft(world.session, JULIA, world.env, back)
    assert back.checks["ok"], back.checks
    designer.submit(world.session, JULIA, back)
    catalogue = designer.publish(
        world.session, MARTIN, world.env, back, local_today() + timedelta(days=1)
    )
    assert [d.version for d in catalogue.versions(SERVICE)] == [*versions, back.published_version]


def test_a_draft_that_validate_refuses_cannot_be_submitted(world: World) -> None:
    draft = designer.start_draft(world.session, JULIA, world.env.catalogue, SERVICE)
    broken = draft.text.replace("rules:", "rules:\n  - id: kaputt\n    kind: nonsense", 1)
    designer.save_draft(world.session, JULIA, draft, text=broken)
    checked = designer.check_draft(world.session, JULIA, world.env, draft)
    assert checked.checks["problems"] and not checked.checks["ok"]
    assert checked.checks["problems"][0].startswith(f"{SERVICE}/versions/")
    with pytest.raises(InvalidInput, match="geprüfter Entwurf"):
        designer.submit(world.session, JULIA, checked)
    # Changing the text after a green check makes the check stale: submit refuses again.
    designer.save_draft(world.session, JULIA, draft, text=draft.text + "\n# noch ein Kommentar\n")
    assert not designer.checks_current(draft)


def test_departments_and_roles_are_kept_apart(world: World) -> None:
    with pytest.raises(Exception, match="Diesen Dienst gibt es nicht"):
        designer.start_draft(world.session, DENIZ, world.env.catalogue, SERVICE)
    with pytest.raises(Forbidden, match="designer"):
        designer.start_draft(world.session, SABINE, world.env.catalogue, SERVICE)
    draft = designer.start_draft(world.session, JULIA, world.env.catalogue, SERVICE)
    with pytest.raises(Exception, match="Diesen Entwurf gibt es nicht"):
        designer.get_draft(world.session, DENIZ, draft.id)


def test_a_new_service_starts_from_the_scaffold_and_is_published_with_its_folder(
    world: World,
) -> None:
    draft = designer.new_service_draft(world.session, JULIA, world.env.catalogue, "sondernutzung")
    assert yaml.safe_load(draft.text)["department"] == "buergeramt"
    # The scaffold's example statute and authority are TODOs here: never on a real notice.
    red = designer.check_draft(world.session, JULIA, world.env, draft)
    assert not red.checks["ok"]
    assert any("procedure.authority.name: unfinished: TODO" in p for p in red.checks["problems"])
    designer.save_draft(world.session, JULIA, draft, text=koeln_legal_texts(draft.text))
    checked = designer.check_draft(world.session, JULIA, world.env, draft)
    assert checked.checks["ok"], checked.checks
    designer.submit(world.session, JULIA, checked)
    catalogue = designer.publish(world.session, MARTIN, world.env, checked, local_today())
    assert catalogue.get("sondernutzung").department == "buergeramt"
    folder = world.settings.services_dir / "sondernutzung"
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} == {
        "service.yaml",
        "templates/bescheid.html",
        "tests/cases.yaml",
    }


def test_a_new_service_from_fim_stays_red_until_its_todos_are_filled(world: World) -> None:
    data = (ROOT / "tests" / "fixtures" / "fim" / "S00000121_blaue_karte_xdf2.xml").read_bytes()
    draft = designer.fim_service_draft(
        world.session, JULIA, world.env.catalogue, world.env.connectors, data, "blaue.xml"
    )
    assert draft.new_service and yaml.safe_load(draft.text)["department"] == "buergeramt"
    checked = designer.check_draft(world.session, JULIA, world.env, draft)
    assert not checked.checks["ok"]
    assert any("unfinished: TODO" in p for p in checked.checks["problems"])
    with pytest.raises(InvalidInput, match="geprüfter Entwurf"):
        designer.submit(world.session, JULIA, checked)
    with pytest.raises(InvalidInput, match="FIM import failed"):
        designer.fim_service_draft(
            world.session, JULIA, world.env.catalogue, world.env.connectors, b"<x/>", "x.xml"
        )


def koeln_legal_texts(text: str) -> str:
    """What a Köln department writes over the scaffold's TODOs: its statute, the NRW regime
    without Widerspruch (§ 110 JustG NRW) with the court, and its own address."""
    text = text.replace(
        'legal_basis: "TODO: the statute the service rests on"',
        'legal_basis: "§ 18 Abs. 1 StrWG NRW"',
        1,
    ).replace(
        '  legal_basis: "TODO: the statute the service rests on"',
        '  legal_basis: "§ 35a VwVfG i. V. m. § 18 Abs. 1 StrWG NRW"',
    )
    text = re.sub(r'regime: "TODO:[^"]*"', "regime: vwgo_klage", text)
    text = text.replace('name: "TODO: the issuing authority"', 'name: "Stadt Köln – Bürgeramt"')
    text = re.sub(r'at: "TODO:[^"]*"', 'at: "bei der Stadt Köln, Bürgeramt"', text, count=1)
    return text.replace(
        'address: "TODO: the authority\'s address"',
        'address: "Laurenzplatz 4, 50667 Köln"\n'
        "  court:\n"
        '    name: "Verwaltungsgericht Köln"\n'
        '    at: "beim Verwaltungsgericht Köln"\n'
        '    address: "Appellhofplatz, 50667 Köln"',
    )
