"""The proactive birth bundle in Chromium: a parent is offered Kindergeld without asking.

David Becker's daughter Mia was born 19 days ago (sandbox/personas.py). When he opens the
portal, the start page congratulates him and offers Kindergeld, prefilled from the registers
(backend/cases/proactive.py); he has started nothing. He confirms, answers the two questions
no register can answer, and the Familienkasse's machine decides. Elterngeld is not offered to
him: it reads the Einkommensregister, which needs the trust level hoch, and he logged in with
substanziell. No other browser test applies for Kindergeld as David, so the offer is there
whenever this test runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from sandbox.personas import persona_by_id
from tests.conftest import Platform
from tests.e2e.portal import (
    answer,
    assert_accessible,
    login_as,
    press_and_wait,
    wait_for_decision,
)

IBAN = "DE02 1203 0000 0000 2020 51"


def _shot(page: Page, artifacts: Path, name: str) -> None:
    folder = artifacts / "proactive"
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_parent_confirms_the_offered_kindergeld(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    david = persona_by_id("david")
    assert david is not None and david.children
    mia = david.children[0]
    born = mia.birthdate.strftime("%d.%m.%Y")

    login_as(page, platform, "David Becker")
    page.goto(platform.base_url + "/")
    offers = page.get_by_role("region", name="Für Sie vorbereitet")
    expect(offers).to_contain_text(
        f"Herzlichen Glückwunsch zur Geburt von {mia.given_name} am {born}"
    )
    expect(offers.get_by_role("link", name="Kindergeld", exact=True)).to_be_visible()
    expect(offers).to_contain_text("Angaben aus dem Melderegister, Personenstandsregister")
    # Elterngeld needs the Einkommensregister, i.e. trust level hoch: not offered to this login.
    expect(offers.get_by_role("link", name="Elterngeld", exact=True)).to_have_count(0)
    # Offered without the parent starting anything: no draft, no application yet.
    expect(page.locator("#drafts-title")).to_have_count(0)
    _shot(page, artifacts, "01-start-offer")
    assert_accessible(page, "proactive-start-offer")

    offers.get_by_role("link", name="Kindergeld", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kindergeld")
    page.get_by_role("button", name="Antrag starten").click()

    # Everything the registers know is filled in: the child, the parent, the address.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Diese Angaben liegen der Verwaltung schon vor"
    )
    held = page.locator("main")
    expect(held).to_contain_text("Aus dem Personenstandsregister")
    expect(held).to_contain_text(mia.given_name)
    expect(held).to_contain_text(born)
    expect(held).to_contain_text("Körnerstraße")
    expect(held).to_contain_text(f"{mia.given_name} {mia.family_name}, {born}")
    _shot(page, artifacts, "02-held")
    assert_accessible(page, "proactive-held")
    press_and_wait(page, page.get_by_role("button", name="Weiter", exact=True))

    # Only what no register knows: whether the other parent claims, and the account.
    # Wait for the question page itself: `.all()` does not wait, and under load it read the
    # previous page's DOM right after the click (CI, stop 28: an empty set).
    expect(page.get_by_role("heading", level=1)).to_have_text("Bezug des Kindergeldes")
    asked = {
        (c.get_attribute("name") or "").removeprefix("answer__")
        for c in page.locator("main [name^='answer__']").all()
    }
    assert asked == {"anderer_elternteil_beantragt_nicht", "iban"}, asked
    _shot(page, artifacts, "03-questions")
    assert_accessible(page, "proactive-questions")
    answer(page, "anderer_elternteil_beantragt_nicht", "Ja")
    answer(page, "iban", IBAN)
    page.get_by_role("button", name="Weiter", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Prüfen Sie Ihre Angaben")
    expect(page.locator("main")).to_contain_text("DE02 1203 0000 0000 2020 51")
    _shot(page, artifacts, "04-check")
    assert_accessible(page, "proactive-check")
    page.get_by_role("button", name="Kindergeld beantragen", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Antrag eingegangen")
    wait_for_decision(page)
    region = page.locator("[data-case-region]")
    expect(region).to_contain_text("Ihr Antrag wurde bewilligt.")
    expect(region).to_contain_text("Das Kindergeld beträgt 259,00 Euro im Monat.")
    expect(region.get_by_role("link", name="Kindergeldbescheid", exact=True)).to_be_visible()
    _shot(page, artifacts, "05-decided")
    assert_accessible(page, "proactive-decided")

    # Applied for since the birth: the start page no longer offers it.
    page.goto(platform.base_url + "/")
    expect(page.get_by_role("heading", name=re.compile("Online-Dienste"))).to_be_visible()
    expect(page.get_by_role("region", name="Für Sie vorbereitet")).to_have_count(0)
    expect(page.locator("#offers-title")).to_have_count(0)


def test_no_offer_without_a_recent_birth(page: Page, platform: Platform, artifacts: Path) -> None:
    """Katrin has no child in the Personenstandsregister: her start page offers nothing.

    (Not Bernd: tests/integration/test_services_catalogue.py records a birth for him in the
    shared sandbox.)"""
    login_as(page, platform, "Katrin Schulz")
    page.goto(platform.base_url + "/")
    expect(page.get_by_role("heading", name="Dienste nach Lebenslage")).to_be_visible()
    expect(page.locator("#offers-title")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("Herzlichen Glückwunsch")
