"""A walk over every page template of the portal, in every state worth checking.

The accessibility test runs axe-core at each stop, the mobile test checks the width; both
use this one tour, so a new page needs adding only here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from playwright.sync_api import Browser, BrowserContext, Page, Route, expect
from sqlalchemy import create_engine, text
from starlette.requests import Request

from backend.columns import utcnow
from backend.db import normalise_url
from tests.conftest import Platform
from tests.e2e.portal import FIXTURES, login_as, wait_for_decision

Visit = Callable[[Page, str], None]


def _error_page_html(platform: Platform, status: int, message: str, lang: str) -> str:
    """The real error template as the handler renders it, for errors a test cannot cause."""
    from frontend.portal import render_error_page

    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/cases",
            "raw_path": b"/cases",
            "query_string": b"",
            "headers": [(b"cookie", f"kd_lang={lang}".encode())],
            "server": ("127.0.0.1", 80),
            "scheme": "http",
            "root_path": "",
        }
    )
    response = render_error_page(request, status, message)
    return bytes(response.body).decode()


def _serving(status: int, html: str) -> Callable[[Route], None]:
    def serve(route: Route) -> None:
        route.fulfill(status=status, body=html, content_type="text/html; charset=utf-8")

    return serve


def _age_draft(platform: Platform, application_id: str, days: int) -> None:
    """Pretend a draft was last saved `days` ago (the clock cannot be turned in a browser)."""
    engine = create_engine(normalise_url(platform.settings.database_url))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE applications SET updated_at = :at WHERE id = :id"),
            {"at": utcnow() - timedelta(days=days), "id": application_id},
        )
    engine.dispose()


def _application_id(page: Page) -> str:
    match = re.search(r"/applications/([0-9a-f]{32})", page.url)
    assert match, page.url
    return match.group(1)


def anonymous_pages(page: Page, platform: Platform, visit: Visit) -> None:
    base = platform.base_url
    page.goto(base + "/")
    visit(page, "start")
    page.goto(base + "/services")
    visit(page, "a-z")
    page.goto(base + "/services?q=Lastenrad")
    visit(page, "search-found")
    page.goto(base + "/services?q=Steuererkl%C3%A4rung")
    visit(page, "search-nothing")
    page.goto(base + "/services/meldebescheinigung")
    visit(page, "service-anonymous")
    page.goto(base + "/services/lastenrad-zuschuss/trust")
    visit(page, "trust-anonymous")
    page.goto(base + "/gibt-es-nicht")
    visit(page, "404")
    page.goto(base + "/auth/callback?error=access_denied")
    visit(page, "login-cancelled")
    page.goto(base + "/logged-out")
    visit(page, "logged-out")


def error_pages(page: Page, platform: Platform, visit: Visit, lang: str = "de") -> None:
    """Errors a running platform will not produce on request: rendered by the real handler."""
    url = platform.base_url + "/__error-preview"
    for status, name, message in (
        (500, "500", "Etwas ist schiefgegangen. (Something went wrong.)"),
        (
            503,
            "503-registry",
            "Das Melderegister ist nicht erreichbar. (The register is unavailable.)",
        ),
    ):
        page.route(url, _serving(status, _error_page_html(platform, status, message, lang)))
        page.goto(url)
        visit(page, name)
        page.unroute(url)


def application_pages(page: Page, platform: Platform, visit: Visit, persona: str) -> None:
    """A draft through every state: task list, held data with a dispute open, questions with
    and without errors, an upload, saved, check page with errors, deletion, then a full
    submission to the confirmation and case pages, My applications and My data."""
    base = platform.base_url
    login_as(page, platform, persona)
    page.goto(base + "/services/lastenrad-zuschuss")
    visit(page, "service-logged-in")
    page.get_by_role("button", name="Antrag starten").click()
    expect(page.locator(".task-list")).to_be_visible()
    visit(page, "tasklist")
    application = _application_id(page)

    page.get_by_role("link", name="Angaben aus dem Register prüfen").click()
    page.locator("details.dispute summary").first.click()
    visit(page, "held-dispute-open")
    # The browser stops typing at maxlength; the server must refuse a longer text anyway.
    page.evaluate(
        "() => document.querySelectorAll('textarea').forEach(t => t.removeAttribute('maxlength'))"
    )
    page.locator("textarea[name^='dispute__']").first.fill("x" * 1001)
    page.get_by_role("button", name="Weiter", exact=True).click()
    expect(page.locator(".error-summary")).to_be_visible()
    visit(page, "held-error")
    page.locator("textarea[name^='dispute__']").first.fill("")
    page.get_by_role("button", name="Weiter", exact=True).click()

    page.get_by_role("link", name="Ihr Lastenrad", exact=True).click()
    visit(page, "topic-radios")
    page.get_by_role("button", name="Weiter", exact=True).click()
    visit(page, "topic-errors")
    page.get_by_label("Nur mit Muskelkraft").check()
    page.locator("#f-gewerblich").get_by_label("Nein").check()
    page.get_by_role("button", name="Weiter", exact=True).click()

    page.get_by_role("link", name="Kauf", exact=True).click()
    visit(page, "topic-inputs-upload")
    page.get_by_label("Kaufpreis in Euro").fill("1200")
    page.get_by_label("Kaufdatum").fill("1.11.2026")
    page.get_by_label("Rechnung").set_input_files(str(FIXTURES / "rechnung.pdf"))
    page.get_by_role("button", name="Speichern und später weitermachen").click()
    visit(page, "saved")
    page.goto(f"{base}/applications/{application}/topics/kauf")
    visit(page, "topic-uploaded")

    page.goto(f"{base}/applications/{application}/check")
    page.get_by_role("button", name=re.compile("beantragen$")).click()
    expect(page.locator(".error-summary")).to_be_visible()
    visit(page, "check-errors")

    page.goto(base + "/cases")
    visit(page, "cases-with-draft")
    page.goto(f"{base}/applications/{application}/delete")
    visit(page, "delete-draft")

    page.goto(f"{base}/applications/{application}/topics/auszahlung")
    page.get_by_label("IBAN").fill("DE02 1203 0000 0000 2020 51")
    page.get_by_role("button", name="Weiter", exact=True).click()
    page.goto(f"{base}/applications/{application}/check")
    page.locator("details.remark summary").click()
    visit(page, "check-remark-open")
    page.get_by_role("button", name=re.compile("beantragen$")).click()
    visit(page, "confirmation")
    wait_for_decision(page)
    visit(page, "confirmation-decided")
    page.get_by_role("link", name="Zum Antrag").click()
    visit(page, "case")
    case_url = page.url
    page.goto(base + "/mailbox")
    visit(page, "mailbox")
    page.locator(".message a").first.click()
    visit(page, "message")
    page.goto(case_url + "/review")
    visit(page, "action-review")
    # A Meldebescheinigung is no administrative act: the page says there is no remedy.
    page.goto(case_url + "/objection")
    visit(page, "action-objection-none")
    page.goto(base + "/cases")
    visit(page, "cases")
    page.goto(base + "/my-data")
    visit(page, "my-data")
    page.goto(base + "/")
    visit(page, "start-logged-in")

    # A fee to pay before the notice comes.
    page.goto(base + "/services/beglaubigung")
    page.get_by_role("button", name="Antrag starten").click()
    page.get_by_role("button", name="Weiter", exact=True).click()
    page.get_by_label("Anzahl der Kopien").fill("1")
    page.get_by_role("button", name="Weiter", exact=True).click()
    page.get_by_role("button", name=re.compile("beantragen$")).click()
    expect(page.get_by_role("link", name=re.compile("^Jetzt .* bezahlen$"))).to_be_visible(
        timeout=30_000
    )
    visit(page, "payment-due")

    # A draft past its lifetime is gone, with a page that says so.
    page.goto(base + "/services/lastenrad-zuschuss")
    page.get_by_role("button", name="Antrag starten").click()
    old = _application_id(page)
    _age_draft(platform, old, days=31)
    page.goto(f"{base}/applications/{old}")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile("Dieser Entwurf ist abgelaufen|This draft has expired")
    )
    visit(page, "410-draft-expired")

    # A form whose CSRF token does not match is refused with a way back.
    page.goto(base + "/services/lastenrad-zuschuss")
    page.evaluate("() => { document.querySelector('input[name=csrf_token]').value = 'x'; }")
    page.get_by_role("button", name="Antrag starten").click()
    visit(page, "403-csrf")


def low_trust_pages(page: Page, platform: Platform, visit: Visit) -> None:
    login_as(page, platform, "Lena Vogel")
    page.goto(platform.base_url + "/services/meldebescheinigung")
    expect(page.locator(".warning")).to_contain_text("reicht für diesen Dienst nicht aus")
    visit(page, "service-trust-too-low")
    page.get_by_role("link", name="So melden Sie sich sicherer an").click()
    visit(page, "trust-page")


def expired_session(context: BrowserContext, page: Page, platform: Platform, visit: Visit) -> None:
    """A session cookie the server no longer knows: idle too long, or removed."""
    context.add_cookies([{"name": "kd_session", "value": "abgelaufen", "url": platform.base_url}])
    page.goto(platform.base_url + "/cases")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile("Sie wurden abgemeldet|You have been logged out")
    )
    visit(page, "401-session-expired")


def full_tour(
    browser: Browser,
    context_args: dict[str, object],
    platform: Platform,
    visit: Visit,
    persona: str,
) -> None:
    """Every page, each in a fresh context so logins do not leak between parts."""
    for part in ("anonymous", "errors", "application", "low-trust", "expired"):
        context = browser.new_context(**context_args)  # type: ignore[arg-type]
        page = context.new_page()
        if part == "anonymous":
            anonymous_pages(page, platform, visit)
        elif part == "errors":
            error_pages(page, platform, visit)
        elif part == "application":
            application_pages(page, platform, visit, persona)
        elif part == "low-trust":
            low_trust_pages(page, platform, visit)
        else:
            expired_session(context, page, platform, visit)
        context.close()
