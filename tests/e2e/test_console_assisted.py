"""A clerk takes an application at the counter in Chromium and prints the certificate; every
counter page passes axe-core."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from sandbox.personas import persona_by_id
from tests.conftest import Platform
from tests.e2e.portal import assert_accessible
from tests.e2e.test_console_impact import console_login


def test_counter_application_to_printed_certificate(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    erika = persona_by_id("erika")
    assert erika is not None and erika.idnr is not None and erika.birthdate is not None
    console_login(page, platform, "Sabine Krüger", "/console/assisted")
    expect(page.get_by_role("heading", level=1)).to_have_text("Antrag am Schalter")
    assert_accessible(page, "console-assisted-start", artifacts)

    page.get_by_role("button", name="Antrag beginnen").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(page, "console-assisted-errors", artifacts)

    page.get_by_label("Dienst").select_option("meldebescheinigung")
    page.get_by_label("Identifikationsnummer (§ 139b AO)").fill(erika.idnr)
    page.get_by_label("Familienname").fill(erika.family_name)
    page.get_by_label("Vorname(n)").fill(erika.given_name)
    # A birth date that is not the one the Melderegister holds: refused, the field named.
    page.get_by_label("Geburtsdatum").fill("13.08.1964")
    page.get_by_role("button", name="Antrag beginnen").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Geburtsdatum: stimmt nicht mit dem Melderegister")
    assert_accessible(page, "console-assisted-mismatch", artifacts)

    page.get_by_label("Identifikationsnummer (§ 139b AO)").fill(erika.idnr)
    page.get_by_label("Geburtsdatum").fill(erika.birthdate.strftime("%d.%m.%Y"))
    page.get_by_label("Art des Ausweises").select_option("personalausweis")
    page.get_by_label("Ausweisnummer").fill("L01X00T47")
    page.get_by_label("Ausstellende Behörde").fill("Stadt Köln")
    page.get_by_role("button", name="Antrag beginnen").click()
    expect(page.get_by_text("Heidestraße")).to_be_visible()
    assert_accessible(page, "console-assisted-draft", artifacts)

    page.get_by_role("button", name="Antrag abschicken").click()
    expect(page.get_by_test_id("reference")).to_have_text(re.compile(r"^KD-\d{4}-"))
    for _attempt in range(30):
        if page.get_by_role("link", name="Meldebescheinigung").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    link = page.get_by_role("link", name="Meldebescheinigung")
    expect(link).to_be_visible()
    assert_accessible(page, "console-assisted-done", artifacts)
    response = page.request.get(platform.base_url + (link.get_attribute("href") or ""))
    assert response.ok and response.body().startswith(b"%PDF")
