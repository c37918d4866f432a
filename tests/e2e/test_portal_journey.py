"""A citizen logs in, confirms held data, submits and downloads the certificate, in Chromium."""

from __future__ import annotations

import io
import re
from pathlib import Path

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.conftest import Platform


def login_as(page: Page, platform: Platform, persona_name: str) -> None:
    page.goto(platform.base_url + "/")
    page.get_by_role("link", name="Anmelden").click()
    page.get_by_label(persona_name).check()
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()


def test_meldebescheinigung_from_login_to_pdf(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    login_as(page, platform, "Erika Mustermann")
    page.get_by_role("link", name="Meldebescheinigung").click()
    page.get_by_role("button", name="Antrag starten").click()

    # Held data is shown read-only with its source; nothing to retype.
    expect(
        page.get_by_role("heading", name="Diese Angaben liegen der Verwaltung schon vor")
    ).to_be_visible()
    expect(page.locator("#f-familienname")).to_contain_text("Mustermann")
    expect(page.locator("#f-familienname")).to_contain_text("Melderegister")
    expect(page.locator("#f-geburtsdatum")).to_contain_text("12.08.1964")
    expect(page.locator("input[name^='answer__']")).to_have_count(0)
    page.screenshot(path=str(artifacts / "01-confirm.png"), full_page=True)
    page.get_by_role("button", name="Weiter").click()

    expect(page.get_by_role("heading", name="Prüfen Sie Ihre Angaben")).to_be_visible()
    page.screenshot(path=str(artifacts / "02-check.png"), full_page=True)
    page.get_by_role("button", name="Meldebescheinigung beantragen").click()

    expect(page.locator("#case-status")).to_have_text("entschieden", timeout=20_000)
    expect(page.get_by_text("Ihr Antrag wurde bewilligt.")).to_be_visible()
    reference = page.locator(".reference").inner_text()
    assert re.fullmatch(r"KD-\d{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", reference)
    page.screenshot(path=str(artifacts / "03-decided.png"), full_page=True)

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("Meldebescheinigung.*PDF")).click()
    pdf_path = artifacts / "meldebescheinigung.pdf"
    info.value.save_as(pdf_path)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_path.read_bytes())).pages)
    assert "Mustermann" in text
    assert reference in text


def test_portal_switches_to_english(page: Page, platform: Platform) -> None:
    page.goto(platform.base_url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Online services of your administration"
    )
