"""Each real service in services/, applied for in Chromium the way a citizen does it.

Per service one persona whose register data leads to an approval (or, for the Mängelmelder,
a handover): log in, confirm the data the registers hold, answer only the open questions,
check the answers, submit with the button that names the action, and see the decision with
its amount and the notice. axe-core checks every page type on the way; screenshots land in
test-artifacts/service-<slug>/. The personas are not used for the same service by any other
browser test, so every test runs on its own data.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from backend.definitions.constraints import local_today
from tests.conftest import ROOT, Platform
from tests.e2e.portal import (
    answer,
    assert_accessible,
    login_as,
    press_and_wait,
    wait_for_decision,
)

CHECK_HEADING = "Prüfen Sie Ihre Angaben"
HELD_HEADING = "Diese Angaben liegen der Verwaltung schon vor"
IBAN = "DE02 1203 0000 0000 2020 51"


@dataclass(frozen=True)
class ServiceJourney:
    """One service from the citizen's side: who applies, what they see and answer, what they get."""

    service: str
    title: str
    persona: str
    held: tuple[str, ...]
    """Texts the held-data page shows from the registers (the citizen only confirms them)."""
    from_registers: bool = True
    """False when the registers deliver nothing (a person they do not know)."""
    held_absent: tuple[str, ...] = ()
    """Texts the held-data page must not show."""
    answers: dict[str, str] = field(default_factory=dict)
    """Field id → what the citizen types or picks; only questions no register answers."""
    left_empty: tuple[str, ...] = ()
    """Optional questions the citizen skips."""
    submit: str = ""
    """The submit button's name on the check page."""
    decision: tuple[str, ...] = ()
    """Texts of the decision shown on the confirmation page (outcome, reasons, amounts)."""
    document: str | None = None
    document_contains: tuple[str, ...] = ()


def _dmy(day: date) -> str:
    return day.strftime("%d.%m.%Y")


class Walk:
    """Screenshots and an axe check for every page of one journey, numbered in order."""

    def __init__(self, page: Page, artifacts: Path, service: str) -> None:
        self.page = page
        self.artifacts = artifacts
        self.service = service
        self.folder = artifacts / f"service-{service}"
        self.folder.mkdir(exist_ok=True)
        self.count = 0

    def look(self, name: str, *, axe: bool = True) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)
        if axe:
            assert_accessible(self.page, f"{self.service}-{self.count:02d}-{name}")


def _start(page: Page, platform: Platform, walk: Walk, journey: ServiceJourney) -> None:
    """From the start page's catalogue to the service page and the first step of the draft."""
    page.goto(platform.base_url + "/")
    page.locator(".catalogue").get_by_role("link", name=journey.title, exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(journey.title)
    walk.look("service")
    press_and_wait(page, page.get_by_role("button", name="Antrag starten"))


def _complete(page: Page, walk: Walk, journey: ServiceJourney) -> None:
    """Held data, the question pages (via the task list when there is one), up to the check page.

    Every answer must find its question; a question the journey has no answer for fails the
    test, so a register that stops delivering a value shows up here."""
    unanswered = set(journey.answers)
    held_seen = False
    for _ in range(20):
        heading = page.get_by_role("heading", level=1).inner_text()
        if heading == CHECK_HEADING:
            break
        if page.locator(".task-list").count():
            walk.look("tasklist")
            open_tasks = page.locator(".task").filter(has_not_text=re.compile("Erledigt"))
            link = open_tasks.locator("a.task-name").first
            assert link.count(), "the task list has nothing left to do"
            press_and_wait(page, link)
            continue
        if heading == HELD_HEADING:
            held_seen = True
            main = page.locator("main")
            for text in journey.held:
                expect(main).to_contain_text(text)
            # Lists from a register (vehicles, children) read as text, never as a Python repr.
            expect(main).not_to_contain_text("{'")
            for text in journey.held_absent:
                expect(main).not_to_contain_text(text)
            walk.look("held")
        else:
            walk.look("topic")
            for control in page.locator("main [id^='in-']:not([id*='-hint'])").all():
                control_id = control.get_attribute("id") or ""
                field_id = control_id.removeprefix("in-")
                if re.search(r"-(\d+|hint|limits|format|error|current)$", field_id):
                    continue
                if field_id == "remark":
                    continue
                assert field_id in journey.answers or field_id in journey.left_empty, (
                    f"{journey.service}: the portal asks for {field_id!r}, which the journey "
                    "does not expect (a register should know it)"
                )
        for field_id in list(unanswered):
            if page.locator(f"#in-{field_id}").count():
                answer(page, field_id, journey.answers[field_id])
                unanswered.discard(field_id)
        press_and_wait(page, page.get_by_role("button", name="Weiter", exact=True))
    else:
        raise AssertionError("the application never reached the check page")
    assert held_seen, "the held data was never shown for confirmation"
    assert not unanswered, f"never asked: {sorted(unanswered)}"


def _check_and_submit(page: Page, walk: Walk, journey: ServiceJourney) -> str:
    """The check page shows register data and own answers apart; submit names the action."""
    expect(page.get_by_role("heading", name="Aus Registern")).to_have_count(
        1 if journey.from_registers else 0
    )
    if journey.answers:
        expect(page.get_by_role("heading", name="Ihre Angaben", exact=True)).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("{'")
    walk.look("check")
    page.get_by_role("button", name=journey.submit, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Antrag eingegangen")
    reference = page.locator(".reference").first.inner_text()
    assert re.fullmatch(r"KD-\d{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", reference), reference
    return reference


def _pdf_text(page: Page, link_name: str, target: Path) -> str:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name, exact=True).first.click()
    info.value.save_as(target)
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)


