"""Two towns on one platform, in the browser (issue 13): a visitor picks a place, a Bergheim
resident gets Bergheim's permit at Bergheim's fee with its name and logo on screen and in the
PDF, and a resident whose town does not offer the service is told who does."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import Platform
from tests.e2e.portal import assert_accessible, login_as, press_and_wait
from tests.e2e.test_service_journeys import (
    ServiceJourney,
    Walk,
    _check_and_submit,
    _complete,
    _expect_decision,
)


def test_a_visitor_picks_a_place_and_sees_its_fees(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    walk = Walk(page, artifacts, "tenant-places")
    page.goto(platform.base_url + "/orte")
    page.get_by_label("Postleitzahl oder Name des Ortes").fill("50126")
    press_and_wait(page, page.get_by_role("button", name="Suchen"))
    expect(page.get_by_role("status")).to_have_text("1 Ort gefunden")
    walk.look("picker")
    page.get_by_role("link", name="Stadt Bergheim").first.click()
    expect(page).to_have_url(re.compile("/bergheim/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Online-Dienste: Stadt Bergheim")
    card = page.locator(".card").filter(has_text="Anwohnerparkausweis")
    expect(card).to_contain_text("60,00")
    # Federal benefits stay with their bodies, shown as such.
    expect(page.locator("main")).to_contain_text("zuständig: Familienkasse")
    logo = page.locator(".place-logo")
    expect(logo).to_be_visible()
    assert page.evaluate("el => el.naturalWidth", logo.element_handle()) > 0, "logo not loaded"
    walk.look("bergheim")
    # The choice is kept for the next visit (the tenant id only).
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies.get("kd_place") == "bergheim"
    # A town that is not on the platform is said so.
    page.goto(platform.base_url + "/orte?q=Atlantis")
    expect(page.locator("main")).to_contain_text("Dieser Ort nutzt diese Plattform nicht.")
    assert_accessible(page, "tenant-places-none", artifacts)


def test_a_bergheim_resident_gets_bergheims_permit_fee_and_logo(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    journey = ServiceJourney(
        service="anwohnerparkausweis",
        title="Anwohnerparkausweis",
        persona="Stefan Wagner",
        held=("Schützenstraße", "Aus dem Geodatenregister", "BM-SW 1409"),
        held_absent=("Einige Angaben konnten wir nicht abrufen",),
        answers={},
        submit="Anwohnerparkausweis beantragen",
        decision=("Ihr Antrag wurde bewilligt.",),
        document="Bescheid zum Bewohnerparkausweis",
        document_contains=(
            "Stadt Bergheim – Straßenverkehrsbehörde",
            "60,00 €",
            "Gebührensatzung für Bewohnerparkausweise der Stadt Bergheim",
            "Klage beim Verwaltungsgericht Köln",
        ),
    )
    walk = Walk(page, artifacts, "tenant-bergheim")
    login_as(page, platform, journey.persona, start="/bergheim/services/anwohnerparkausweis")
    expect(page.locator(".place-bar")).to_contain_text("Stadt Bergheim")
    expect(page.locator(".facts")).to_contain_text("60,00")
    walk.look("service")
    press_and_wait(page, page.get_by_role("button", name=re.compile("^(Neuen )?Antrag starten$")))
    expect(page.locator(".place-bar")).to_contain_text("Stadt Bergheim")
    _complete(page, walk, journey)
    reference = _check_and_submit(page, walk, journey)
    pay = page.get_by_role("link", name=re.compile(r"^Jetzt 60,00\s€ bezahlen$"))
    expect(pay).to_be_visible(timeout=30_000)
    walk.look("payment-due")
    pay.click()
    expect(page.locator("body")).to_contain_text("60,00")
    page.get_by_role("button", name=re.compile("Jetzt bezahlen")).click()
    expect(page).to_have_url(re.compile(r"/cases/[0-9a-f]{32}$"))
    expect(page.locator(".place-bar")).to_contain_text("Stadt Bergheim")
    _expect_decision(page, walk, journey, reference)
    walk.look("case")
    # The PDF's text, not only the page: no word of Köln's office on Bergheim's notice.
    from pypdf import PdfReader

    pdf = PdfReader(str(walk.folder / "dokument.pdf"))
    assert "Stadt Köln" not in "".join(p.extract_text() for p in pdf.pages)


def test_a_resident_whose_town_does_not_offer_it_is_told_who_is_competent(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    login_as(page, platform, "Hanna Brinkmann", start="/services/anwohnerparkausweis")
    press_and_wait(page, page.get_by_role("button", name=re.compile("^(Neuen )?Antrag starten$")))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Für Ihren Wohnsitz ist eine andere Stelle zuständig"
    )
    # In Lower Saxony the Landkreis issues parking permits, not the town of Neuenhaus.
    expect(page.locator("main")).to_contain_text("der Kreis mit dem Regionalschlüssel 034560000000")
    page.screenshot(path=str(artifacts / "tenant-not-competent.png"), full_page=True)
    assert_accessible(page, "tenant-not-competent", artifacts)


def test_a_citizen_who_moved_sees_each_case_with_the_authority_that_decided_it(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    """Tobias moved from Köln to Bergheim a month ago: his Köln case stays Köln's."""
    from datetime import timedelta

    from sqlmodel import Session

    from backend.columns import utcnow
    from backend.records.models import Application, Case
    from sandbox.personas import persona_by_id
    from tests.integration.enginekit import engine, submit, wait_for_status

    tobias = persona_by_id("tobias")
    assert tobias is not None
    version = "1.0.0"
    before = utcnow() - timedelta(days=40)
    # A case Köln decided before he moved (rows from then carry no tenant: the home tenant's).
    with Session(engine(platform)) as session:
        draft = Application(
            service="meldebescheinigung", service_version=version, citizen_sub=tobias.sub,
            status="submitted", created_at=before, updated_at=before, submitted_at=before,
        )  # fmt: skip
        session.add(draft)
        session.flush()
        session.add(
            Case(
                application_id=draft.id, service="meldebescheinigung", service_version=version,
                department="buergeramt", citizen_sub=tobias.sub, status="notified",
                reference_date=before.date(), submitted_at=before, decided_at=before,
                updated_at=before, outcome="approved",
            )
        )  # fmt: skip
        session.commit()
    # Today's application goes to Bergheim, where the Melderegister has him now.
    api = platform.api("tobias")
    now_case = submit(api, "meldebescheinigung")
    wait_for_status(api, now_case, {"notified", "referred", "rejected"}, timeout=60)
    assert api.get(f"/cases/{now_case}").json()["tenant"] == "bergheim"

    login_as(page, platform, "Tobias Keller")
    page.goto(platform.base_url + "/cases")
    cards = page.locator(".card").filter(has_text="Meldebescheinigung")
    expect(cards.filter(has_text="Stadt Köln – Bürgeramt")).to_have_count(1)
    expect(cards.filter(has_text="Stadt Bergheim")).to_have_count(1)
    page.screenshot(path=str(artifacts / "tenant-moved-cases.png"), full_page=True)


def test_the_data_centre_operator_sees_every_town_and_no_case(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    from tests.e2e.test_console_journeys import console_login

    console_login(page, platform, "Kai Berger", "/console/")
    expect(page).to_have_url(re.compile("/console/operator$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Betrieb: alle Mandanten")
    table = page.locator("table.data-table")
    for town in ("Stadt Köln", "Stadt Bergheim", "Stadt Neuenhaus"):
        expect(table).to_contain_text(town)
    # One menu item: the department pages are not theirs.
    expect(page.get_by_role("link", name="Arbeitsliste")).to_have_count(0)
    expect(page.get_by_role("search")).to_have_count(0)
    page.screenshot(path=str(artifacts / "tenant-operator.png"), full_page=True)
    assert_accessible(page, "tenant-operator", artifacts)
    page.goto(platform.base_url + "/console/worklist")
    expect(page.locator("main")).to_contain_text("Berechtigung")
