"""Isolation and sessions, tried for real: Jonas goes after Erika's applications, cases,
documents, mailbox and access log with her ids, over every route that takes one (API and
portal), and always meets the same 404 as for an id that does not exist.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from backend.columns import utcnow
from backend.db import build_engine
from tests.conftest import Platform
from tests.integration.portalkit import log_in
from tests.security.webkit import fill, routes, submitted_case

NOBODY = "0123456789abcdef0123456789abcdef"
PDF = (Path(__file__).resolve().parents[1] / "e2e" / "fixtures" / "rechnung.pdf").read_bytes()
BODIES = {
    # Valid bodies, so that a 404 cannot hide behind a 422 for a missing field.
    "/api/v1/applications/{application_id}": {"remark": "Das ist meins."},
    "/api/v1/cases/{case_id}/objection": {"statement": "Einspruch"},
    "/api/v1/cases/{case_id}/answer": {"answer": "Antwort"},
}
NOT_CITIZEN_ROUTES = ("/api/v1/console", "/api/v1/payments/webhooks", "/api/handover")


@pytest.fixture(scope="module")
def erika(platform: Platform) -> dict[str, str]:
    ids = submitted_case(platform, "erika")
    with platform.api("erika") as api:
        lastenrad = api.post("/applications", json={"service": "lastenrad-zuschuss"})
        assert lastenrad.status_code == 201, lastenrad.text
    return {**ids, "lastenrad_id": lastenrad.json()["id"]}


def _citizen_api_operations(platform: Platform) -> list[tuple[str, str]]:
    schema = httpx.get(f"{platform.base_url}/openapi.json", timeout=10).json()
    found = []
    for path, operations in schema["paths"].items():
        if "{" not in path or not path.startswith("/api/") or path.startswith(NOT_CITIZEN_ROUTES):
            continue
        found += [(method.upper(), path) for method in operations]
    return found


def test_api_gives_404_for_someone_elses_ids_exactly_as_for_unknown_ids(
    platform: Platform, erika: dict[str, str]
) -> None:
    operations = _citizen_api_operations(platform)
    assert len(operations) >= 12, operations
    leaks = []
    with platform.api("jonas") as jonas:
        for method, template in operations:
            sent: dict[str, Any] = {"json": BODIES.get(template, {})}
            ids = dict(erika)
            if "{field_id}" in template:  # uploads: a file field of a draft that has one
                ids.update(application_id=erika["lastenrad_id"], field_id="rechnung")
                if method == "PUT":
                    sent = {"files": {"file": ("r.pdf", PDF, "application/pdf")}}
            theirs_path = fill(template, ids, NOBODY).removeprefix("/api/v1")
            unknown_path = fill(template, {"field_id": "rechnung"}, NOBODY)
            theirs = jonas.request(method, theirs_path, **sent)
            unknown = jonas.request(method, unknown_path.removeprefix("/api/v1"), **sent)
            if theirs.status_code != 404 or theirs.json() != unknown.json():
                leaks.append(f"{method} {template}: {theirs.status_code} {theirs.text[:200]}")
        listed = {c["id"] for c in jonas.get("/cases").json()}
        accesses = jonas.get("/me/data-access").json()
        mailbox = jonas.get("/mailbox").json()["messages"]
    assert not leaks, "someone else's resource answered:\n" + "\n".join(leaks)
    assert erika["case_id"] not in listed
    assert not {a.get("application_id") for a in accesses} & {
        erika["application_id"],
        erika["submitted_application_id"],
    }
    assert erika["message_id"] not in {m["id"] for m in mailbox}
    # Erika herself does reach all of it: the 404s above are isolation, not broken ids.
    with platform.api("erika") as own:
        assert own.get(f"/cases/{erika['case_id']}").status_code == 200
        document = own.get(f"/cases/{erika['case_id']}/documents/{erika['document_id']}")
        assert document.status_code == 200
        assert erika["message_id"] in {m["id"] for m in own.get("/mailbox").json()["messages"]}


def test_portal_gives_404_for_someone_elses_ids(platform: Platform, erika: dict[str, str]) -> None:
    values = {**erika, "topic": "kauf", "action": "review"}
    targets = []
    for template, methods in routes(platform):
        if template.startswith(("/api/", "/sandbox/", "/console")):
            continue
        if not re.search(r"\{(application_id|case_id|[a-z_]*_id)\}", template):
            continue
        targets += [(m, template) for m in sorted(methods & {"GET", "POST"})]
    assert len(targets) >= 8, targets
    jonas = log_in(platform, "jonas")
    leaks = []
    for method, template in targets:
        ids = dict(values)
        if "{topic}" in template:
            ids["application_id"] = erika["lastenrad_id"]
        path = fill(template, ids, NOBODY)
        r = jonas.get(path) if method == "GET" else jonas.post(path)
        if r.status_code != 404:
            leaks.append(f"{method} {path}: {r.status_code}")
    assert not leaks, "someone else's page answered:\n" + "\n".join(leaks)
    mine = log_in(platform, "erika")
    assert mine.get(f"/cases/{erika['case_id']}").status_code == 200


def test_ids_and_references_cannot_be_counted(platform: Platform) -> None:
    with platform.api("jonas") as api:
        ids = [
            api.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
            for _ in range(6)
        ]
        references = [api.post(f"/applications/{i}/submit").json()["reference"] for i in ids[:3]]
    assert len(set(ids)) == len(ids)
    for before, after in itertools.pairwise(ids):
        assert re.fullmatch(r"[0-9a-f]{32}", after)
        assert abs(int(after, 16) - int(before, 16)) > 2**64  # not a counter, not a timestamp
        assert sum(a != b for a, b in zip(before, after, strict=True)) > 16
    suffixes = [r.split("-", 2)[2] for r in references]  # KD-2026-ABCD-EF23 → ABCD-EF23
    assert len(set(suffixes)) == len(suffixes)
    assert all(re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", s) for s in suffixes)


def _session_row(platform: Platform, token: str) -> Any:
    engine = build_engine(platform.settings.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT token_hash FROM portal_sessions WHERE token_hash = :h"),
                {"h": hashlib.sha256(token.encode()).hexdigest()},
            ).first()
    finally:
        engine.dispose()


def test_session_is_rotated_on_login_and_a_planted_id_is_worthless(platform: Platform) -> None:
    browser = httpx.Client(base_url=platform.base_url, timeout=30, follow_redirects=False)
    planted = "vom-angreifer-gesetzt"
    browser.cookies.set("kd_session", planted, domain="127.0.0.1")
    _login_in(platform, browser)
    first = browser.cookies["kd_session"]
    assert first != planted and _session_row(platform, planted) is None
    # Logging in again in the same browser replaces the session and ends the old one.
    _login_in(platform, browser)
    second = browser.cookies["kd_session"]
    assert second != first
    assert _session_row(platform, first) is None and _session_row(platform, second) is not None
    stale = httpx.get(f"{platform.base_url}/cases", cookies={"kd_session": first}, timeout=10)
    assert stale.status_code == 401 and "abgemeldet" in stale.text
    assert browser.get("/cases").status_code == 200


def _login_in(platform: Platform, browser: httpx.Client) -> httpx.Client:
    from html import unescape

    to_idp = browser.get("/login")
    form = browser.get(to_idp.headers["location"])
    hidden = {k: unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form.text)}
    back = browser.post(
        f"{platform.base_url}/sandbox/idp/authorize",
        data={**hidden, "persona": "jonas", "action": "login"},
    )
    landed = browser.get(back.headers["location"])
    assert landed.status_code == 303
    return browser


def test_logout_ends_the_session_on_the_server(platform: Platform) -> None:
    citizen = log_in(platform, "jonas")
    token = citizen.client.cookies["kd_session"]
    assert citizen.post("/logout").status_code == 303
    assert _session_row(platform, token) is None
    # Replaying the cookie after logout (a copied cookie, a shared computer) gets nothing.
    replay = httpx.get(f"{platform.base_url}/cases", cookies={"kd_session": token}, timeout=10)
    assert replay.status_code == 401


def test_idle_session_expires(platform: Platform) -> None:
    citizen = log_in(platform, "jonas")
    token = citizen.client.cookies["kd_session"]
    assert citizen.get("/cases").status_code == 200
    idle = timedelta(minutes=platform.settings.session_idle_minutes, seconds=5)
    engine = build_engine(platform.settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE portal_sessions SET last_seen = :t WHERE token_hash = :h"),
            {"t": utcnow() - idle, "h": hashlib.sha256(token.encode()).hexdigest()},
        )
    engine.dispose()
    expired = citizen.get("/cases")
    assert expired.status_code == 401 and "abgemeldet" in expired.text
    assert _session_row(platform, token) is None
