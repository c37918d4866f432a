"""Issue 21 items 1 and 6 and the 404 page, over real HTTP: legal pages from the operator's config
and the definitions, stored feedback, the start page's filters, a second start, straight in."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape

import httpx
import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from backend.context import connectors_for
from backend.definitions.catalogue import load_catalogue
from backend.definitions.portal import authority_of
from backend.legal.models import Feedback
from tests.conftest import Platform
from tests.integration.portalkit import _HIDDEN, Citizen, log_in
from tests.livesrv import process_env

LEGAL = ("/impressum", "/datenschutz", "/barrierefreiheit", "/leichte-sprache", "/gebaerdensprache")


def _client(platform: Platform, lang: str = "de") -> httpx.Client:
    return httpx.Client(
        base_url=platform.base_url, timeout=30, follow_redirects=False, cookies={"kd_lang": lang}
    )


def _text(html: str) -> str:
    """The page as a reader sees it: no tags, no soft hyphens, single spaces."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).replace("\u00ad", "").split())


def _feedback_rows(platform: Platform) -> list[Feedback]:
    engine = create_engine(platform.settings.database_url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(Feedback).order_by(col(Feedback.created_at))).all())
    finally:
        engine.dispose()


@pytest.mark.parametrize("lang", ["de", "en"])
def test_every_page_links_the_legal_pages_in_its_footer(platform: Platform, lang: str) -> None:
    with _client(platform, lang) as client:
        for path in ("/", "/services/meldebescheinigung", "/services", "/gibtsnicht", *LEGAL):
            page = client.get(path)
            assert page.status_code in (200, 404), path
            footer = page.text.split('<footer class="site-footer">')[1]
            for target in LEGAL:
                assert f'href="{target}"' in footer, (path, target)
            assert 'href="/feedback?page=' in footer
            assert f'<html lang="{lang}">' in page.text


def test_impressum_names_operator_and_every_authority_from_the_definitions(
    platform: Platform,
) -> None:
    with _client(platform) as client:
        page = _text(client.get("/impressum").text)
    portal = platform.settings.portal_config.read_text(encoding="utf-8")
    assert "Stadt Köln" in page and "Bezirksregierung Köln" in portal
    assert "Aufsichtsbehörde Bezirksregierung Köln" in page
    catalogue = load_catalogue(platform.settings.services_dir, connectors_for(platform.settings))
    for definition in catalogue.all():
        name, _address = authority_of(definition, platform.settings.authority_name)
        assert name in page, definition.id
    # Configured: represented, phone, e-mail. The fixture's Teststadt is not: said so plainly.
    assert "familienkasse-nrw-west@arbeitsagentur.example" in page
    assert "Stadt Teststadt – Mobilitätsamt" in page
    assert "Weitere Angaben zu dieser Behörde liegen dem Portal nicht vor" in page


def test_privacy_notice_says_what_each_service_reads_keeps_and_passes_on(
    platform: Platform,
) -> None:
    with _client(platform) as client:
        html = client.get("/datenschutz").text
    catalogue = load_catalogue(platform.settings.services_dir, connectors_for(platform.settings))
    parking = catalogue.get("anwohnerparkausweis")
    section = _text(html.split('id="dienst-anwohnerparkausweis"')[1].split("<h3")[0])
    source = next(f.source for f in parking.fields if f.source is not None)
    assert "Melderegister" in section
    assert source.purpose in section and source.legal_basis in section
    assert f"{parking.retention.days} Tage nach Abschluss" in section
    assert parking.retention.legal_basis in section
    assert parking.writeback and parking.writeback[0].legal_basis in section  # recipient
    assert "Parkausweisregister" in section
    page = _text(html)
    # Controllers: a city office's DPO and supervisor; the federal Familienkasse's are its own.
    familienkasse = _text(html.split('id="familienkasse-nordrhein-westfalen-west"')[-1])
    assert (
        "Datenschutzbeauftragte der Bundesagentur für Arbeit"
        in familienkasse.split("Beschwerde")[0]
    )
    assert "Bundesbeauftragte für den Datenschutz" in familienkasse.split("Beschwerde")[1]
    for article in ("Art. 15", "Art. 16", "Art. 17", "Art. 18", "Art. 20", "Art. 21", "Art. 77"):
        assert article in page
    assert f"nach {platform.settings.session_idle_minutes} Minuten ohne Aktivität" in page
    # Automated decisions name their basis; a service decided by a person says so.
    assert "§ 35a VwVfG" in page


