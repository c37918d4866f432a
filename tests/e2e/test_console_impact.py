"""A supervisor checks a fee change before it goes live: in Chromium, on the console's pages,
which pass axe-core in German and English."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import Platform
from tests.e2e.portal import assert_accessible
from tests.integration.enginekit import FEE_SERVICE, submit, wait_for_status
from tests.integration.test_console_kpis_http import console_api

LIVE_FEE = "value: 36.00"


def console_login(page: Page, platform: Platform, persona_name: str, start: str) -> None:
    """Log in through the sandbox IdP as a clerk would, landing on a console page."""
    page.goto(f"{platform.base_url}/console/login?next={start}")
    page.get_by_label(persona_name).check()
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("button", name=re.compile("Abmelden|Sign out"))).to_be_visible()


def test_impact_of_a_changed_fee(page: Page, platform: Platform, artifacts: Path) -> None:
    live = (Path(platform.settings.services_dir) / FEE_SERVICE / "service.yaml").read_text()
    dearer = live.replace(LIVE_FEE, "value: 41.50")
    boss = console_api(platform, "supervisor-buergeramt")
    baseline = boss.post("/impact", json={"service": FEE_SERVICE, "definition": dearer})
    assert baseline.status_code == 200, baseline.text
    already = baseline.json()["changed"]

    citizen = platform.api("erika")
    for copies in (1, 2, 4):
        wait_for_status(
            citizen, submit(citizen, FEE_SERVICE, answers={"anzahl": copies}), {"awaiting_payment"}
        )
    rejected = submit(citizen, FEE_SERVICE, answers={"anzahl": 12})
    wait_for_status(citizen, rejected, {"decided", "notified"})

    console_login(page, platform, "Martin Hoffmann", "/console/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Übersicht")
    expect(page.locator("#kpi-table")).to_contain_text("Amtliche Beglaubigung")
    assert_accessible(page, "console-dashboard", artifacts)

    page.get_by_role("link", name="Wirkungsanalyse").click()
    page.get_by_label("Geltende Definition laden als Ausgangspunkt").select_option(FEE_SERVICE)
    page.get_by_role("button", name="Laden", exact=True).click()
    draft = page.get_by_label("Entwurf der Definition (service.yaml)")
    expect(draft).to_have_value(re.compile(re.escape(LIVE_FEE)))
    assert_accessible(page, "console-impact-form", artifacts)

    # A broken draft is refused with its line, and the page stays accessible.
    draft.fill(live.replace("fields.anzahl >= 1", "fields.anzahl >= "))
    page.get_by_role("button", name="Analyse starten").click()
    expect(page.locator(".error-summary")).to_contain_text("entwurf/service.yaml:")
    assert_accessible(page, "console-impact-invalid", artifacts)

    page.get_by_label("Entwurf der Definition (service.yaml)").fill(dearer)
    page.get_by_label("Dienst", exact=True).select_option(FEE_SERVICE)
    page.get_by_role("button", name="Analyse starten").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ergebnis der Wirkungsanalyse")
    expect(page.get_by_test_id("changed")).to_have_text(str(already + 3))
    expect(page.locator("#impact-rules")).to_contain_text("gebuehr")
    expect(page.locator("#impact-cases")).to_contain_text("gebuehr: 166.00")  # 4 × 41.50
    assert_accessible(page, "console-impact-result", artifacts)

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Impact analysis before a rule change"
    )
    assert_accessible(page, "console-impact-form-en", artifacts)
    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Overview")
    assert_accessible(page, "console-dashboard-en", artifacts)
