"""WCAG 2.2 AA: axe-core finds nothing on any page; keyboard use, skip link, visible focus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.conftest import Platform
from tests.e2e.portal import assert_accessible, login_as
from tests.e2e.tour import anonymous_pages, error_pages, full_tour

PAGES_AT_LEAST = 40


def test_every_page_passes_axe(
    browser: Browser, browser_context_args: dict[str, Any], platform: Platform, artifacts: Path
) -> None:
    seen: list[str] = []
    folder = artifacts / "axe"
    folder.mkdir(exist_ok=True)

    def visit(page: Page, name: str) -> None:
        assert_accessible(page, name, folder)
        seen.append(name)

    full_tour(browser, browser_context_args, platform, visit, "Bernd Krause")
    assert len(seen) >= PAGES_AT_LEAST, seen
    assert len(set(seen)) == len(seen), "two tour stops share a name"


def _focused(page: Page) -> dict[str, Any]:
    info: dict[str, Any] = page.evaluate(
        """() => { const e = document.activeElement; const s = getComputedStyle(e);
        const r = e.getBoundingClientRect();
        return {tag: e.tagName, id: e.id, text: (e.innerText || '').trim(),
                background: s.backgroundColor, outline: s.outlineStyle, shadow: s.boxShadow,
                visible: r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0}; }"""
    )
    return info


def test_keyboard_only_skip_link_and_visible_focus(page: Page, platform: Platform) -> None:
    page.goto(platform.base_url + "/")
    page.keyboard.press("Tab")
    first = _focused(page)
    assert first["text"] == "Zum Inhalt springen"
    assert first["visible"], "the skip link must show when focused"
    assert first["background"] == "rgb(255, 221, 0)"
    page.keyboard.press("Enter")
    assert _focused(page)["id"] == "main"

    page.keyboard.press("Tab")
    link = _focused(page)
    assert link["tag"] == "INPUT" and link["id"] == "search-q"
    assert link["outline"] != "none" or link["shadow"] != "none"
    page.keyboard.type("Meldebescheinigung")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Meldebescheinigung")


def test_keyboard_only_application(page: Page, platform: Platform) -> None:
    """Dispute a held value and submit, using nothing but the keyboard."""
    login_as(page, platform, "Paul Lange")
    page.goto(platform.base_url + "/services/meldebescheinigung")
    page.get_by_role("button", name="Antrag starten").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Diese Angaben liegen der Verwaltung schon vor"
    )
    summary = page.locator("#f-geburtsort summary")
    summary.focus()
    assert _focused(page)["background"] == "rgb(255, 221, 0)"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert _focused(page)["id"] == "dispute-geburtsort"
    page.keyboard.type("Ich bin in Bonn geboren.")
    page.get_by_role("button", name="Weiter", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text(
        "Von Ihnen als falsch gemeldet: Ich bin in Bonn geboren."
    )
    page.get_by_role("button", name="Meldebescheinigung beantragen").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Antrag eingegangen")
    # A disputed value goes to a person instead of being decided by the machine.
    expect(page.locator("[data-case-region]")).to_contain_text(
        "Eine Sachbearbeiterin oder ein Sachbearbeiter prüft Ihren Antrag", timeout=20_000
    )
    assert_accessible(page, "confirmation-referred")


def test_error_summary_links_move_focus_to_the_field(page: Page, platform: Platform) -> None:
    login_as(page, platform, "Lukas Fischer")
    page.goto(platform.base_url + "/services/lastenrad-zuschuss")
    page.get_by_role("button", name="Antrag starten").click()
    page.get_by_role("link", name="Ihr Lastenrad", exact=True).click()
    page.get_by_role("button", name="Weiter", exact=True).click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    summary.get_by_role("link").first.click()
    expect(page.locator("#in-antrieb")).to_be_focused()


def test_english_pages_pass_axe(
    browser: Browser, browser_context_args: dict[str, Any], platform: Platform, artifacts: Path
) -> None:
    folder = artifacts / "axe-en"
    folder.mkdir(exist_ok=True)
    context = browser.new_context(**browser_context_args)
    context.add_cookies([{"name": "kd_lang", "value": "en", "url": platform.base_url}])
    page = context.new_page()

    def visit(page: Page, name: str) -> None:
        expect(page.locator("html")).to_have_attribute("lang", "en")
        assert_accessible(page, name, folder)

    anonymous_pages(page, platform, visit)
    error_pages(page, platform, visit, lang="en")
    context.close()
