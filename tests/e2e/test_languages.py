"""German by default, English on every page; dates and amounts as each language writes them."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import Platform
from tests.e2e.portal import assert_accessible, login_as


def test_german_is_the_default_and_english_is_one_click_away(
    page: Page, platform: Platform
) -> None:
    page.goto(platform.base_url + "/services/meldebescheinigung")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("link", name="English")).to_have_attribute("lang", "en")
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/services/meldebescheinigung$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Certificate of registered residence")
    expect(page.get_by_role("link", name="Deutsch")).to_have_attribute("lang", "de")
    page.get_by_role("link", name="Deutsch").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Meldebescheinigung")


def test_english_journey(page: Page, platform: Platform, artifacts: Path) -> None:
    page.goto(platform.base_url + "/")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Online services of your administration"
    )
    login_as(page, platform, "David Becker", start="/services?q=cargo+bike")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search results for “cargo bike”")
    page.get_by_role("link", name="Grant for a cargo bike").click()
    expect(page.locator("main")).to_contain_text("free of charge")
    expect(page.locator("main")).to_contain_text("Usually decided within a minute")
    page.get_by_role("button", name="Start application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Grant for a cargo bike")
    page.get_by_role("link", name="Check the details from the register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "The administration already holds these details"
    )
    expect(page.locator("main")).to_contain_text(re.compile(r"As of: \d{1,2} [A-Z][a-z]+ \d{4}"))
    assert_accessible(page, "en-held", artifacts)
    page.get_by_role("button", name="Continue", exact=True).click()

    page.get_by_role("link", name="Your cargo bike", exact=True).click()
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.locator(".error-summary")).to_contain_text("There is a problem")
    expect(page.locator(".error-summary")).to_contain_text("Enter 'Drive'.")
    assert_accessible(page, "en-topic-errors", artifacts)
    page.get_by_label("Pedal power only").check()
    page.locator("#f-gewerblich").get_by_label("No").check()
    page.get_by_role("button", name="Continue", exact=True).click()

    page.get_by_role("link", name="Purchase", exact=True).click()
    page.get_by_label("Purchase price in euros").fill("2000.50")
    page.get_by_label("Date of purchase").fill("3.11.2026")
    page.get_by_label("Invoice").set_input_files(
        str(Path(__file__).parent / "fixtures" / "rechnung.pdf")
    )
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_role("link", name="Payment", exact=True).click()
    page.get_by_label("IBAN").fill("DE02120300000000202051")
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_role("link", name="Check your answers and send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers before you apply")
    main = page.locator("main")
    expect(main).to_contain_text("3 November 2026")
    expect(main).to_contain_text("2,000.50")
    expect(main).to_contain_text("DE02 1203 0000 0000 2020 51")
    assert_accessible(page, "en-check", artifacts)
    page.get_by_role("button", name="Apply for Grant for a cargo bike").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Application received")
    expect(page.locator("[data-case-region]:not([data-poll])")).to_have_count(1, timeout=30_000)
    expect(page.get_by_text("Your application has been approved.")).to_be_visible()
    expect(main).to_contain_text("500.13")
    expect(page.get_by_role("link", name="Cargo bike grant notice")).to_be_visible()
    assert_accessible(page, "en-confirmation", artifacts)
    page.screenshot(path=str(artifacts / "en-confirmation.png"), full_page=True)

    page.get_by_role("link", name="Deutsch").click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(main).to_contain_text("500,13")
