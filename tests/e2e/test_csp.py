"""The portal's own script runs under its strict Content-Security-Policy (no bypass here)."""

from __future__ import annotations

from playwright.sync_api import Browser, ConsoleMessage, expect

from tests.conftest import Platform
from tests.e2e.portal import JOURNEYS, complete_steps, login_as, start_application, submit


def test_case_page_updates_itself_under_the_csp(browser: Browser, platform: Platform) -> None:
    context = browser.new_context(locale="de-DE")  # bypass_csp stays False
    page = context.new_page()
    problems: list[str] = []

    def collect(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", collect)
    page.on("pageerror", lambda error: problems.append(str(error)))
    journey = JOURNEYS["meldebescheinigung"]
    login_as(page, platform, "Jonas Schneider")
    start_application(page, platform, journey)
    complete_steps(page, journey)
    response_csp = page.request.get(platform.base_url + "/").headers["content-security-policy"]
    assert "script-src 'self'" in response_csp and "unsafe-inline" not in response_csp
    submit(page, journey)
    url_before = page.url
    page.evaluate("() => { window.__notReloaded = true; }")
    # The decision arrives without a reload: the script swapped the status region in place.
    expect(page.get_by_text(journey.outcome_text)).to_be_visible(timeout=30_000)
    assert page.evaluate("() => window.__notReloaded === true")
    assert page.url == url_before
    expect(page.locator("[data-announce]")).not_to_have_text("")
    assert problems == [], problems
    context.close()
