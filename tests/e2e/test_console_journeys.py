"""The console in Chromium: a clerk works a referred case from the worklist to the notice; a
supervisor pauses and resumes automation; axe-core finds nothing on any console page."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

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

    page.get_by_label("Grund").select_option("referred")
    page.get_by_label("Sortierung").select_option("newest")
    page.get_by_role("button", name="Filtern").click()
    expect(page).to_have_url(re.compile(r"reason=referred"))
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    # The citizen's correction stands next to the registry value.
    expect(page.locator("tr.corrected")).to_contain_text("Ich bin im Oktober umgezogen.")
    expect(page.get_by_text("Hash-Kette geprüft")).to_be_visible()
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
