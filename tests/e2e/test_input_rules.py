"""Input rules from the definition in a real browser (issue 21, item 4), in German and English,
with and without JavaScript: a waste report needs a place in Köln, a dog's start date is read
as typed (1.3.25) and an impossible one is named; every error page is axe-clean
(checked where scripts run: axe is one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Platform
from tests.e2e.portal import answer, assert_accessible, login_as, press_and_wait

TEXTS = {
    "de": {
        "start": "Antrag starten",
        "continue": "Weiter",
        "where": "Wo liegt der Müll?",
        "done": "Erledigt",
        "place": "Geben Sie Straße und Postleitzahl an oder, wenn es keine Anschrift gibt, "
        "Breiten- und Längengrad.",
        "longitude": "Längengrad (z. B. 6.9583)",
        "far": "Längengrad (z. B. 6.9583): Geben Sie eine Zahl von 6,76 bis 7,17 ein. Das "
        "Ordnungsamt Köln kann nur Meldungen aus dem Kölner Stadtgebiet bearbeiten.",
        "latitude": "Breitengrad (z. B. 50.9413)",
        "dog": "Ihr Hund",
        "since": "Hund gehalten seit",
        "february": "Hund gehalten seit: Den 31. Februar gibt es nicht.",
        "breed": "Mischling (keine gelistete Rasse)",
    },
    "en": {
        "start": "Start application",
        "continue": "Continue",
        "where": "Where is the waste?",
        "done": "Completed",
        "place": "Give the street and postcode or, if there is no address, the latitude and "
        "longitude.",
        "longitude": "Longitude (e.g. 6.9583)",
        "far": "Longitude (e.g. 6.9583): Enter a number from 6.76 to 7.17. The Cologne "
        "Ordnungsamt can only handle reports from within the city of Cologne.",
        "latitude": "Latitude (e.g. 50.9413)",
        "dog": "Your dog",
        "since": "Dog kept since",
        "february": "Dog kept since: There is no 31 February.",
        "breed": "Mixed breed (no listed breed)",
    },
}
PERSONAS = {
    ("de", True): "Erika Mustermann",
    ("de", False): "Jonas Schneider",
    ("en", True): "Katrin Schulz",
    ("en", False): "Bernd Krause",
}


def _errors(page: Page) -> list[str]:
    return page.locator(".error-summary li").all_inner_texts()


def _start(page: Page, platform: Platform, service: str, text: dict[str, str]) -> None:
    page.goto(f"{platform.base_url}/services/{service}")
    # With a draft left by an earlier test the button starts a new one ("Neuen Antrag starten").
    page.get_by_role(
        "button", name=re.compile(f"^(Neuen |New )?{text['start']}$|^Start a new application$")
    ).click()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("lang", ["de", "en"])
def test_input_rules_in_the_browser(
    browser: Browser, platform: Platform, artifacts: Path, lang: str, javascript: bool
) -> None:
    text = TEXTS[lang]
    context = browser.new_context(java_script_enabled=javascript, locale="de-DE", bypass_csp=True)
    context.add_cookies([{"name": "kd_lang", "value": lang, "url": platform.base_url}])
    page = context.new_page()
    name = f"rules-{lang}-{'js' if javascript else 'nojs'}"
    login_as(page, platform, PERSONAS[(lang, javascript)])

    # A waste report with no place at all: the page is not done, the summary says what to give.
    _start(page, platform, "maengelmelder", text)
    page.get_by_role("link", name=text["where"], exact=True).click()
    continue_button = page.get_by_role("button", name=text["continue"], exact=True)
    press_and_wait(page, continue_button)
    assert any(message.endswith(text["place"]) for message in _errors(page)), _errors(page)
    expect(page).to_have_title(re.compile("^(Fehler|Error): "))
    if javascript:  # axe itself runs as a script
        assert_accessible(page, f"{name}-place", artifacts)

    # A longitude of 999 is refused with the city's range and why; what was typed stays.
    page.get_by_label(text["latitude"]).fill("50.9413")
    page.get_by_label(text["longitude"]).fill("999")
    press_and_wait(page, continue_button)
    assert text["far"] in _errors(page), _errors(page)
    expect(page.get_by_label(text["longitude"])).to_have_value("999")
    page.get_by_label(text["longitude"]).fill("6.9583")
    press_and_wait(page, continue_button)
    expect(page.locator(".task", has_text=text["where"])).to_contain_text(text["done"])

    # Dates: 31 February is named as impossible; 1.3.25 is the first of March 2025.
    _start(page, platform, "hundesteuer-anmeldung", text)
    dog_task = page.get_by_role("link", name=text["dog"], exact=True)
    dog_task.click()
    answer(page, "hundename", "Bello")
    answer(page, "rasse", text["breed"])
    answer(page, "rasse_bezeichnung", "Labrador")
    page.get_by_label(text["since"]).fill("31.02.2025")
    press_and_wait(page, continue_button)
    assert _errors(page) == [text["february"]]
    if javascript:
        assert_accessible(page, f"{name}-date", artifacts)
    page.get_by_label(text["since"]).fill("1.3.25")
    press_and_wait(page, continue_button)
    expect(page.locator(".task", has_text=text["dog"])).to_contain_text(text["done"])
    dog_task.click()
    expect(page.get_by_label(text["since"])).to_have_value("01.03.2025")
    context.close()