def _expect_decision(page: Page, walk: Walk, journey: ServiceJourney, reference: str) -> None:
    region = page.locator("[data-case-region]")
    for text in journey.decision:
        expect(region).to_contain_text(text)
    if journey.document:
        link = region.get_by_role("link", name=journey.document, exact=True)
        expect(link).to_be_visible()
        # Line breaks of the PDF's layout are not part of the text.
        text = " ".join(_pdf_text(page, journey.document, walk.folder / "dokument.pdf").split())
        assert reference in text
        for expected in journey.document_contains:
            assert expected in text, f"{expected!r} missing in the {journey.document}"


SIMPLE: dict[str, Callable[[], ServiceJourney]] = {
    "hundesteuer-anmeldung": lambda: ServiceJourney(
        service="hundesteuer-anmeldung",
        title="Hundesteuer – Hund anmelden",
        persona="Jonas Schneider",
        held=("Venloer Straße", "210", "50823", "Aus dem Melderegister"),
        answers={
            "hundename": "Luna",
            "rasse": "Andere, nicht gelistete Rasse",
            "rasse_bezeichnung": "Dackel",
            "haltungsbeginn": _dmy(local_today() - timedelta(days=12)),
            "weitere_hunde": "1",
        },
        submit="Hund anmelden",
        # A tax is festgesetzt, not granted (issue 20).
        decision=(
            "Die Steuer oder Abgabe wurde festgesetzt.",
            "Steuerklasse weiterer Hund",
            "180,00",
            "45,00",
        ),
        document="Hundesteuerbescheid",
        document_contains=("Luna", "180,00", "45,00", "15. Februar"),
    ),
    "kindergeld": lambda: ServiceJourney(
        service="kindergeld",
        title="Kindergeld",
        persona="Sophie Becker",
        held=(
            "Mia Becker",
            "Körnerstraße",
            "Aus dem Personenstandsregister",
            "Aus dem Melderegister",
        ),
        answers={"anderer_elternteil_beantragt_nicht": "Ja", "iban": IBAN},
        submit="Kindergeld beantragen",
        decision=("Ihr Antrag wurde bewilligt.", "259,00"),
        document="Kindergeldbescheid",
        document_contains=("Mia", "259,00", "automatisiert erlassen (§ 155 Abs. 4 AO"),
    ),
    "elterngeld": lambda: ServiceJourney(
        service="elterngeld",
        title="Elterngeld",
        persona="Sophie Becker",
        held=("Mia Becker", "2.480,00", "Aus dem Einkommensregister"),
        answers={
            "ab_lebensmonat": "1",
            "anzahl_monate": "12",
            "betreuung_selbst": "Ja",
            "selbststaendig": "Nein",
            "iban": IBAN,
        },
        submit="Elterngeld beantragen",
        decision=("Ihr Antrag wurde bewilligt.", "65", "1.612,00"),
        document="Elterngeldbescheid",
        document_contains=(
            "Mia",
            "65,00 %",
            "1.612,00",
            "19.344,00",
            "automatisiert erlassen (§ 31a SGB X)",
        ),
    ),
    "einmalzahlung-studierende": lambda: ServiceJourney(
        service="einmalzahlung-studierende",
        title="Einmalzahlung für Studierende",
        persona="Lukas Fischer",
        held=("Universität zu Köln", "Informatik", "Aus dem Hochschulregister"),
        answers={"iban": IBAN},
        submit="Einmalzahlung für Studierende beantragen",
        decision=("Ihr Antrag wurde bewilligt.", "200,00"),
        document="Bescheid über die Einmalzahlung",
        document_contains=("200,00", "Fischer"),
    ),
}


def test_every_real_service_has_a_journey_here() -> None:
    """A new service in services/ needs its journey in this file (the Meldebescheinigung's is
    in test_journeys.py)."""
    services = {p.parent.name for p in (ROOT / "services").glob("*/service.yaml")}
    covered = {*SIMPLE, "anwohnerparkausweis", "maengelmelder", "meldebescheinigung"}
    assert services - covered == set(), f"add a journey for {sorted(services - covered)}"


