"""The console in Chromium: a clerk works a referred case from the worklist to the notice; a
supervisor pauses and resumes automation; axe-core finds nothing on any console page."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.conftest import Platform
from tests.e2e.portal import assert_accessible
from tests.integration.enginekit import referred_case


def console_login(page: Page, platform: Platform, name: str, start: str) -> None:
    """Log in through the sandbox IdP's page, as a clerk clicks through it."""
    page.goto(f"{platform.base_url}/console/login?next={start}")
    page.get_by_label(name).check()
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("button", name=re.compile("Abmelden|Sign out"))).to_be_visible()


def test_clerk_works_a_referred_case_from_worklist_to_notice(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    citizen, case_id = referred_case(platform)
    reference = citizen.get(f"/cases/{case_id}").json()["reference"]
    console_login(page, platform, "Sabine Krüger", "/console/worklist")
    expect(page.get_by_role("heading", level=1)).to_have_text("Arbeitsliste")
    assert_accessible(page, "console-worklist", artifacts)
    # Each row says by when the case should be decided (issue 17, item 4).
    expect(page.get_by_role("columnheader", name="Bearbeitungsziel")).to_be_visible()
    expect(page.get_by_label("Sortierung")).to_have_value("deadline")

    page.get_by_label("Grund").select_option("referred")
    page.get_by_label("Sortierung").select_option("newest")
    page.get_by_role("button", name="Filtern").click()
    expect(page).to_have_url(re.compile(r"reason=referred"))
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    # The citizen's correction stands next to the registry value.
    expect(page.locator("tr.corrected")).to_contain_text("Ich bin im Oktober umgezogen.")
    expect(page.get_by_text("Hash-Kette geprüft")).to_be_visible()
    expect(page.locator("dl.facts").first).to_contain_text("Entscheidung bis")
    assert_accessible(page, "console-case", artifacts)

    page.get_by_role("button", name="Mir zuweisen").click()
    expect(page.get_by_text("Die Zuständigkeit ist geändert.")).to_be_visible()
    page.get_by_label("Bewilligen").check()
    page.get_by_label("Begründung (steht im Bescheid)").fill(
        "Die Anschrift im Melderegister ist aktuell; der gemeldete Umzug ist eingetragen."
    )
    page.get_by_role("button", name="Entscheidung treffen").click()
    expect(
        page.get_by_text("Die Entscheidung ist getroffen und der Bescheid zugestellt.")
    ).to_be_visible()
    expect(page.locator("dl.facts").first).to_contain_text("Bescheid zugestellt")
    expect(page.get_by_role("link", name="Meldebescheinigung")).to_be_visible()
    assert_accessible(page, "console-case-decided", artifacts)
    case = citizen.get(f"/cases/{case_id}").json()
    assert case["status"] == "notified" and case["documents"]

    # The same pages in English.
    page.goto(f"{platform.base_url}/lang/en?next=/console/worklist")
    expect(page.get_by_role("heading", level=1)).to_have_text("Worklist")
    assert_accessible(page, "console-worklist-en", artifacts)
    page.goto(f"{platform.base_url}/console/qa")
    expect(page.get_by_role("heading", level=1)).to_have_text("Quality assurance")
    assert_accessible(page, "console-qa-en", artifacts)
    page.goto(f"{platform.base_url}/lang/de?next=/console/qa")
    assert_accessible(page, "console-qa", artifacts)


def test_supervisor_pauses_and_resumes_automation(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    console_login(page, platform, "Martin Hoffmann", "/console/services")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dienste und Automatisierung")
    assert_accessible(page, "console-services", artifacts)
    section = page.locator("section", has=page.get_by_role("heading", name="Meldebescheinigung"))
    section.get_by_label("Begründung").fill("Fehler in der Vorlage der Bescheinigung")
    section.get_by_role("button", name=re.compile("^Automatisierung anhalten")).click()
    expect(page.get_by_text("Die Automatisierung ist angehalten.")).to_be_visible()
    expect(section.locator(".status-paused")).to_have_text("Angehalten")
    assert_accessible(page, "console-services-paused", artifacts)

    page.goto(f"{platform.base_url}/services/meldebescheinigung")
    expect(
        page.get_by_role("heading", name="Die Bearbeitung dauert zurzeit länger")
    ).to_be_visible()

    page.goto(f"{platform.base_url}/console/services")
    section.get_by_label("Begründung").fill("Vorlage korrigiert")
    section.get_by_role("button", name=re.compile("^Automatisierung fortsetzen")).click()
    expect(page.get_by_text("Die Automatisierung läuft wieder.")).to_be_visible()
    expect(section.locator(".status-running")).to_have_text("Läuft")
    page.goto(f"{platform.base_url}/services/meldebescheinigung")
    expect(page.get_by_role("heading", name="Die Bearbeitung dauert zurzeit länger")).to_have_count(
        0
    )


def test_a_clerk_without_the_supervisor_role_sees_no_switch(page: Page, platform: Platform) -> None:
    console_login(page, platform, "Sabine Krüger", "/console/services")
    expect(page.get_by_role("button", name=re.compile("Automatisierung anhalten"))).to_have_count(0)


def test_a_clerk_finds_a_case_by_keyboard_alone(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    """Search from the header with Tab and Enter only, in German and English, axe-clean."""
    citizen, case_id = referred_case(platform, "sophie")
    reference = citizen.get(f"/cases/{case_id}").json()["reference"]
    console_login(page, platform, "Sabine Krüger", "/console/")
    box = page.get_by_role("searchbox", name="Vorgang suchen")
    for _ in range(30):
        page.keyboard.press("Tab")
        if box.evaluate("el => el === document.activeElement"):
            break
    expect(box).to_be_focused()
    page.keyboard.type("becker")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vorgänge suchen")
    link = page.get_by_role("link", name=reference)
    expect(link).to_be_visible()
    expect(page.locator("table")).to_contain_text("Sophie Becker")
    assert_accessible(page, "console-search", artifacts)
    page.screenshot(path=str(artifacts / "console-search-1280.png"), full_page=True)
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)

    page.goto(f"{platform.base_url}/lang/en?next=/console/search%3Fq%3D{reference[-9:]}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find cases")
    expect(page.get_by_role("link", name=reference)).to_be_visible()
    assert_accessible(page, "console-search-en", artifacts)
    page.goto(f"{platform.base_url}/lang/de?next=/console/")


def test_the_clerks_own_pages_are_accessible_in_both_languages(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    """Absence and substitutes, settings (mail about new work), a case's follow-up and notes."""
    _citizen, case_id = referred_case(platform, "jonas")
    console_login(page, platform, "Sabine Krüger", "/console/absence")
    expect(page.get_by_role("heading", level=1)).to_have_text("Abwesenheit und Vertretung")
    assert_accessible(page, "console-absence", artifacts)
    page.goto(f"{platform.base_url}/console/settings")
    expect(page.get_by_role("heading", level=1)).to_have_text("Einstellungen")
    assert_accessible(page, "console-settings", artifacts)
    page.goto(f"{platform.base_url}/console/cases/{case_id}")
    page.get_by_label("Notiz", exact=True).fill("Rückruf am Montag.")
    page.get_by_role("button", name="Notiz speichern").click()
    expect(page.get_by_text("Die Notiz ist gespeichert.")).to_be_visible()
    expect(page.locator("ul.notes")).to_contain_text("Rückruf am Montag.")
    assert_accessible(page, "console-case-notes", artifacts)
    page.screenshot(path=str(artifacts / "console-case-notes-1280.png"), full_page=True)
    for path, heading in (
        ("/console/absence", "Absence and substitutes"),
        ("/console/settings", "Settings"),
    ):
        page.goto(f"{platform.base_url}/lang/en?next={path}")
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        assert_accessible(page, f"console-{path.rsplit('/', 1)[1]}-en", artifacts)
    page.goto(f"{platform.base_url}/lang/de?next=/console/")


def test_console_pages_fit_a_wide_screen_and_a_laptop(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    """At 1920 and 1280 px the worklist (with its target-date column), a case file, the search
    and the dashboard need no sideways scrolling; screenshots for a person to look at."""
    citizen, case_id = referred_case(platform, "erika")
    reference = citizen.get(f"/cases/{case_id}").json()["reference"]
    console_login(page, platform, "Sabine Krüger", "/console/")
    pages = {
        "worklist": "/console/worklist",
        "case": f"/console/cases/{case_id}",
        "search": f"/console/search?q={reference}",
        "dashboard": "/console/",
    }
    for width in (1920, 1280):
        page.set_viewport_size({"width": width, "height": 1080})
        for name, path in pages.items():
            page.goto(f"{platform.base_url}{path}")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} at {width} px scrolls sideways by {overflow} px"
            page.screenshot(path=str(artifacts / f"console-{name}-{width}.png"), full_page=True)


def _tab_to(page: Page, target: Locator, limit: int = 120) -> None:
    """Press Tab until the target has the focus, as a keyboard user moves through a page."""
    for _ in range(limit):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError("not reachable with the Tab key")


def test_a_clerk_filters_saves_and_decides_by_keyboard_alone(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    """Worklist filter, saved filter and a decision with Tab, arrow keys, Space and Enter."""
    citizen, case_id = referred_case(platform, "jonas")
    reference = citizen.get(f"/cases/{case_id}").json()["reference"]
    console_login(page, platform, "Sabine Krüger", "/console/worklist")
    _tab_to(page, page.get_by_label("Grund"))
    page.keyboard.type("Verwiesen")  # a focused select jumps to the option typed
    expect(page.get_by_label("Grund")).to_have_value("referred")
    # Newest first: earlier tests leave more referred cases than one page holds.
    _tab_to(page, page.get_by_label("Sortierung"))
    page.keyboard.type("Neueste")
    expect(page.get_by_label("Sortierung")).to_have_value("newest")
    _tab_to(page, page.get_by_role("button", name="Filtern"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"reason=referred.*sort=newest"))

    _tab_to(page, page.get_by_label("Aktuellen Filter speichern als"))
    page.keyboard.type(f"Verwiesen, neueste ({reference[-4:]})")  # unique on a rerun
    page.keyboard.press("Enter")
    expect(page.get_by_text("Der Filter ist gespeichert.")).to_be_visible()
    expect(page.get_by_role("link", name=f"Verwiesen, neueste ({reference[-4:]})")).to_be_visible()
    assert_accessible(page, "console-worklist-saved-filter", artifacts)
    page.screenshot(path=str(artifacts / "console-worklist-saved-1280.png"), full_page=True)

    _tab_to(page, page.get_by_role("link", name=reference))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    _tab_to(page, page.get_by_label("Bewilligen"))
    page.keyboard.press("Space")
    expect(page.get_by_label("Bewilligen")).to_be_checked()
    _tab_to(page, page.get_by_label("Begründung (steht im Bescheid)"))
    page.keyboard.type("Die Anschrift im Melderegister ist aktuell; der Umzug ist eingetragen.")
    _tab_to(page, page.get_by_role("button", name="Entscheidung treffen"))
    page.keyboard.press("Enter")
    expect(
        page.get_by_text("Die Entscheidung ist getroffen und der Bescheid zugestellt.")
    ).to_be_visible()
    assert citizen.get(f"/cases/{case_id}").json()["status"] == "notified"