def test_privacy_notice_in_english_names_registers_in_english(platform: Platform) -> None:
    with _client(platform, "en") as client:
        page = _text(client.get("/datenschutz").text)
    assert "Privacy notice" in page and "Datenschutzerklärung" not in page.split("Privacy")[0]
    assert "residents' register (Melderegister)" in page
    assert "Your rights" in page


@pytest.mark.parametrize("lang", ["de", "en"])
def test_accessibility_statement_has_status_gaps_date_feedback_and_enforcement(
    platform: Platform, lang: str
) -> None:
    with _client(platform, lang) as client:
        html = client.get("/barrierefreiheit").text
    page = _text(html)
    if lang == "de":
        assert "teilweise mit den Anforderungen vereinbar" in page
        assert "Zuletzt geprüft 30.11.2026" in page
        assert "Screenreadern" in page  # a known gap from the config
    else:
        assert "partially compliant" in page and "Last checked 30 November 2026" in page
    assert "Ombudsstelle für barrierefreie Informationstechnik" in page
    assert "Schlichtungsstelle nach § 16" in page  # the federal authority's own body
    assert 'href="/feedback?topic=accessibility&amp;page=/barrierefreiheit"' in html


def test_easy_language_and_sign_language_pages_come_from_the_config(platform: Platform) -> None:
    with _client(platform) as client:
        easy = _text(client.get("/leichte-sprache").text)
        sign = _text(client.get("/gebaerdensprache").text)
    with _client(platform, "en") as client:
        easy_en = _text(client.get("/leichte-sprache").text)
    assert "Hier können Sie Anträge bei der Stadt stellen." in easy
    assert "Here you can make applications to the city." in easy_en
    # No videos are shipped, and the page says so instead of pretending.
    assert "Es gibt hier noch keine Videos in Gebärdensprache" in sign


def _form(client: httpx.Client, query: str) -> tuple[str, dict[str, str]]:
    page = client.get(f"/feedback?{query}")
    assert page.status_code == 200
    return page.text, {k: unescape(v) for k, v in _HIDDEN.findall(page.text)}


