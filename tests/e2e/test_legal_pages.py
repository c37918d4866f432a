"""Issue 21 items 1 and 6 and the 404 page in a real browser: axe-clean in German and English
at 390 and 1280 px (screenshots in test-artifacts/legal-pages), and working without JavaScript."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Platform
from tests.e2e.portal import assert_accessible, no_horizontal_scroll

PAGES = {
    "start": "/",
    "start-filter": "/?lage=auto-verkehr",
    "service": "/services/anwohnerparkausweis",
    "impressum": "/impressum",
    "datenschutz": "/datenschutz",
    "barrierefreiheit": "/barrierefreiheit",
    "leichte-sprache": "/leichte-sprache",
    "gebaerdensprache": "/gebaerdensprache",
    "feedback": "/feedback?topic=service&service=anwohnerparkausweis&page=/x",
    "404": "/services/gibtsnicht",
}


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("width", [390, 1280])
def test_new_pages_are_axe_clean_and_fit_the_screen(
    browser: Browser,
    browser_context_args: dict[str, Any],
    platform: Platform,
    artifacts: Path,
    lang: str,
    width: int,
) -> None:
    folder = artifacts / "legal-pages"
    folder.mkdir(exist_ok=True)
    context = browser.new_context(
        **{**browser_context_args, "viewport": {"width": width, "height": 900}}
    )
    context.add_cookies([{"name": "kd_lang", "value": lang, "url": platform.base_url}])
    page = context.new_page()
    try:
        for name, path in PAGES.items():
            page.goto(platform.base_url + path)
            expect(page.locator("html")).to_have_attribute("lang", lang)
            shot = f"{lang}-{width}-{name}"
            assert_accessible(page, shot, None)
            page.screenshot(path=str(folder / f"{shot}.png"), full_page=True)
            assert no_horizontal_scroll(page) <= 0, shot
        # The form with its errors: the summary links to the field, and that is axe-clean too.
        page.goto(platform.base_url + PAGES["feedback"])
        page.locator("#in-reply_to").fill("kein-at")
        page.get_by_role("button", name=re.compile("Rückmeldung senden|Send feedback")).click()
        summary = page.locator(".error-summary")
        expect(summary).to_be_visible()
        assert summary.locator("a").count() == 2
        assert_accessible(page, f"{lang}-{width}-feedback-errors", None)
        page.screenshot(path=str(folder / f"{lang}-{width}-feedback-errors.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize(
    ("lang", "footer", "report", "send", "thanks"),
    [
        ("de", "Barrierefreiheit", "Barriere melden", "Rückmeldung senden", "Vielen Dank"),
        ("en", "Accessibility", "Report a barrier", "Send feedback", "Thank you"),
    ],
)
def test_a_barrier_is_reported_from_the_footer_without_javascript(
    browser: Browser,
    platform: Platform,
    lang: str,
    footer: str,
    report: str,
    send: str,
    thanks: str,
) -> None:
    context = browser.new_context(java_script_enabled=False, locale="de-DE")
    context.add_cookies([{"name": "kd_lang", "value": lang, "url": platform.base_url}])
    page = context.new_page()
    try:
        page.goto(platform.base_url + "/services/hundesteuer-anmeldung")
        page.locator("footer").get_by_role("link", name=footer, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Erklärung zur Barrierefreiheit" if lang == "de" else "Accessibility statement"
        )
        expect(page.locator("main")).to_contain_text("Ombudsstelle")
        page.get_by_role("link", name=report).click()
        page.get_by_role("button", name=send).click()
        # Nothing typed: the error summary links to the message field.
        link = page.locator(".error-summary a")
        expect(link).to_have_attribute("href", "#in-message")
        page.locator("#in-message").fill("Die Karte auf der Seite hat keine Textalternative.")
        page.get_by_role("button", name=send).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(thanks)
    finally:
        context.close()


def test_life_situation_filters_work_without_javascript(
    browser: Browser, platform: Platform
) -> None:
    context = browser.new_context(
        java_script_enabled=False, locale="de-DE", viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    try:
        page.goto(platform.base_url + "/")
        cards = page.locator(".catalogue .card-title a")
        titles = cards.all_inner_texts()
        assert len(titles) == len(set(titles)) >= 7, titles
        page.get_by_role("link", name=re.compile("^Tiere")).click()
        expect(page.locator(".catalogue .card-title a")).to_have_count(1)
        expect(page.locator(".catalogue .card-title a")).to_have_text("Hundesteuer – Hund anmelden")
        expect(page.get_by_role("link", name=re.compile("^Tiere"))).to_have_attribute(
            "aria-current", "true"
        )
        page.get_by_role("link", name=re.compile(r"^Alle \(")).click()
        expect(page.locator(".catalogue .card-title a")).to_have_count(len(titles))
    finally:
        context.close()


def test_404_in_english_offers_a_way_on(page: Page, platform: Platform) -> None:
    page.context.add_cookies([{"name": "kd_lang", "value": "en", "url": platform.base_url}])
    page.goto(platform.base_url + "/services/hundesteuer")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.locator("main")).not_to_contain_text("Unknown service")
    page.get_by_role("link", name=re.compile("Dog tax|Hundesteuer")).first.click()
    expect(page).to_have_url(re.compile("/services/hundesteuer-anmeldung$"))


def test_login_goes_straight_into_the_application_and_a_second_start_asks(
    page: Page, platform: Platform
) -> None:
    page.goto(platform.base_url + "/services/meldebescheinigung")
    page.get_by_role("link", name="Anmelden und Antrag starten").click()
    page.get_by_label("Mehmet Aydın").check()
    page.get_by_role("button", name="Anmelden").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(
        re.compile("Diese Angaben liegen der Verwaltung schon vor|Sie haben diesen Antrag schon")
    )
    page.goto(platform.base_url + "/services/meldebescheinigung")
    expect(
        page.get_by_role("heading", name="Sie haben diesen Antrag schon angefangen")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Neuen Antrag starten")).to_be_visible()
    page.goto(platform.base_url + "/services/meldebescheinigung/start")
    continue_link = page.get_by_role("link", name=re.compile("Weitermachen mit dem Entwurf"))
    expect(continue_link.first).to_be_visible()
    assert_accessible(page, "start-choice")
    continue_link.first.click()
    expect(page).to_have_url(re.compile(r"/applications/[0-9a-f]{32}"))
    # Leave Mehmet as the other browser tests expect him: without drafts of this service.
    page.goto(platform.base_url + "/services/meldebescheinigung")
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    for href in set(
        page.locator('main a[href^="/applications/"]').evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
    ):
        gone = page.request.post(
            platform.base_url + href + "/delete", form={"csrf_token": token or ""}
        )
        assert gone.ok, href
