"""Issue 21 items 2, 3 and 5 in the browser: the session timeout warns and keeps what was typed,
the check page never submits what it does not show, and the citizen is told what happens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from backend.columns import utcnow
from backend.db import build_engine, unit_of_work
from backend.login.models import PortalSession
from knopfdruck.app import create_app
from tests.conftest import Platform
from tests.e2e.portal import assert_accessible, login_as
from tests.livesrv import free_port, serve_in_thread

IBAN = "DE02 1203 0000 0000 2020 51"
OTHER_IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture(scope="module")
def short_session(platform: Platform) -> Iterator[Platform]:
    """The same platform with a one-minute idle timeout that warns 50 seconds before: the
    dialog comes after about ten seconds instead of 28 minutes."""
    port = free_port()
    settings = platform.settings.model_copy(
        update={
            "base_url": f"http://127.0.0.1:{port}",
            # Derived from base_url when settings are built; a copy must name its own IdP.
            "oidc_issuer": f"http://127.0.0.1:{port}/sandbox/idp",
            "session_idle_minutes": 1,
            "session_warning_seconds": 50,
            "worker_in_process": False,
        }
    )
    with serve_in_thread(create_app(settings), port) as base:
        yield Platform(base, settings)


START_BUTTON = re.compile(
    "^(Antrag starten|Neuen Antrag starten|Start application|Start a new application)$"
)
"""The start button, also when an earlier test left a draft (then it starts a new one)."""


def _start_lastenrad(page: Page, platform: Platform, persona: str) -> str:
    """Start the Lastenrad application; returns the application's URL."""
    login_as(page, platform, persona)
    page.goto(platform.base_url + "/services/lastenrad-zuschuss")
    page.get_by_role("button", name=START_BUTTON).click()
    match = re.search(r"/applications/[0-9a-f]{32}", page.url)
    assert match, page.url
    return platform.base_url + match.group(0)


def _fill_lastenrad(page: Page, application: str) -> None:
    page.goto(application + "/held")
    page.get_by_role("button", name="Weiter", exact=True).click()
    page.goto(application + "/topics/rad")
    page.locator("#f-antrieb").get_by_label("Nur mit Muskelkraft", exact=True).check()
    page.locator("#f-gewerblich").get_by_label("Nein", exact=True).check()
    page.get_by_role("button", name="Weiter", exact=True).click()
    page.goto(application + "/topics/kauf")
    page.locator("#in-kaufpreis").fill("1.000,00")
    page.locator("#in-kaufdatum").fill("05.11.2026")
    page.locator("#in-rechnung").set_input_files(
        str(Path(__file__).parent / "fixtures" / "rechnung.pdf")
    )
    page.get_by_role("button", name="Weiter", exact=True).click()
    page.goto(application + "/topics/auszahlung")
    page.locator("#in-iban").fill(IBAN)
    page.get_by_role("button", name="Weiter", exact=True).click()
    page.goto(application + "/check")


def test_the_dialog_warns_extends_and_what_was_typed_survives_the_end(
    page: Page, short_session: Platform, artifacts: Path
) -> None:
    application = _start_lastenrad(page, short_session, "Jonas Schneider")
    page.goto(application + "/topics/auszahlung")
    note = page.locator("#session-note")
    expect(note).to_contain_text("nach 1 Minute")
    page.locator("#in-iban").fill(IBAN)
    dialog = page.get_by_role("alertdialog", name="Sie werden bald abgemeldet")
    expect(dialog).to_be_visible(timeout=20_000)
    stay = dialog.get_by_role("button", name="Angemeldet bleiben")
    expect(stay).to_be_focused()
    expect(dialog.locator("[data-relogin]")).to_be_hidden()
    expect(dialog.locator("[data-countdown]")).to_have_text(re.compile(r"^0:[0-5]\d$"))
    assert_accessible(page, "session-dialog-de", artifacts)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    # Focus goes back where the citizen was typing.
    expect(page.locator("#in-iban")).to_be_focused()
    # Nothing more happens: the session ends in the tab and on the server.
    expired = page.get_by_role("alertdialog", name="Sie wurden abgemeldet")
    expect(expired).to_be_visible(timeout=75_000)
    relogin = expired.get_by_role("link", name="Wieder anmelden")
    expect(relogin).to_be_focused()
    assert_accessible(page, "session-expired-dialog-de", artifacts)
    relogin.click()
    page.get_by_label("Jonas Schneider").check()
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(re.compile(r"/topics/auszahlung$"))
    expect(page.locator("#in-iban")).to_have_value(IBAN)
    expect(page.get_by_role("status")).to_contain_text("wieder eingesetzt")
    # Put back once: a reload shows the draft as stored.
    page.reload()
    expect(page.locator("#in-iban")).to_have_value("")


