"""The whole journey with JavaScript switched off: search, task list, mistakes and their
messages, an upload, saving and coming back after logging out, changing an answer from the
check page, submitting, and refreshing until the decision is there."""

from __future__ import annotations

import io
import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from tests.conftest import Platform
from tests.e2e.portal import FIXTURES, login_as, press_and_wait, wait_for_decision

PERSONA = "Katrin Schulz"


def _task(page: Page, name: str) -> None:
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def _errors(page: Page) -> list[str]:
    return page.locator(".error-summary li").all_inner_texts()


def test_lastenrad_without_javascript(
    browser: Browser, platform: Platform, artifacts: Path
) -> None:
    context = browser.new_context(java_script_enabled=False, locale="de-DE")
    page = context.new_page()
    shots = artifacts / "no-js"
    shots.mkdir(exist_ok=True)

    def look(name: str) -> None:
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    login_as(page, platform, PERSONA)
    page.get_by_label("Welchen Dienst suchen Sie?").fill("Lastenräder")
    page.get_by_role("button", name="Suchen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Suchergebnisse für „Lastenräder“")
    page.get_by_role("link", name="Zuschuss für ein Lastenrad").click()
    expect(page.locator("main")).to_contain_text("Höchstens 5 MB")
    page.get_by_role("button", name="Antrag starten").click()

    # Several topics: a task list first. Held data: read-only, with source, nothing to type.
    expect(page.locator(".task")).to_have_count(5)
    look("00-tasklist-new")
    page.get_by_role("link", name="Angaben aus dem Register prüfen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Diese Angaben liegen der Verwaltung schon vor"
    )
    expect(page.locator("#f-familienname")).to_contain_text("Schulz")
    expect(page.locator("main")).to_contain_text("Aus dem Melderegister")
    expect(page.locator("input[name^='answer__']")).to_have_count(0)
    page.get_by_role("button", name="Weiter", exact=True).click()

    # Task list, then a topic page left empty: the error summary names each field.
    expect(page.locator(".task-list")).to_be_visible()
    look("01-tasklist")
    _task(page, "Ihr Lastenrad")
    press_and_wait(page, page.get_by_role("button", name="Weiter", exact=True))
    assert _errors(page) == [
        "Bitte geben Sie „Antrieb“ an.",
        "Bitte geben Sie „Nutzen Sie das Rad für Ihr Gewerbe?“ an.",
    ]
    assert page.locator(".error-summary a").first.get_attribute("href") == "#in-antrieb"
    expect(page).to_have_title(re.compile("^Fehler: "))
    look("02-errors")
    page.get_by_label("Mit Elektromotor").check()
    page.locator("#f-gewerblich").get_by_label("Nein").check()
    page.get_by_role("button", name="Weiter", exact=True).click()
    expect(page.locator(".task", has_text="Ihr Lastenrad")).to_contain_text("Erledigt")

    # Wrong values are kept as typed and explained; a text file named .pdf is refused.
    _task(page, "Kauf")
    page.get_by_label("Kaufpreis in Euro").fill("dreitausend")
    page.get_by_label("Kaufdatum").fill("31.02.2026")
    page.get_by_label("Rechnung").set_input_files(str(FIXTURES / "rechnung-gefaelscht.pdf"))
    press_and_wait(page, page.get_by_role("button", name="Weiter", exact=True))
    errors = _errors(page)
    assert "Die Datei für „Rechnung“ muss ein PDF, JPG oder PNG sein." in errors
    assert "Kaufdatum: Den 31. Februar gibt es nicht." in errors
    assert "Kaufpreis in Euro: Bitte geben Sie einen Betrag wie 12,50 ein." in errors
    assert errors[0].startswith("Kaufpreis")  # in the order of the fields
    expect(page.get_by_label("Kaufdatum")).to_have_value("31.02.2026")
    look("03-wrong-values")
    page.get_by_label("Kaufpreis in Euro").fill("2.400,00")
    page.get_by_label("Kaufdatum").fill("15.10.2026")
    page.get_by_label("Rechnung").set_input_files(str(FIXTURES / "rechnung.pdf"))
    page.get_by_role("button", name="Weiter", exact=True).click()
    expect(page.locator(".task", has_text="Kauf")).to_contain_text("Erledigt")

    # Save and come back later, after logging out.
    _task(page, "Auszahlung")
    page.get_by_label("IBAN").fill("DE02 1203 0000 0000 2020 51")
    page.get_by_role("button", name="Speichern und später weitermachen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Antrag ist gespeichert")
    look("04-saved")
    page.get_by_role("button", name="Abmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sie sind abgemeldet")
    login_as(page, platform, PERSONA)
    page.get_by_role("link", name="Meine Anträge").click()
    drafts = page.locator(".card", has_text="Zuschuss für ein Lastenrad").filter(
        has_text="Wir bewahren den Entwurf bis zum"
    )
    drafts.first.get_by_role("link", name=re.compile("^Weiter bearbeiten")).click()
    expect(page.locator(".task", has_text="Auszahlung")).to_contain_text("Begonnen")
    _task(page, "Auszahlung")
    expect(page.get_by_label("IBAN")).to_have_value("DE02120300000000202051")
    page.get_by_role("button", name="Weiter", exact=True).click()

    # Check your answers: registry data and own answers apart; change one answer.
    page.get_by_role("link", name="Angaben prüfen und absenden").click()
    expect(page.get_by_role("heading", level=2, name="Aus Registern")).to_be_visible()
    expect(page.locator("main")).to_contain_text("2.400,00")
    expect(page.locator("main")).to_contain_text("rechnung.pdf")
    page.get_by_role("link", name=re.compile(r"^Ändern\W+Kaufpreis in Euro$")).click()
    page.get_by_label("Kaufpreis in Euro").fill("4.800")
    page.get_by_role("button", name="Weiter", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Prüfen Sie Ihre Angaben")
    expect(page.locator("main")).to_contain_text("4.800")
    look("05-check")

    page.get_by_role("button", name="Zuschuss für ein Lastenrad beantragen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Antrag eingegangen")
    wait_for_decision(page, refresh=True)
    expect(page.get_by_text("Ihr Antrag wurde bewilligt.")).to_be_visible()
    look("06-decided")
    with page.expect_download() as info:
        page.get_by_role("link", name="Zuwendungsbescheid Lastenrad").click()
    target = shots / "bescheid.pdf"
    info.value.save_as(target)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)
    assert "1.000,00" in text  # a quarter of 4.800 is capped at 1.000 euros
    context.close()
