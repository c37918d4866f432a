"""Issue 14, item 12: a login never returns to the login callback (or any login page).

Before the fix a refused callback answered "303 /login?next=/auth/callback", and the next
successful login returned to the bare callback, which said "Anmeldung abgebrochen" (400).
"""

from __future__ import annotations

from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from backend.login.sessions import safe_login_return, safe_return_path
from tests.conftest import Platform
from tests.security.webkit import _HIDDEN


def _log_in_with_next(platform: Platform, next_path: str) -> tuple[httpx.Client, str]:
    """The whole sandbox code flow with a chosen `next`; returns the browser and where it lands."""
    browser = httpx.Client(base_url=platform.base_url, timeout=30, follow_redirects=False)
    to_idp = browser.get("/login", params={"next": next_path})
    assert to_idp.status_code == 303, to_idp.text
    form = browser.get(to_idp.headers["location"])
    hidden = {k: unescape(v) for k, v in _HIDDEN.findall(form.text)}
    back = browser.post(
        f"{platform.base_url}/sandbox/idp/authorize",
        data={**hidden, "persona": "erika", "action": "login"},
    )
    assert back.status_code == 303, back.text
    landed = browser.get(back.headers["location"])
    assert landed.status_code == 303, landed.text
    assert "kd_session=" in landed.headers.get("set-cookie", "")
    return browser, landed.headers["location"]


def test_a_refused_callback_does_not_send_the_browser_to_log_in_back_to_the_callback(
    platform: Platform,
) -> None:
    with httpx.Client(base_url=platform.base_url, timeout=30, follow_redirects=False) as browser:
        refused = browser.get("/auth/callback", params={"code": "forged", "state": "forged"})
    assert refused.status_code == 401, refused.headers
    assert "kd_session=" not in refused.headers.get("set-cookie", "")
    # The page explains and offers a fresh login that returns to the start page.
    assert "/login?next=%2F" in refused.text or "/login?next=/" in refused.text
    assert "login?next=/auth" not in refused.text
    assert "login?next=%2Fauth" not in refused.text


@pytest.mark.parametrize(
    "next_path",
    [
        "/auth/callback",
        "/auth/callback?code=x&state=y",
        "/login",
        "/login?next=/auth/callback",
        "/logout",
        "/logged-out",
    ],
)
def test_a_successful_login_never_returns_to_a_login_page(
    platform: Platform, next_path: str
) -> None:
    browser, location = _log_in_with_next(platform, next_path)
    try:
        assert location == "/"
        assert browser.get(location).status_code == 200
    finally:
        browser.close()


def test_a_wanted_page_is_still_where_the_login_returns(platform: Platform) -> None:
    """The guard refuses login pages only: a real page asked for is where the citizen lands."""
    browser, location = _log_in_with_next(platform, "/cases")
    browser.close()
    assert location == "/cases"


@pytest.mark.parametrize(
    "value",
    [
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "evil",
        "",
        None,
        "/auth/callback",
        "/AUTH/callback",
        "/%61uth/callback",
        "/login",
        "/login/",
        "/logout",
    ],
)
def test_unsafe_return_targets_become_the_start_page(value: str | None) -> None:
    assert safe_login_return(value) == "/"


def test_the_general_guard_still_allows_the_login_page_for_a_stronger_login() -> None:
    """Logout → /login?next=… (a login with a stronger method) keeps working."""
    assert safe_return_path("/login?next=/services/registerabruf") == (
        "/login?next=/services/registerabruf"
    )
    assert safe_return_path("/auth/callback?code=x") == "/"
    query = parse_qs(urlsplit(safe_login_return("/cases?tab=1")).query)
    assert query == {"tab": ["1"]}