def test_a_post_after_the_end_keeps_the_input_for_after_the_login(
    page: Page, short_session: Platform
) -> None:
    application = _start_lastenrad(page, short_session, "Sophie Becker")
    page.goto(application + "/topics/auszahlung")
    page.locator("#in-iban").fill(IBAN)
    engine = build_engine(short_session.settings.database_url)
    with unit_of_work(engine) as session:
        session.exec(update(PortalSession).values(last_seen=utcnow() - timedelta(minutes=5)))  # type: ignore[call-overload]
    engine.dispose()
    page.get_by_role("button", name="Weiter", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sie wurden abgemeldet")
    expect(page.locator("main")).to_contain_text("nach 1 Minute ohne Aktivität")
    expect(page.locator("[data-kept-note]")).to_be_visible()
    page.get_by_role("link", name="Wieder anmelden").click()
    page.get_by_label("Sophie Becker").check()
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(re.compile(r"/topics/auszahlung$"))
    expect(page.locator("#in-iban")).to_have_value(IBAN)


def test_the_dialog_in_english(page: Page, short_session: Platform, artifacts: Path) -> None:
    application = _start_lastenrad(page, short_session, "Lukas Fischer")
    page.goto(short_session.base_url + "/lang/en?next=/cases")
    page.goto(application + "/topics/auszahlung")
    expect(page.locator("#session-note")).to_contain_text("after 1 minute")
    dialog = page.get_by_role("alertdialog", name="You will soon be signed out")
    expect(dialog).to_be_visible(timeout=20_000)
    expect(dialog.get_by_role("button", name="Stay signed in")).to_be_focused()
    assert_accessible(page, "session-dialog-en", artifacts)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts / "session-dialog-en-390.png"))
    overflow = page.evaluate("() => document.getElementById('session-dialog').scrollWidth - 390")
    assert overflow <= 0, overflow
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_without_javascript_the_end_of_the_session_is_on_the_page(
    browser: Browser, short_session: Platform, artifacts: Path
) -> None:
    for lang, text in (
        ("de", r"Ohne Aktivität melden wir Sie um \d\d:\d\d Uhr ab"),
        ("en", r"at \d\d:\d\d"),
    ):
        context = browser.new_context(java_script_enabled=False, locale="de-DE")
        page = context.new_page()
        login_as(page, short_session, "Jonas Schneider")
        if lang == "en":
            page.goto(short_session.base_url + "/lang/en?next=/cases")
        page.goto(short_session.base_url + "/cases")
        expect(page.locator("#session-note")).to_contain_text(re.compile(text))
        expect(page.locator("#session-dialog")).to_be_hidden()
        page.screenshot(path=str(artifacts / f"session-note-nojs-{lang}.png"))
        context.close()


def test_two_tabs_the_first_submits_nothing_it_did_not_show(
    browser: Browser, platform: Platform, artifacts: Path
) -> None:
    for js in (True, False):
        context = browser.new_context(java_script_enabled=js, locale="de-DE", bypass_csp=True)
        first = context.new_page()
        application = _start_lastenrad(first, platform, "Jonas Schneider")
        _fill_lastenrad(first, application)
        expect(first.get_by_role("heading", level=1)).to_have_text("Prüfen Sie Ihre Angaben")
        expect(first.locator("main")).to_contain_text("DE02")
        # The check page names the fee (or that there is none) before the button.
        expect(first.get_by_role("heading", name="Kosten")).to_be_visible()
        second = context.new_page()
        second.goto(application + "/topics/auszahlung?return=check")
        second.locator("#in-iban").fill(OTHER_IBAN)
        second.get_by_role("button", name=re.compile("Weiter|Speichern und zurück")).first.click()
        first.get_by_role("button", name="Zuschuss für ein Lastenrad beantragen").click()
        alert = first.locator("#draft-changed")
        expect(alert).to_contain_text("Ihre Angaben wurden inzwischen geändert")
        changed = first.locator(".summary-row.is-changed")
        expect(changed).to_have_count(1)
        expect(changed).to_contain_text("IBAN")
        expect(changed).to_contain_text("DE89")
        if js:  # axe runs as a script: the page without JavaScript is the same HTML
            assert_accessible(first, "check-changed", artifacts)
        first.get_by_role("button", name="Zuschuss für ein Lastenrad beantragen").click()
        expect(first.get_by_role("heading", level=1)).to_have_text("Antrag eingegangen")
        context.close()


def test_two_tabs_in_english(browser: Browser, platform: Platform) -> None:
    context = browser.new_context(locale="en-GB", bypass_csp=True)
    first = context.new_page()
    application = _start_lastenrad(first, platform, "Sophie Becker")
    _fill_lastenrad(first, application)
    first.goto(
        platform.base_url + "/lang/en?next=" + application.split(platform.base_url)[1] + "/check"
    )
    second = context.new_page()
    second.goto(application + "/topics/auszahlung?return=check")
    second.locator("#in-iban").fill(OTHER_IBAN)
    second.locator("form[data-keep] button[type=submit]").first.click()
    first.locator("form[action$='/submit'] button[type=submit]").click()
    expect(first.locator("#draft-changed")).to_contain_text("Your answers have changed")
    expect(first.locator(".summary-row.is-changed .changed-tag")).to_have_text("changed")
    context.close()


def test_a_30_mb_upload_is_named_on_the_form(
    browser: Browser, platform: Platform, tmp_path: Path, artifacts: Path
) -> None:
    big = tmp_path / "scan.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (30 * 1024 * 1024))
    for js in (False, True):
        context = browser.new_context(java_script_enabled=js, locale="de-DE", bypass_csp=True)
        page = context.new_page()
        application = _start_lastenrad(page, platform, "Sophie Becker")
        page.goto(application + "/topics/kauf")
        page.locator("#in-kaufpreis").fill("1.000,00")
        page.locator("#in-rechnung").set_input_files(str(big))
        page.get_by_role("button", name="Weiter", exact=True).click()
        summary = page.locator(".error-summary")
        expect(summary).to_contain_text("Die Datei für „Rechnung“ ist größer als 5 MB")
        expect(page.get_by_role("heading", level=1)).not_to_have_text("Die Datei ist zu groß")
        # The other answers of the page are kept.
        expect(page.locator("#in-kaufpreis")).to_have_value(re.compile(r"^1\.000(,00)?$"))
        if js:
            assert_accessible(page, "upload-30mb", artifacts)
        context.close()
