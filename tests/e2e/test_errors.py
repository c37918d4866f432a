"""When something goes wrong the citizen is told what happened and what to do next."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Platform
from tests.e2e.portal import assert_accessible, login_as


@pytest.fixture
def melderegister_down(platform: Platform) -> Iterator[str]:
    faults = f"{platform.base_url}/sandbox/registries/melderegister/faults"
    httpx.put(faults, json={"down": True}, timeout=10).raise_for_status()
    try:
        yield faults
    finally:
        httpx.delete(faults, timeout=10).raise_for_status()


def test_registry_down_the_citizen_can_type_or_ask_again(
    page: Page, platform: Platform, artifacts: Path, melderegister_down: str
) -> None:
    login_as(page, platform, "Mehmet Aydın")
    page.goto(platform.base_url + "/services/meldebescheinigung")
    page.get_by_role("button", name="Antrag starten").click()
    warning = page.locator(".warning")
    expect(warning).to_contain_text("Einige Angaben konnten wir nicht abrufen")
    expect(warning).to_contain_text("Das Register war nicht erreichbar.")
    assert_accessible(page, "held-registry-down", artifacts)

    # The register is back: asking again fills the values in, with their source.
    httpx.delete(melderegister_down, timeout=10).raise_for_status()
    page.get_by_role("button", name="Noch einmal abrufen").click()
    expect(page.locator(".warning")).to_have_count(0)
    expect(page.locator("#f-familienname")).to_contain_text("Aydın")


def test_registry_down_values_are_typed_on_the_next_page(
    page: Page, platform: Platform, melderegister_down: str
) -> None:
    login_as(page, platform, "Claudia Richter")
    page.goto(platform.base_url + "/services/meldebescheinigung")
    page.get_by_role("button", name="Antrag starten").click()
    page.get_by_role("button", name="Weiter", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Angaben")
    expect(page.locator("#f-familienname")).to_contain_text(
        "Konnte nicht aus dem Register abgerufen werden"
    )
    expect(page.get_by_label("Familienname")).to_be_editable()


def test_file_too_large_is_reported_at_once_and_by_the_server(
    page: Page, platform: Platform, tmp_path: Path
) -> None:
    big = tmp_path / "gross.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024 + 100))
    login_as(page, platform, "Sophie Becker")
    page.goto(platform.base_url + "/services/lastenrad-zuschuss")
    page.get_by_role("button", name="Antrag starten").click()
    page.get_by_role("link", name="Kauf", exact=True).click()
    page.get_by_label("Rechnung").set_input_files(str(big))
    # With JavaScript the message comes before anything is sent ...
    expect(
        page.get_by_text("Die Datei ist zu groß. Bitte wählen Sie eine kleinere Datei.")
    ).to_be_visible()
    expect(page.get_by_label("Rechnung")).to_have_attribute("aria-invalid", "true")
    # ... and the server says it again in its own words when the form is sent anyway.
    page.get_by_role("button", name="Weiter", exact=True).click()
    expect(page.locator(".error-summary")).to_contain_text(
        "Die Datei für „Rechnung“ ist größer als 5 MB"
    )


def test_not_found_and_someone_elses_application_look_the_same(
    page: Page, platform: Platform
) -> None:
    login_as(page, platform, "Jonas Schneider")
    page.goto(platform.base_url + "/cases/" + "0" * 32)
    expect(page.get_by_role("heading", level=1)).to_have_text("Seite nicht gefunden")
    expect(page.locator("main")).to_contain_text("Diesen Vorgang gibt es nicht.")
    expect(page.locator("main")).not_to_contain_text("Case not found")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.locator("main")).to_contain_text("Case not found.")


def test_expired_session_asks_to_log_in_again_and_returns(page: Page, platform: Platform) -> None:
    login_as(page, platform, "Lukas Fischer")
    page.context.add_cookies(
        [{"name": "kd_session", "value": "vergessen", "url": platform.base_url}]
    )
    page.goto(platform.base_url + "/my-data")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sie wurden abgemeldet")
    page.get_by_role("link", name="Wieder anmelden").click()
    page.get_by_label("Lukas Fischer").check()
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(re.compile(r"/my-data$"))