def test_feedback_is_stored_for_the_services_authority_without_account_or_address(
    platform: Platform,
) -> None:
    before = len(_feedback_rows(platform))
    with _client(platform) as client:
        html, hidden = _form(client, "topic=service&service=hundesteuer-anmeldung&page=/x")
        assert "Stadt Köln – Kämmerei, Steueramt" in _text(html)
        # Nothing written: an empty message, a bad address, a forged token.
        bad = client.post("/feedback", data={**hidden, "topic": "service", "message": "  "})
        assert bad.status_code == 422 and 'href="#in-message"' in bad.text
        bad = client.post(
            "/feedback",
            data={**hidden, "topic": "service", "message": "Gut", "reply_to": "kein@"},
        )
        assert bad.status_code == 422 and 'href="#in-reply_to"' in bad.text
        assert ">Gut</textarea>" in bad.text  # what was typed stays
        forged = client.post("/feedback", data={**hidden, "csrf_token": "x", "message": "Hi"})
        assert forged.status_code == 403
        assert len(_feedback_rows(platform)) == before
        sent = client.post(
            "/feedback",
            data={
                **hidden,
                "topic": "service",
                "rating": "4",
                "message": "Die Steuerberechnung war gut erklärt.",
                "reply_to": "leser@example.org",
            },
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == "/feedback/sent?service=hundesteuer-anmeldung"
        thanks = _text(client.get(sent.headers["location"]).text)
        assert "Vielen Dank für Ihre Rückmeldung" in thanks
    rows = _feedback_rows(platform)
    assert len(rows) == before + 1
    row = rows[-1]
    assert (row.topic, row.service, row.rating) == ("service", "hundesteuer-anmeldung", 4)
    assert row.authority == "Stadt Köln – Kämmerei, Steueramt" and row.page == "/x"
    assert row.reply_to == "leser@example.org" and row.lang == "de"
    # The model has no column for an account or an IP address: nothing to leak.
    assert not {"ip", "citizen_sub", "account"} & set(Feedback.model_fields)


def test_feedback_in_english_refuses_an_outside_page_and_an_oversized_post(
    platform: Platform,
) -> None:
    with _client(platform, "en") as client:
        html, hidden = _form(client, "page=https://evil.example/x")
        assert hidden["page"] == ""  # only a local path is kept
        assert "Feedback on the portal" in _text(html)
        bad = client.post("/feedback", data={**hidden, "topic": "portal", "message": ""})
        assert bad.status_code == 422 and "Write your message." in _text(bad.text)
        before = len(_feedback_rows(platform))
        # Refused before it is read (the platform's text guard or this form's own 64 KB cap).
        huge = client.post("/feedback", data={**hidden, "topic": "portal", "message": "x" * 70_000})
        assert huge.status_code in (413, 422)
        assert len(_feedback_rows(platform)) == before
        ok = client.post(
            "/feedback",
            data={**hidden, "topic": "accessibility", "message": "The map has no text."},
        )
        assert ok.status_code == 303
    row = _feedback_rows(platform)[-1]
    assert row.topic == "accessibility" and row.lang == "en" and row.service is None


def test_feedback_from_an_application_page_does_not_keep_its_id(platform: Platform) -> None:
    application = "0123456789abcdef0123456789abcdef"
    with _client(platform) as client:
        _html, hidden = _form(client, f"page=/applications/{application}/check")
    assert hidden["page"] == "/applications/{id}/check"


def test_footer_feedback_on_a_service_page_is_about_that_service(platform: Platform) -> None:
    with _client(platform) as client:
        html, hidden = _form(client, "page=/services/maengelmelder")
    assert hidden["service"] == "maengelmelder"
    assert 'id="topic-service" name="topic" value="service" checked' in html
    assert "Stadt Köln – Ordnungsamt" in _text(html)


def test_a_logged_in_citizen_posts_feedback_with_the_session_token(platform: Platform) -> None:
    citizen = log_in(platform, "katrin")
    _html, hidden = _form(citizen.client, "topic=portal")
    assert hidden["csrf_token"] == citizen.csrf
    r = citizen.client.post("/feedback", data={**hidden, "topic": "portal", "message": "Danke"})
    assert r.status_code == 303


@pytest.mark.parametrize(
    ("lang", "says", "never"),
    [
        ("de", "Diesen Dienst gibt es nicht.", "Unknown service"),
        ("en", "This service does not exist.", "Unknown service"),
    ],
)
def test_unknown_service_gets_a_404_in_the_citizens_language_with_a_way_on(
    platform: Platform, lang: str, says: str, never: str
) -> None:
    with _client(platform, lang) as client:
        missing = client.get("/services/gibtsnicht")
        assert missing.status_code == 404
        assert says in _text(missing.text) and never not in missing.text
        assert 'action="/services"' in missing.text and 'href="/"' in missing.text
        # A near miss suggests the service that was meant.
        near = client.get("/services/meldebescheinigungen")
        assert near.status_code == 404
        assert 'href="/services/meldebescheinigung"' in near.text.split("<form")[0]
        other = client.get("/dienste/gibtsnicht")
        assert other.status_code == 404 and "Not found." not in other.text
        assert ("Diese Seite gibt es nicht." if lang == "de" else "This page does not exist.") in (
            _text(other.text)
        )


def test_start_page_lists_each_service_once_with_life_situations_as_filters(
    platform: Platform,
) -> None:
    with _client(platform) as client:
        html = client.get("/").text
        catalogue = html.split('id="dienste"')[1].split("</section>")[0]
        cards = re.findall(r'class="card-title"><a href="/services/([a-z-]+)"', catalogue)
        assert len(cards) == len(set(cards)) >= 7
        assert 'href="/?lage=tiere#dienste"' in catalogue
        animals = client.get("/?lage=tiere").text.split('id="dienste"')[1].split("</section>")[0]
        shown = re.findall(r'class="card-title"><a href="/services/([a-z-]+)"', animals)
        assert shown == ["hundesteuer-anmeldung"]
        assert 'href="/?lage=tiere#dienste" aria-current="true"' in animals
        # An unknown filter shows everything instead of an empty page.
        unknown = client.get("/?lage=<script>").text
        assert "<script>" not in unknown.split('id="dienste"')[1]
        assert len(re.findall(r'class="card-title"', unknown)) == len(cards)
        # Long German words get syllable breaks that browsers without a dictionary can use.
        assert "Anwoh\u00adner\u00adparkaus\u00adweis" in html


def _discard_drafts(citizen: Citizen, service: str) -> None:
    page = citizen.get(f"/services/{service}").text
    for draft in set(re.findall(r'href="/applications/([0-9a-f]{32})"', page)):
        assert citizen.post(f"/applications/{draft}/delete").status_code == 303


def test_a_second_start_offers_the_draft_instead_of_making_another(platform: Platform) -> None:
    citizen = log_in(platform, "petra")
    _discard_drafts(citizen, "meldebescheinigung")
    first = citizen.post("/services/meldebescheinigung/start")
    assert first.status_code == 303 and first.headers["location"].startswith("/applications/")
    draft = first.headers["location"].rsplit("/", 1)[1]
    again = citizen.post("/services/meldebescheinigung/start")
    assert again.status_code == 303
    assert again.headers["location"] == "/services/meldebescheinigung/start"
    choice = citizen.get(again.headers["location"])
    assert choice.status_code == 200
    assert "Sie haben diesen Antrag schon angefangen" in choice.text
    assert f'href="/applications/{draft}"' in choice.text
    assert 'name="fresh" value="1"' in choice.text
    # Still one draft; choosing "new" explicitly makes a second.
    service_page = citizen.get("/services/meldebescheinigung").text
    assert len(set(re.findall(r'href="/applications/([0-9a-f]{32})"', service_page))) == 1
    assert "Neuen Antrag starten" in service_page
    fresh = citizen.post("/services/meldebescheinigung/start", {"fresh": "1"})
    assert fresh.status_code == 303 and draft not in fresh.headers["location"]
    _discard_drafts(citizen, "meldebescheinigung")


def test_login_from_a_service_page_goes_straight_into_the_application(
    platform: Platform,
) -> None:
    client = httpx.Client(base_url=platform.base_url, timeout=30, follow_redirects=False)
    service_page = client.get("/services/meldebescheinigung").text
    assert 'href="/login?next=/services/meldebescheinigung/start"' in service_page
    to_idp = client.get("/login", params={"next": "/services/meldebescheinigung/start"})
    form = client.get(to_idp.headers["location"])
    hidden = {k: unescape(v) for k, v in _HIDDEN.findall(form.text)}
    back = client.post(
        f"{platform.base_url}/sandbox/idp/authorize",
        data={**hidden, "persona": "lukas", "action": "login"},
    )
    landed = client.get(back.headers["location"])
    assert landed.status_code == 303
    target = landed.headers["location"]
    token = client.cookies.get("kd_session")
    assert token
    if target.startswith("/services/"):
        # Lukas already had a draft from an earlier run: he is offered it instead.
        assert target == "/services/meldebescheinigung/start"
        assert "Sie haben diesen Antrag schon angefangen" in client.get(target).text
    else:
        assert re.fullmatch(r"/applications/[0-9a-f]{32}", target), target
        page = client.get(target)
        while page.status_code == 303:
            assert page.headers["location"].startswith(target)
            page = client.get(page.headers["location"])
        assert page.status_code == 200
        assert "Diese Angaben liegen der Verwaltung schon vor" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/cases").text)
    assert csrf
    _discard_drafts(Citizen(client, csrf.group(1)), "meldebescheinigung")


def test_login_for_a_service_the_trust_level_does_not_cover_lands_on_the_service(
    platform: Platform,
) -> None:
    client = httpx.Client(base_url=platform.base_url, timeout=30, follow_redirects=False)
    to_idp = client.get("/login", params={"next": "/services/meldebescheinigung/start"})
    form = client.get(to_idp.headers["location"])
    hidden = {k: unescape(v) for k, v in _HIDDEN.findall(form.text)}
    back = client.post(
        f"{platform.base_url}/sandbox/idp/authorize",
        data={**hidden, "persona": "lena", "action": "login"},
    )
    landed = client.get(back.headers["location"])
    assert landed.headers["location"] == "/services/meldebescheinigung"
    page = client.get("/services/meldebescheinigung").text
    assert "Ihre Anmeldung reicht für diesen Dienst nicht aus" in page


def test_stored_feedback_is_read_with_the_cli(platform: Platform) -> None:
    with _client(platform) as client:
        _html, hidden = _form(client, "topic=portal")
        sent = client.post(
            "/feedback", data={**hidden, "topic": "portal", "message": "Lesbar im Terminal"}
        )
        assert sent.status_code == 303
    env = process_env(
        KNOPFDRUCK_DATABASE_URL=platform.settings.database_url,
        KNOPFDRUCK_DATA_DIR=str(platform.settings.data_dir),
        KNOPFDRUCK_SERVICES_DIR=str(platform.settings.services_dir),
        KNOPFDRUCK_BASE_URL=platform.settings.base_url,
    )
    listed = subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", "feedback", "list", "--authority", "Stadt Köln"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows and rows[0]["message"] == "Lesbar im Terminal"
    assert {r["authority"] for r in rows} == {"Stadt Köln"}


def test_register_names_are_english_on_english_pages(platform: Platform) -> None:
    with _client(platform, "en") as client:
        page = _text(client.get("/services/anwohnerparkausweis").text)
        start = _text(client.get("/").text)
    assert "residents' register (Melderegister)" in page
    assert "vehicle register (Kfz-Zulassungsregister)" in page
    assert "Details from the residents' register (Melderegister)" in start
    with _client(platform) as client:
        assert "aus dem Melderegister, Geodatenregister" in _text(
            client.get("/services/anwohnerparkausweis").text
        )
