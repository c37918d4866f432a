"""After submitting: paying a fee on the provider's page, the mailbox, and the one-click
actions (human review, objection, withdrawal, answering the department's question)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from backend.auth.tokens import Identity
from backend.cases import review
from backend.context import build_context
from sandbox.personas import persona_by_id
from tests.conftest import MailCatcher, Platform
from tests.e2e.portal import assert_accessible, login_as, wait_for_decision


def _case_id(page: Page) -> str:
    match = re.search(r"/cases/([0-9a-f]{32})", page.url)
    assert match, page.url
    return match.group(1)


def _meldebescheinigung(
    page: Page,
    platform: Platform,
    *,
    dispute: str | None = None,
    service: str = "meldebescheinigung",
    title: str = "Meldebescheinigung",
) -> str:
    """Apply for a service whose data all comes from the Melderegister (by default the
    Meldebescheinigung; the objection test uses a Bescheid, since a certificate has no remedy)."""
    page.goto(f"{platform.base_url}/services/{service}")
    page.get_by_role("button", name="Antrag starten").click()
    if dispute:
        page.locator("#f-geburtsort summary").click()
        page.locator("#dispute-geburtsort").fill(dispute)
    page.get_by_role("button", name="Weiter", exact=True).click()
    page.get_by_role("button", name=f"{title} beantragen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Antrag eingegangen")
    return _case_id(page)


def test_fee_is_paid_on_the_providers_page_and_the_notice_follows(
    page: Page, platform: Platform, artifacts: Path
) -> None:
    login_as(page, platform, "Petra Lange")
    page.goto(platform.base_url + "/services?q=Beglaubigung")
    page.get_by_role("link", name="Amtliche Beglaubigung (Testdienst)").click()
    expect(page.locator("main")).to_contain_text("hängt von Ihren Angaben ab")
    page.get_by_role("button", name="Antrag starten").click()
    page.get_by_role("button", name="Weiter", exact=True).click()
    page.get_by_label("Anzahl der Kopien").fill("2")
    page.get_by_role("button", name="Weiter", exact=True).click()
    page.get_by_role("button", name="Amtliche Beglaubigung (Testdienst) beantragen").click()

    pay = page.get_by_role("link", name=re.compile(r"^Jetzt 72,00\s€ bezahlen$"))
    expect(pay).to_be_visible(timeout=30_000)
    expect(page.locator(".fee-table")).to_contain_text("Beglaubigungsgebühr")
    assert_accessible(page, "payment-due", artifacts)
    page.screenshot(path=str(artifacts / "payment-due.png"), full_page=True)
    pay.click()
    expect(page).to_have_url(re.compile("/sandbox/payments/checkout/"))
    page.get_by_role("button", name=re.compile("Jetzt bezahlen")).click()

    # Back from the provider: the notice follows the payment without another click.
    expect(page).to_have_url(re.compile(r"/cases/[0-9a-f]{32}$"))
    wait_for_decision(page)
    expect(page.get_by_text("Ihr Antrag wurde bewilligt.")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Zahlung eingegangen")
    expect(page.get_by_role("link", name="Bescheid über die Beglaubigung")).to_be_visible()
    assert_accessible(page, "payment-done", artifacts)


def test_mailbox_review_and_objection(page: Page, platform: Platform, artifacts: Path) -> None:
    login_as(page, platform, "Sophie Becker")
    case_id = _meldebescheinigung(
        page, platform, service="wohnsitzbescheid", title="Wohnsitzbescheid (Testdienst)"
    )
    wait_for_decision(page)
    page.goto(f"{platform.base_url}/cases/{case_id}")

    # The decision put a message in the mailbox; the header counts it.
    badge = page.locator(".header-nav .badge")
    expect(badge).to_be_visible()
    unread = int(badge.inner_text().split()[0])
    page.get_by_role("link", name=re.compile("^Postfach")).click()
    assert_accessible(page, "mailbox", artifacts)
    page.locator(".message-unread a").first.click()
    expect(page.get_by_role("link", name="Zum Antrag")).to_be_visible()
    assert_accessible(page, "message", artifacts)
    remaining = page.locator(".header-nav .badge")
    if unread == 1:
        expect(remaining).to_have_count(0)
    else:
        expect(remaining).to_contain_text(str(unread - 1))
    page.get_by_role("link", name="Zum Antrag").click()

    # GDPR Art. 22(3): a person reviews the automated decision.
    page.get_by_role("link", name="Überprüfung durch einen Menschen verlangen").click()
    statement = page.get_by_label("Was soll geprüft werden? (freiwillig)")
    expect(statement).to_be_visible()
    assert_accessible(page, "action-review", artifacts)
    statement.fill("Bitte prüfen Sie die Anschrift.")
    page.get_by_role("button", name="Überprüfung verlangen").click()
    expect(page.locator(".notice")).to_contain_text("Überprüfung durch einen Menschen verlangt")
    expect(page.locator(".timeline")).to_contain_text("Überprüfung durch einen Menschen beantragt")
    again = page.get_by_role("link", name="Überprüfung durch einen Menschen verlangen")
    expect(again).to_have_count(0)

    # An objection needs a statement; the error says so and keeps the page.
    page.get_by_role("link", name="Widerspruch einlegen").click()
    page.get_by_role("button", name="Widerspruch einlegen").click()
    expect(page.locator(".error-summary")).to_contain_text("Bitte schreiben Sie kurz")
    assert_accessible(page, "action-objection-error", artifacts)
    page.get_by_label("Warum widersprechen Sie?").fill("Ich wohne seit Mai woanders.")
    page.get_by_role("button", name="Widerspruch einlegen").click()
    expect(page.locator("#case-status, [data-status-label]").first).to_have_text(
        "Widerspruch in Prüfung"
    )
    expect(page.locator("main")).to_contain_text("Widerspruch, eingereicht am")
    assert_accessible(page, "case-objection", artifacts)


def test_withdraw_and_answer_a_question(page: Page, platform: Platform, artifacts: Path) -> None:
    login_as(page, platform, "Mehmet Aydın")
    # A disputed value sends the case to a person; the department then asks a question.
    case_id = _meldebescheinigung(page, platform, dispute="Ich bin in Ankara geboren.")
    expect(page.locator("[data-case-region]")).to_contain_text("prüft Ihren Antrag", timeout=20_000)
    persona = persona_by_id("clerk-buergeramt")
    assert persona is not None
    clerk = Identity(
        sub=persona.sub,
        name=persona.name,
        trust_level=persona.trust_level,
        department=persona.department,
        roles=persona.roles,
    )
    ctx = build_context(platform.settings)
    try:
        # The console's function (a later issue builds its page); the citizen's side is ours.
        review.ask_citizen(ctx, clerk, case_id, "Bitte nennen Sie den Geburtsort laut Ausweis.")
    finally:
        # Playwright's loop runs in this thread; the unused HTTP client closes on its own.
        closer = threading.Thread(target=lambda: asyncio.run(ctx.http.aclose()))
        closer.start()
        closer.join()
        ctx.close()

    page.goto(f"{platform.base_url}/cases/{case_id}")
    expect(page.locator("main")).to_contain_text("Bitte nennen Sie den Geburtsort laut Ausweis.")
    page.get_by_role("link", name="Frage beantworten").click()
    assert_accessible(page, "action-answer", artifacts)
    page.get_by_label("Ihre Antwort").fill("Ankara, Türkei.")
    page.get_by_role("button", name="Antwort senden").click()
    expect(page.locator(".notice")).to_contain_text("Ihre Antwort ist eingegangen")
    expect(page.locator(".timeline")).to_contain_text("Ihre Antwort ist eingegangen")

    # Still undecided: the citizen may take the application back.
    page.get_by_role("link", name="Antrag zurücknehmen").click()
    assert_accessible(page, "action-withdraw", artifacts)
    page.get_by_role("button", name="Antrag zurücknehmen").click()
    expect(page.locator("[data-status-label]")).to_have_text("zurückgenommen")
    expect(page.locator(".timeline")).to_contain_text("Antrag zurückgenommen")
    expect(page.get_by_role("link", name="Antrag zurücknehmen")).to_have_count(0)
    assert_accessible(page, "case-withdrawn", artifacts)
    # Trying again from an old page is refused with an explanation, not an error trace.
    page.goto(f"{platform.base_url}/cases/{case_id}/withdraw")
    expect(page.locator(".warning")).to_contain_text("nicht möglich")


def test_notification_email_is_set_checked_used_and_removed(
    page: Page, platform: Platform, smtp_server: MailCatcher, artifacts: Path
) -> None:
    address = "paul.lange.e2e@example.org"
    login_as(page, platform, "Paul Lange")
    page.goto(platform.base_url + "/mailbox")
    field = page.get_by_label("E-Mail-Adresse", exact=True)
    field.fill("paul at example")
    page.get_by_role("button", name="E-Mail-Adresse speichern").click()
    expect(page.locator(".error-summary")).to_contain_text("name@example.org")
    expect(field).to_have_value("paul at example")
    assert_accessible(page, "mailbox-email-error", artifacts)

    field.fill(address)
    page.get_by_role("button", name="E-Mail-Adresse speichern").click()
    expect(page.locator(".notice")).to_contain_text("ist gespeichert")
    assert address not in page.url  # personal data never in a URL
    expect(page.locator("main")).to_contain_text(address)

    # The decision's message arrives by real SMTP too, with a link and no case content.
    _meldebescheinigung(page, platform)
    wait_for_decision(page)
    deadline = time.monotonic() + 30
    while not smtp_server.to(address) and time.monotonic() < deadline:
        time.sleep(0.2)
    [mail] = smtp_server.to(address)[:1]
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert f"{platform.base_url}/mailbox" in text
    assert "Lange" not in text.replace("Paul Lange", "") and "Meldebescheinigung" not in text

    page.goto(platform.base_url + "/mailbox")
    page.get_by_role("button", name="Keine E-Mails mehr").click()
    expect(page.locator(".notice")).to_contain_text("keine Benachrichtigungen per E-Mail mehr")
    expect(page.get_by_role("button", name="Keine E-Mails mehr")).to_have_count(0)
