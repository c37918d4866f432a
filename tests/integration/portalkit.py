"""A citizen's browser without the browser: the portal over real HTTP, logged in through the
sandbox IdP's code flow with PKCE, exactly as Chromium does it."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from html import unescape
from typing import Any

import httpx

from tests.conftest import Platform

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass
class Citizen:
    client: httpx.Client
    csrf: str

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kw)

    def submit(self, application_id: str, data: dict[str, str] | None = None) -> httpx.Response:
        """Submit from the check page as a browser does: with the fingerprints of what it showed."""
        check = self.get(f"/applications/{application_id}/check")
        assert check.status_code == 200, check.text[:500]
        shown = re.search(r'name="shown" value="([^"]*)"', check.text)
        assert shown is not None
        return self.post(
            f"/applications/{application_id}/submit",
            {"shown": unescape(shown.group(1)), **(data or {})},
        )


def log_in(platform: Platform, persona: str) -> Citizen:
    client = httpx.Client(base_url=platform.base_url, timeout=30, follow_redirects=False)
    to_idp = client.get("/login", params={"next": "/cases"})
    assert to_idp.status_code == 303
    form = client.get(to_idp.headers["location"])
    hidden = dict(_HIDDEN.findall(form.text))
    back = client.post(
        f"{platform.base_url}/sandbox/idp/authorize",
        data={**{k: unescape(v) for k, v in hidden.items()}, "persona": persona, "action": "login"},
    )
    assert back.status_code == 303, back.text
    landed = client.get(back.headers["location"])
    assert landed.status_code == 303 and landed.headers["location"] == "/cases"
    page = client.get("/cases")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return Citizen(client, token.group(1))


def start(citizen: Citizen, service: str) -> str:
    """Start a new application (also when a draft exists: the explicit choice); returns its id."""
    r = citizen.post(f"/services/{service}/start", {"fresh": "1"})
    assert r.status_code == 303, r.text
    match = re.fullmatch(r"/applications/([0-9a-f]{32})", r.headers["location"])
    assert match, r.headers["location"]
    return match.group(1)


def wait_settled(citizen: Citizen, case_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = citizen.get(f"/cases/{case_id}").text
        if "data-poll" not in page:
            status = re.search(r'data-status="([a-z_]+)"', page)
            assert status is not None
            return status.group(1)
        time.sleep(0.2)
    raise AssertionError(f"case {case_id} not decided in {timeout} s")
