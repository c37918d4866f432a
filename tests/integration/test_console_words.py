"""Words, not codes (issue 17, item 1): every console page a clerk or supervisor opens, in
German and English, with cases referred for every reason, shows labels and never a raw code:
no snake_case identifier, no UUID, no `clerk:` subject id and no service slug in visible text."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

from backend.cases import incidents
from backend.context import build_context
from backend.definitions.constraints import local_today
from frontend.console import labels
from tests.conftest import Platform
from tests.integration.enginekit import (
    notified_case,
    objection_case,
    referred_case,
    submit,
    wait_for_status,
)
from tests.integration.test_console_isolation import Browser, console_api

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
SUBJECT = re.compile(r"\b(?:clerk|citizen|system):[\w-]+")
HIDDEN_TAGS = {"script", "style", "template", "head"}


class _VisibleText(HTMLParser):
    """Collects the text a reader sees: element text outside script/style, no attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN_TAGS:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def raw_codes(text: str, slugs: set[str]) -> list[str]:
    """What in the text looks like an identifier rather than a word."""
    found = SNAKE.findall(text) + UUID.findall(text) + SUBJECT.findall(text)
    found += [w for w in re.findall(r"[\w-]+", text) if w in slugs]
    return sorted(set(found))


def test_raw_code_patterns_are_caught() -> None:
    """The checker itself: it must flag each kind of code and pass plain words."""
    page = (
        "<main><p>Grund: held_data_missing</p><td>meldebescheinigung</td>"
        "<p>clerk:b1e2a3d4-0000-4000-8000-000000000001</p>"
        '<script>var x = "not_visible";</script><a title="a_b">Meldebescheinigung</a></main>'
    )
    codes = raw_codes(visible_text(page), {"meldebescheinigung"})
    assert "held_data_missing" in codes and "meldebescheinigung" in codes
    assert any(c.startswith("clerk:") for c in codes)
    assert "not_visible" not in codes and "a_b" not in codes
    assert raw_codes(visible_text("<p>Meldebescheinigung, Stand 04.12.2026</p>"), set()) == []


def _seed(platform: Platform) -> list[str]:
    """Cases that put every worklist reason on the pages: referred, review, objection,
    remark, automation paused, incident."""
    _c1, disputed = referred_case(platform)
    citizen, reviewed = notified_case(platform, "erika")
    r = citizen.post(f"/cases/{reviewed}/review", json={"statement": "Bitte prüfen Sie das."})
    assert r.status_code in (200, 201), r.text
    objector, objected = objection_case(platform, "jonas")
    r = objector.post(f"/cases/{objected}/objection", json={"statement": "Das stimmt nicht."})
    assert r.status_code in (200, 201), r.text

    remarker = platform.api("erika")
    app = remarker.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
    r = remarker.patch(f"/applications/{app}", json={"remark": "Bitte per Post senden."})
    assert r.status_code == 200, r.text
    r = remarker.post(f"/applications/{app}/submit")
    assert r.status_code == 200, r.text
    remarked = r.json()["case_id"]
    wait_for_status(remarker, remarked, {"referred"})

    supervisor = console_api(platform, "supervisor-buergeramt")
    r = supervisor.post(
        "/services/meldebescheinigung/automation",
        json={"paused": True, "reason": "Vorlage wird geprüft"},
    )
    assert r.status_code == 200, r.text
    try:
        paused_api = platform.api("erika")
        paused = submit(paused_api, "meldebescheinigung")
        wait_for_status(paused_api, paused, {"referred"})
    finally:
        supervisor.post(
            "/services/meldebescheinigung/automation", json={"paused": False, "reason": "geprüft"}
        )

    _c2, broken = notified_case(platform)
    ctx = build_context(platform.settings)
    try:
        incidents.raise_incident(
            ctx, broken, stage="notify", workflow="complete", reason="SMTP 554", key=f"w:{broken}"
        )
    finally:
        ctx.close()
    return [disputed, reviewed, objected, remarked, paused, broken]


def test_no_console_page_shows_a_raw_code_in_either_language(platform: Platform) -> None:
    cases = _seed(platform)
    slugs = {p.name for p in platform.settings.services_dir.iterdir() if p.is_dir()}
    slugs |= set(labels.DEPARTMENT)  # a department is named, never shown as its slug
    pages = ["/console/", "/console/worklist", "/console/qa", "/console/services"]
    pages += ["/console/assisted", "/console/search?q=Mustermann", "/console/absence"]
    pages += ["/console/settings"]
    pages += ["/console/worklist?assignee=me", "/console/worklist?reason=follow_up&sort=due"]
    pages += [f"/console/worklist?reason={r}" for r in ("referred", "incident", "objection")]
    pages += ["/console/worklist?reason=late", "/console/eakte", "/console/payments"]
    pages += [f"/console/cases/{c}" for c in cases]
    writer = Browser(platform, "clerk-buergeramt")
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    writer.post(f"/console/cases/{cases[0]}/note", {"note": "Rückruf vereinbart."})
    writer.post(f"/console/cases/{cases[0]}/follow-up", {"due_on": tomorrow, "note": "Nachweis"})
    findings: dict[str, list[str]] = {}
    for persona in ("clerk-buergeramt", "supervisor-buergeramt"):
        browser = Browser(platform, persona)
        own = pages + (["/console/impact"] if persona.startswith("supervisor") else [])
        for lang in ("de", "en"):
            browser.get(f"/lang/{lang}?next=/console/")
            for path in own:
                page = browser.get(path)
                assert page.status_code == 200, (persona, lang, path, page.status_code)
                codes = raw_codes(visible_text(page.text), slugs)
                if codes:
                    findings[f"{persona} {lang} {path}"] = codes
    assert not findings, "\n".join(f"{k}: {v}" for k, v in findings.items())