@pytest.mark.parametrize("slug", SIMPLE, ids=list(SIMPLE))
def test_service_journey(page: Page, platform: Platform, artifacts: Path, slug: str) -> None:
    journey = SIMPLE[slug]()
    walk = Walk(page, artifacts, slug)
    login_as(page, platform, journey.persona)
    _start(page, platform, walk, journey)
    _complete(page, walk, journey)
    reference = _check_and_submit(page, walk, journey)
    wait_for_decision(page)
    walk.look("confirmation")
    _expect_decision(page, walk, journey, reference)
    page.get_by_role("link", name="Zum Antrag").click()
    decided = "festgesetzt" if slug == "hundesteuer-anmeldung" else "bewilligt"
    expect(page.locator(".timeline")).to_contain_text(f"Entschieden: {decided}")
    walk.look("case")


def test_parking_permit_paid_on_the_providers_page(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    """Petra has two vehicles: she names one, pays the fee and gets the permit with its plate."""
    journey = ServiceJourney(
        service="anwohnerparkausweis",
        title="Anwohnerparkausweis",
        persona="Petra Lange",
        held=(
            "Moltkestraße",
            "Aus dem Geodatenregister",
            "Belgisches Viertel",
            "Aus dem Kfz-Zulassungsregister",
            "K-PL 815, M1, Škoda, 03.06.2019; K-PL 4410, N1, Renault, 15.02.2021",
        ),
        # Two vehicles are a choice, not a gap in the register: no warning, no clerk.
        held_absent=("Einige Angaben konnten wir nicht abrufen", "Sachbearbeiter"),
        answers={"kennzeichen": "K-PL 4410 (Renault)"},
        submit="Anwohnerparkausweis beantragen",
        decision=("Ihr Antrag wurde bewilligt.",),
        document="Bewohnerparkausweis",
        document_contains=("K-PL 4410", "K-12"),
    )
    walk = Walk(page, artifacts, journey.service)
    login_as(page, platform, journey.persona)
    _start(page, platform, walk, journey)
    _complete(page, walk, journey)
    reference = _check_and_submit(page, walk, journey)

    pay = page.get_by_role("link", name=re.compile(r"^Jetzt 100,00\s€ bezahlen$"))
    expect(pay).to_be_visible(timeout=30_000)
    expect(page.locator(".fee-table")).to_contain_text("Gebühr für den Bewohnerparkausweis")
    walk.look("payment-due")
    pay.click()
    expect(page).to_have_url(re.compile("/sandbox/payments/checkout/"))
    expect(page.locator("body")).to_contain_text("100,00")
    walk.look("provider", axe=False)  # the provider's own page, not ours
    page.get_by_role("button", name=re.compile("Jetzt bezahlen")).click()

    expect(page).to_have_url(re.compile(r"/cases/[0-9a-f]{32}$"))
    wait_for_decision(page)
    expect(page.locator(".timeline")).to_contain_text("Zahlung eingegangen")
    walk.look("case")
    _expect_decision(page, walk, journey, reference)


def test_waste_report_is_handed_over_with_a_photo(
    page: Page, platform: Platform, artifacts: Path, tmp_path: Path
) -> None:
    """Tomasz is not in the Melderegister: he types his name, reports the waste with a photo,
    and sees the report handed over to the Ordnungsamt's Fachverfahren."""
    photo = tmp_path / "muell.jpg"
    login_as(page, platform, "Tomasz Nowak")
    # A real JPEG from the browser itself: the portal recognises types by their first bytes.
    photo.write_bytes(page.screenshot(type="jpeg", quality=60))
    journey = ServiceJourney(
        service="maengelmelder",
        title="Mängelmelder – illegale Müllablagerung melden",
        persona="Tomasz Nowak",
        held=("Familienname: Das Register hat dazu keine Angabe.",),
        from_registers=False,
        answers={
            "familienname": "Nowak",
            "vornamen": "Tomasz",
            "fundort_strasse": "Ehrenstraße 4",
            "fundort_plz": "50672",
            "kategorie": "Elektrogeräte",
            "beschreibung": "Ein alter Kühlschrank neben dem Glascontainer.",
            "foto": str(photo),
        },
        left_empty=("breitengrad", "laengengrad"),
        submit="Meldung absenden",
    )
    walk = Walk(page, artifacts, journey.service)
    _start(page, platform, walk, journey)
    _complete(page, walk, journey)
    expect(page.locator("main")).to_contain_text("muell.jpg")
    _check_and_submit(page, walk, journey)
    # Handed over, the page stops saying "we are checking it, usually within a minute".
    wait_for_decision(page)
    region = page.locator("[data-case-region]")
    expect(region).to_contain_text("an das zuständige Amt übermittelt")
    expect(region).to_contain_text("etwa drei Werktage bis zur Beseitigung")
    expect(region).not_to_contain_text("weniger als eine Minute")
    walk.look("confirmation")
    page.get_by_role("link", name="Zum Antrag").click()
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("An das Fachverfahren der Behörde übergeben")
    expect(page.locator("main")).to_contain_text("muell.jpg")
    # The Fachverfahren answers with a signed status callback; the reporter sees it.
    for _ in range(30):
        if "Von der Behörde angenommen" in timeline.inner_text():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(timeline).to_contain_text("Von der Behörde angenommen")
    walk.look("case")
