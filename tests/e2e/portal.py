"""What the browser tests share: logging in, running a service's journey, checking a page.

A journey describes one service from a citizen's point of view: who applies, what they
answer on each question page, which files they upload, and what they get back. Adding a
service to services/ means adding its journey to JOURNEYS; test_journeys.py insists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

from tests.conftest import ROOT, Platform

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Journey:
    """One service applied for end to end, as a citizen would."""

    service: str
    title: str
    """The service's German title, as the catalogue shows it."""
    persona: str
    """The persona's name on the sandbox IdP's login page."""
    answers: dict[str, str] = field(default_factory=dict)
    """Field id → what the citizen types, picks (option label) or uploads (file name in
    tests/e2e/fixtures), page by page in the order the portal asks."""
    outcome_text: str = "Ihr Antrag wurde bewilligt."
    decided: str = "Entschieden: bewilligt"
    """The timeline's entry: a certificate is ausgestellt, a tax festgesetzt (issue 20)."""
    document: str | None = None
    """Title of the document the decision issues, if any."""
    document_contains: tuple[str, ...] = ()


JOURNEYS: dict[str, Journey] = {
    "meldebescheinigung": Journey(
        service="meldebescheinigung",
        title="Meldebescheinigung",
        persona="Erika Mustermann",
        outcome_text="Ihre Bescheinigung wurde ausgestellt.",
        decided="Entschieden: ausgestellt",
        document="Meldebescheinigung",
        document_contains=("Mustermann", "Heidestraße"),
    ),
    "lastenrad-zuschuss": Journey(
        service="lastenrad-zuschuss",
        title="Zuschuss für ein Lastenrad",
        persona="Jonas Schneider",
        answers={
            "antrieb": "Mit Elektromotor",
            "gewerblich": "Nein",
            "kaufpreis": "3.499,00",
            "kaufdatum": "02.11.2026",
            "haendler": "Radhaus Ehrenfeld",
            "rechnung": "rechnung.pdf",
            "iban": "DE02 1203 0000 0000 2020 51",
        },
        document="Zuwendungsbescheid Lastenrad",
        document_contains=("874,75",),
    ),
}


def login_as(page: Page, platform: Platform, persona: str, start: str = "/") -> None:
    """Log in through the sandbox IdP's page, as a citizen clicks through it."""
    page.goto(platform.base_url + start)
    page.get_by_role("link", name=re.compile("^(Anmelden|Sign in)$")).first.click()
    page.get_by_label(persona).check()
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("button", name=re.compile("Abmelden|Sign out"))).to_be_visible()


def press_and_wait(page: Page, button: Locator) -> None:
    """Press a form's button and wait until the next page has loaded.

    A click only waits for the navigation to start; code that reads the page without
    auto-waiting (`.all()`, `.count()`, `inner_text()`) could otherwise see the old page."""
    with page.expect_navigation(wait_until="load"):
        button.click()


def answer(page: Page, field_id: str, value: str) -> None:
    """Fill one question the way its widget wants: type, pick an option, or choose a file."""
    control = page.locator(f"#in-{field_id}")
    kind = control.get_attribute("type")
    if kind == "radio":
        page.locator(f"#f-{field_id}").get_by_label(value, exact=True).check()
    elif kind == "file":
        control.set_input_files(str(FIXTURES / value))
    else:
        control.fill(value)


def fill_current_page(page: Page, journey: Journey) -> None:
    for field_id, value in journey.answers.items():
        if page.locator(f"#in-{field_id}").count():
            answer(page, field_id, value)


def start_application(page: Page, platform: Platform, journey: Journey) -> None:
    page.goto(platform.base_url + "/")
    catalogue = page.locator(".catalogue")
    catalogue.get_by_role("link", name=journey.title, exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(journey.title)
    # An earlier test may have left a draft: then the button starts a new one explicitly.
    page.get_by_role("button", name=re.compile("^(Neuen )?Antrag starten$")).click()


def complete_steps(page: Page, journey: Journey, *, on_page: Any = None) -> None:
    """Go through held data, the question pages (via the task list when there is one) and
    stop on the check page. `on_page(page)` runs on every page, e.g. an accessibility check."""
    for _ in range(20):
        if on_page is not None:
            on_page(page)
        heading = page.get_by_role("heading", level=1).inner_text()
        if heading in ("Prüfen Sie Ihre Angaben", "Check your answers before you apply"):
            return
        tasks = page.locator(".task a.task-name")
        if page.locator(".task-list").count():
            open_tasks = page.locator(".task").filter(has_not_text=re.compile("Erledigt|Completed"))
            link = open_tasks.locator("a.task-name").first
            if link.count() == 0 or tasks.count() == 0:
                raise AssertionError("task list has nothing left to do")
            link.click()
            continue
        fill_current_page(page, journey)
        page.get_by_role("button", name=re.compile("^(Weiter|Continue)$")).click()
    raise AssertionError("the application never reached the check page")


def submit(page: Page, journey: Journey) -> str:
    """Submit from the check page and wait for the decision; returns the reference."""
    page.get_by_role("button", name=f"{journey.title} beantragen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Antrag eingegangen")
    reference = page.locator(".reference").first.inner_text()
    assert re.fullmatch(r"KD-\d{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", reference), reference
    return reference


def wait_for_decision(page: Page, *, refresh: bool = False, timeout_s: float = 30) -> None:
    """With JavaScript the page updates itself; without, the citizen follows the refresh link."""
    settled = page.locator("[data-case-region]:not([data-poll])")
    if not refresh:
        expect(settled).to_have_count(1, timeout=timeout_s * 1000)
        return
    for _ in range(int(timeout_s * 2)):
        if settled.count():
            return
        page.wait_for_timeout(500)
        page.get_by_role("link", name=re.compile("Status aktualisieren|Refresh status")).click()
    raise AssertionError("the case was not decided in time")


def assert_accessible(page: Page, name: str, artifacts: Path | None = None) -> None:
    """axe-core, from the npm registry, finds no WCAG 2.2 A/AA or best-practice violation."""
    assert AXE.exists(), f"{AXE} is missing: run `npm ci --no-audit --no-fund` (scripts/test does)"
    # A click that navigates returns before the next page has a document: axe injected then
    # finds no <head> (seen once in CI); wait for the page to load and inject again.
    for attempt in range(3):
        page.wait_for_load_state("load")
        try:
            page.add_script_tag(path=str(AXE))
            break
        except PlaywrightError:
            if attempt == 2:
                raise
            page.wait_for_timeout(250)
    result = page.evaluate(
        """async (tags) => {
          const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
        }""",
        AXE_TAGS,
    )
    if artifacts is not None:
        page.screenshot(path=str(artifacts / f"axe-{name}.png"), full_page=True)
    assert result == [], f"{name} ({page.url}): " + json.dumps(result, indent=1, ensure_ascii=False)


def no_horizontal_scroll(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no sideways scrolling)."""
    overflow: int = page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )
    return overflow
