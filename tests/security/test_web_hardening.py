"""Web hardening over real HTTP: CSRF on every state-changing form, a strict CSP and the security
headers, HSTS outside loopback, and the browser login's state, PKCE and one-time use."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Platform
from tests.integration.portalkit import log_in
from tests.security.webkit import browser_login, fill, routes, submitted_case

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_EXEMPT = {
    # Anonymous and read-only: anyone may check whether a notice is genuine; no session is
    # read and nothing is stored, so there is nothing a forged request could do.
    "/verify",
}
"""Browser form routes that may be posted without a CSRF token, each with the reason."""


def _form_routes(platform: Platform) -> list[tuple[str, str]]:
    """(method, path template) of every state-changing route a browser form can reach."""
    found = []
    for path, methods in routes(platform):
        if path.startswith(("/api/", "/sandbox/")) or path in CSRF_EXEMPT:
            continue  # the JSON API takes bearer tokens, never cookies
        found += [(method, path) for method in sorted(methods & STATE_CHANGING)]
    return found


def test_every_state_changing_form_refuses_a_post_without_csrf_token(platform: Platform) -> None:
    targets = _form_routes(platform)
    assert ("POST", "/logout") in targets and ("POST", "/services/{slug}/start") in targets
    assert len(targets) >= 8, targets
    ids = submitted_case(platform, "erika")
    with platform.api("erika") as api:
        # A draft with a topic page, so the topic route reaches its form handling.
        draft = api.post("/applications", json={"service": "lastenrad-zuschuss"}).json()["id"]
    values = {
        **ids,
        "application_id": draft,
        "topic": "kauf",
        "slug": "meldebescheinigung",
        "service": "meldebescheinigung",
    }
    citizen = browser_login(platform, "erika")
    clerk = browser_login(platform, "supervisor-buergeramt")
    accepted = []
    for method, template in targets:
        browser = clerk if template.startswith("/console") else citizen
        path = fill(template, values, "review")
        for data in ({}, {"csrf_token": "gefälscht"}):
            r = browser.request(method, path, data=data)
            if r.status_code != 403:
                accepted.append(f"{method} {path} {data}: {r.status_code}")
    assert not accepted, "state-changing routes without a CSRF check:\n" + "\n".join(accepted)
    # The sessions are still alive: the 403s came from the token check, not from a logout.
    assert citizen.get("/cases").status_code == 200


def _directives(csp: str) -> dict[str, list[str]]:
    parsed = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def _assert_hardened(response: httpx.Response) -> None:
    headers = response.headers
    csp = _directives(headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval, no other origin
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["form-action"] == ["'self'"]
    everything = " ".join(word for words in csp.values() for word in words)
    for weak in ("'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"):
        assert weak not in everything.split(), (weak, csp)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin")
    assert headers["x-frame-options"] == "DENY"


def test_security_headers_on_pages_api_errors_files_and_documents(platform: Platform) -> None:
    ids = submitted_case(platform, "erika")
    citizen = log_in(platform, "erika")
    with platform.api("erika") as api:
        responses = [
            httpx.get(platform.base_url + "/", timeout=10),
            httpx.get(platform.base_url + "/static/portal.css", timeout=10),
            httpx.get(platform.base_url + "/gibt-es-nicht", timeout=10),
            httpx.get(platform.base_url + "/api/v1/services", timeout=10),
            httpx.get(platform.base_url + "/api/v1/cases", timeout=10),  # 401
            citizen.get("/cases"),
            citizen.get(f"/cases/{ids['case_id']}"),
            api.get(f"/cases/{ids['case_id']}/documents/{ids['document_id']}"),
        ]
    assert [r.status_code for r in responses] == [200, 200, 404, 200, 401, 200, 200, 200]
    for response in responses:
        _assert_hardened(response)
        # Loopback is plain HTTP (the embedded default): HSTS there would lock out localhost.
        assert "strict-transport-security" not in response.headers


def test_hsts_and_secure_cookies_outside_loopback(platform: Platform) -> None:
    from knopfdruck.app import create_app

    settings = platform.settings.model_copy(
        update={"base_url": "https://portal.knopfdruck.example", "worker_in_process": False}
    )
    assert not settings.is_local
    app = create_app(settings)
    try:
        client = TestClient(app, base_url="https://portal.knopfdruck.example")  # no lifespan
        health = client.get("/healthz")
        assert health.status_code == 200
        hsts = health.headers["strict-transport-security"]
        max_age = int(re.search(r"max-age=(\d+)", hsts).group(1))  # type: ignore[union-attr]
        assert max_age >= 365 * 86400 and "includeSubDomains" in hsts
        _assert_hardened(health)
        language = client.get("/lang/en", follow_redirects=False)
        assert "secure" in language.headers["set-cookie"].lower()
        login = client.get("/login", follow_redirects=False)
        binding = login.headers["set-cookie"].lower()
        assert "secure" in binding and "httponly" in binding
    finally:
        app.state.ctx.close()


def _start_login(platform: Platform) -> tuple[httpx.Client, dict[str, str]]:
    """A browser that went to /login: its binding cookie, and the IdP's form fields."""
    browser = httpx.Client(base_url=platform.base_url, timeout=30, follow_redirects=False)
    to_idp = browser.get("/login")
    query = {k: v[0] for k, v in parse_qs(urlsplit(to_idp.headers["location"]).query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43
    assert query["nonce"] and query["state"] and query["nonce"] != query["state"]
    form = browser.get(to_idp.headers["location"])
    hidden = {k: unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form.text)}
    return browser, hidden


def _code_for(platform: Platform, browser: httpx.Client, hidden: dict[str, str]) -> str:
    back = browser.post(
        f"{platform.base_url}/sandbox/idp/authorize",
        data={**hidden, "persona": "erika", "action": "login"},
    )
    assert back.status_code == 303, back.text
    return parse_qs(urlsplit(back.headers["location"]).query)["code"][0]


def _refused(response: httpx.Response) -> bool:
    """A refused callback opens no session and (a GET with 401) leads back to the login."""
    if "kd_session=" in response.headers.get("set-cookie", ""):
        return False
    return response.status_code == 401 or (
        response.status_code == 303 and response.headers["location"].startswith("/login")
    )


def test_login_callback_refuses_foreign_state_code_injection_and_replay(
    platform: Platform,
) -> None:
    victim, victim_form = _start_login(platform)
    attacker, attacker_form = _start_login(platform)
    attacker_code = _code_for(platform, attacker, attacker_form)

    # Code injection: the attacker's code (for the attacker's PKCE challenge) in the victim's
    # callback with the victim's own state. The victim's verifier does not fit: refused.
    injected = victim.get(
        "/auth/callback", params={"code": attacker_code, "state": victim_form["state"]}
    )
    assert _refused(injected)

    # A state from another browser (login CSRF): the binding cookie does not match.
    other, other_form = _start_login(platform)
    code = _code_for(platform, other, other_form)
    forged = victim.get("/auth/callback", params={"code": code, "state": other_form["state"]})
    assert _refused(forged)

    # A state is good once: the first try consumed it, the rightful browser cannot reuse it.
    replay = other.get("/auth/callback", params={"code": code, "state": other_form["state"]})
    assert _refused(replay)

    # The untouched flow still works, so the refusals above are the checks, not a broken IdP.
    fine, fine_form = _start_login(platform)
    ok = fine.get(
        "/auth/callback",
        params={"code": _code_for(platform, fine, fine_form), "state": fine_form["state"]},
    )
    assert ok.status_code == 303 and "kd_session=" in ok.headers["set-cookie"]
    assert not _refused(ok)


@pytest.mark.parametrize("persona", ["jonas", "lena"])
def test_lower_trust_level_cannot_start_a_hoch_service(platform: Platform, persona: str) -> None:
    """registerabruf demands "hoch"; substanziell and niedrig logins are refused (API, portal)."""
    with platform.api(persona) as api:
        r = api.post("/applications", json={"service": "registerabruf"})
        assert r.status_code == 403, r.text
        assert persona not in r.text
    citizen = log_in(platform, persona)
    page = citizen.post("/services/registerabruf/start")
    assert page.status_code == 403
    assert "sicherere Anmeldung" in page.text
    # Erika, logged in with "hoch", may: the refusal is the trust level, not the service.
    with platform.api("erika") as api:
        assert api.post("/applications", json={"service": "registerabruf"}).status_code == 201
