"""The service designer in Chromium: a designer writes a new service from nothing, a supervisor
approves and publishes it (four eyes), and a citizen applies for it; every page passes axe.

The platform here has a database and a services folder of its own, so publishing a service
changes nothing for the other browser tests (which share the session's platform)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy.engine import make_url

from backend.crypto import configured_key_ring
from backend.db import normalise_url
from backend.settings import Settings
from tests.conftest import MailCatcher, Platform
from tests.e2e.portal import (
    Journey,
    assert_accessible,
    complete_steps,
    login_as,
    press_and_wait,
    start_application,
    submit,
)
from tests.integration.test_designer_lifecycle import koeln_legal_texts
from tests.integration.topologykit import copy_services, drop_database, fresh_database
from tests.livesrv import TEST_SETTINGS, free_port, serve_in_thread

SLUG = "sondernutzung-gehweg"
TITLE = "Sondernutzung Gehweg: Tische vor dem Café"


@pytest.fixture(scope="module")
def own_platform(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, smtp_server: MailCatcher
) -> Iterator[Platform]:
    """A second platform in this process, without a worker (DBOS runs once per process)."""
    from backend.migrate import upgrade_database
    from knopfdruck.app import create_app

    tmp = tmp_path_factory.mktemp("designer")
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp / 'designer.db'}"
    else:
        parsed = make_url(normalise_url(database_url))
        url = parsed.set(database=f"{parsed.database}_designer").render_as_string(
            hide_password=False
        )
        fresh_database(url)
    port = free_port()
    settings = Settings(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=tmp / "data",
        database_url=url,
        services_dir=copy_services(tmp / "services"),
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        # The key ring is process-wide: keep the session platform's, so its data stays readable.
        field_encryption_keys=",".join(k.decode("ascii") for k in configured_key_ring()),
        _env_file=None,
        **{**TEST_SETTINGS, "worker_in_process": False},
    )
    upgrade_database(url)
    try:
        with serve_in_thread(create_app(settings), port) as base:
            yield Platform(base, settings)
    finally:
        if not url.startswith("sqlite"):
            drop_database(url)


def console_login(page: Page, platform: Platform, name: str, start: str) -> None:
    page.goto(f"{platform.base_url}/console/login?next={start}")
    page.get_by_label(name).check()
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("button", name=re.compile("Abmelden|Sign out"))).to_be_visible()


def logout(page: Page) -> None:
    press_and_wait(page, page.get_by_role("button", name=re.compile("Abmelden|Sign out")))


def test_a_new_service_from_nothing_to_a_citizen_s_application(
    page: Page, own_platform: Platform, artifacts: Path
) -> None:
    platform = own_platform
    console_login(page, platform, "Julia Weber", "/console/designer")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dienst-Designer")
    assert_accessible(page, "designer-home", artifacts)
    page.screenshot(path=str(artifacts / "designer-home.png"), full_page=True)

    # From nothing: the scaffold, checked and tested on creation.
    page.get_by_label("Kurzname (Adresse im Portal)").fill(SLUG)
    press_and_wait(page, page.get_by_role("button", name="Entwurf anlegen"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(SLUG)
    checks = page.locator("#checks")
    # The scaffold's example authority is a TODO: no notice may name Gemeinde Beispielstadt.
    expect(checks).to_contain_text("Nicht bestanden")
    expect(checks).to_contain_text("procedure.authority.name: unfinished: TODO")
    code = page.locator("#definition")
    code.fill(koeln_legal_texts(code.input_value()))
    press_and_wait(page, page.get_by_role("button", name="Speichern und prüfen").last)
    expect(checks).to_contain_text("Bestanden")
    expect(checks.get_by_text("rot")).to_have_count(0)

    # Texts in both languages through the form; the YAML keeps its comments.
    page.get_by_label("Titel (de)").fill(TITLE)
    page.get_by_label("Titel (en)").fill("Special use of the pavement: café tables")
    press_and_wait(page, page.get_by_role("button", name="Speichern und prüfen").first)
    expect(page.get_by_role("status")).to_contain_text("Gespeichert und geprüft.")
    expect(checks).to_contain_text("Bestanden")
    expect(page.locator("#definition")).to_contain_text(f'"{TITLE}"')
    expect(page.locator("#definition")).to_contain_text("# ")
    assert_accessible(page, "designer-draft", artifacts)
    page.screenshot(path=str(artifacts / "designer-draft.png"), full_page=True)

    # The notice as Erika would receive it after publication (the GET form opens the PDF).
    draft_path = page.url.split("?")[0].removeprefix(platform.base_url)
    pdf = page.request.get(
        f"{platform.base_url}{draft_path}/preview?persona=erika&outcome=approved"
    )
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    (artifacts / "designer-preview.pdf").write_bytes(pdf.body())
    text = PdfReader(io.BytesIO(pdf.body())).pages[0].extract_text()
    assert "Erika Mustermann" in text and "VORSCHAU" in text
    # The remedy is the department's: NRW has no Widerspruch here; the Klage goes to the court.
    remedy = " ".join(
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages).split()
    )
    assert "Verwaltungsgericht Köln" in remedy and "Beispielstadt" not in remedy

    # A broken rule in the code view is refused with its line; the draft stays red.
    code = page.locator("#definition")
    text = code.input_value()
    code.fill(text.replace("fields.exemplare >= 1", "fields.exemplare >= 1.0", 1))
    press_and_wait(page, page.get_by_role("button", name="Speichern und prüfen").last)
    expect(checks).to_contain_text("Nicht bestanden")
    expect(checks).to_contain_text("CEL does not mix int and double")
    page.screenshot(path=str(artifacts / "designer-draft-red.png"), full_page=True)
    press_and_wait(page, page.get_by_role("button", name="Zur Freigabe geben"))
    expect(page.locator(".error-summary")).to_contain_text("Nur ein geprüfter Entwurf")
    page.locator("#definition").fill(text)
    press_and_wait(page, page.get_by_role("button", name="Speichern und prüfen").last)
    expect(checks).to_contain_text("Bestanden")

    press_and_wait(page, page.get_by_role("button", name="Zur Freigabe geben"))
    expect(page.locator("dl.facts")).to_contain_text("Wartet auf Freigabe")
    # Four eyes: the author has no button to approve her own draft.
    expect(page.get_by_role("button", name="Freigeben und veröffentlichen")).to_have_count(0)
    expect(page.get_by_text("Vier-Augen-Prinzip")).to_be_visible()
    draft_url = page.url.split("?")[0]
    logout(page)

    console_login(page, platform, "Martin Hoffmann", "/console/designer")
    page.get_by_role("link", name=SLUG).first.click()
    expect(page.get_by_role("heading", name="Freigabe")).to_be_visible()
    assert_accessible(page, "designer-review", artifacts)
    press_and_wait(page, page.get_by_role("button", name="Freigeben und veröffentlichen"))
    expect(page.get_by_role("status")).to_contain_text("Veröffentlicht")
    expect(page.locator("dl.facts")).to_contain_text("freigegeben von Martin Hoffmann")
    page.screenshot(path=str(artifacts / "designer-published.png"), full_page=True)
    assert page.url.startswith(draft_url)
    folder = Path(platform.settings.services_dir) / SLUG
    assert TITLE in (folder / "service.yaml").read_text(encoding="utf-8")
    logout(page)

    # The citizen finds and uses the new service at once, without a restart.
    login_as(page, platform, "Erika Mustermann")
    journey = Journey(service=SLUG, title=TITLE, persona="Erika Mustermann",
                      answers={"exemplare": "2"})  # fmt: skip
    start_application(page, platform, journey)
    complete_steps(page, journey)
    reference = submit(page, journey)
    assert reference
    page.screenshot(path=str(artifacts / "designer-citizen-submitted.png"), full_page=True)


def test_a_service_from_a_fim_schema_shows_what_is_still_to_do(
    page: Page, own_platform: Platform, artifacts: Path
) -> None:
    console_login(page, own_platform, "Julia Weber", "/console/designer")
    page.get_by_label("FIM-Datenschema (XDatenfelder 2.0 oder 3.0)").set_input_files(
        str(
            Path(__file__).resolve().parents[1]
            / "fixtures"
            / "fim"
            / "S00000121_blaue_karte_xdf2.xml"
        )
    )
    page.get_by_label("Kurzname (freiwillig)").fill("blaue-karte")
    press_and_wait(page, page.get_by_role("button", name="Aus FIM anlegen"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("blaue-karte")
    checks = page.locator("#checks")
    expect(checks).to_contain_text("Nicht bestanden")
    expect(checks).to_contain_text("unfinished: TODO")
    assert_accessible(page, "designer-fim-draft", artifacts)
    page.screenshot(path=str(artifacts / "designer-fim-draft.png"), full_page=False)


def test_designer_pages_in_english_pass_axe(
    page: Page, own_platform: Platform, artifacts: Path
) -> None:
    console_login(page, own_platform, "Julia Weber", "/console/designer")
    page.goto(f"{own_platform.base_url}/lang/en?next=/console/designer")
    expect(page.get_by_role("heading", level=1)).to_have_text("Service designer")
    assert_accessible(page, "designer-home-en", artifacts)
    page.goto(f"{own_platform.base_url}/console/designer/services/meldebescheinigung/diff")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Compare versions")
    assert_accessible(page, "designer-diff-en", artifacts)
    page.goto(f"{own_platform.base_url}/console/designer")
    page.get_by_role("link", name=SLUG).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(SLUG)
    assert_accessible(page, "designer-draft-en", artifacts)
