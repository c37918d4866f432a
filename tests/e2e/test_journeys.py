"""Every service, applied for end to end in Chromium: start page to decision and PDF."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.conftest import Platform
from tests.e2e.portal import (
    JOURNEYS,
    Journey,
    assert_accessible,
    complete_steps,
    login_as,
    start_application,
    submit,
    wait_for_decision,
)


def _pdf_text(page: Page, link_name: str | re.Pattern[str], target: Path) -> str:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).first.click()
    info.value.save_as(target)
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)


@pytest.mark.parametrize("journey", JOURNEYS.values(), ids=list(JOURNEYS))
def test_journey(page: Page, platform: Platform, artifacts: Path, journey: Journey) -> None:
    login_as(page, platform, journey.persona)
    start_application(page, platform, journey)
    shots = artifacts / f"journey-{journey.service}"
    shots.mkdir(exist_ok=True)
    counter = iter(range(100))

    def look(p: Page) -> None:
        p.screenshot(path=str(shots / f"{next(counter):02d}.png"), full_page=True)

    complete_steps(page, journey, on_page=look)
    look(page)
    reference = submit(page, journey)
    wait_for_decision(page)
    expect(page.get_by_text(journey.outcome_text)).to_be_visible()
    look(page)

    receipt = _pdf_text(page, "Eingangsbestätigung", shots / "eingangsbestaetigung.pdf")
    assert "Eingangsbestätigung" in receipt
    assert reference in receipt
    if journey.document:
        text = _pdf_text(page, journey.document, shots / "dokument.pdf")
        assert reference in text
        for expected in journey.document_contains:
            assert expected in text

    page.get_by_role("link", name="Zum Antrag").click()
    expect(page.locator(".timeline")).to_contain_text("Antrag eingegangen")
    expect(page.locator(".timeline")).to_contain_text(journey.decided)
    look(page)
    assert_accessible(page, f"case-{journey.service}")
