"""Rate limits on login, application start and submit: per account and per IP, in the database.

A second web process with small limits runs against the platform's database (and its IdP and
registries), as a second machine behind a load balancer would. That the limits hold across
processes is shown by counting in one process and being refused by the other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from backend.db import build_engine
from backend.ratelimit import RateLimited, check_rate
from backend.settings import Settings
from tests.conftest import Platform
from tests.integration.portalkit import Citizen, log_in
from tests.livesrv import free_port, serve_in_thread

WINDOW_S = 3599
"""Not the platform's window: counters are per window length, so other tests do not count."""
LIMIT = 3


def _limited_settings(platform: Platform, port: int) -> Settings:
    return platform.settings.model_copy(
        update={
            "base_url": f"http://127.0.0.1:{port}",
            "worker_in_process": False,
            "sandbox": False,  # the platform's IdP and registries serve this process too
            "rate_limit_window_s": WINDOW_S,
            "rate_limit_login_per_account": LIMIT,
            "rate_limit_login_per_ip": LIMIT,
            "rate_limit_start_per_account": LIMIT,
            "rate_limit_start_per_ip": 1000,
            "rate_limit_submit_per_account": LIMIT,
            "rate_limit_submit_per_ip": 1000,
        }
    )


@pytest.fixture(scope="module")
def limited(platform: Platform) -> Iterator[str]:
    """A second, stateless web process of the same installation with small limits."""
    from knopfdruck.app import create_app

    port = free_port()
    with serve_in_thread(create_app(_limited_settings(platform, port)), port) as base:
        yield base


def test_limiter_counts_per_account_and_ip_and_resets_with_the_window(platform: Platform) -> None:
    settings = platform.settings.model_copy(
        update={
            "rate_limit_window_s": 60,
            "rate_limit_submit_per_account": 2,
            "rate_limit_submit_per_ip": 3,
        }
    )
    # Two engines: two processes sharing one database.
    first, second = build_engine(settings.database_url), build_engine(settings.database_url)
    now = [1_900_000_020.0]
    clock = lambda: now[0]  # noqa: E731

    def hit(engine: object, account: str, ip: str) -> None:
        check_rate(engine, settings, "submit", account=account, ip=ip, clock=clock)  # type: ignore[arg-type]

    hit(first, "acct-a", "198.51.100.7")
    hit(second, "acct-a", "198.51.100.7")
    with pytest.raises(RateLimited) as refused:
        hit(first, "acct-a", "198.51.100.8")  # another address does not help the account
    assert refused.value.status_code == 429
    assert 0 < refused.value.retry_after_s <= 60
    hit(second, "acct-b", "198.51.100.7")  # the address's third request: still allowed
    with pytest.raises(RateLimited):  # its fourth is refused, whichever account sends it
        hit(first, "acct-d", "198.51.100.7")
    hit(first, "acct-c", "203.0.113.1")  # others are unaffected
    now[0] += 60  # the next window starts from zero
    hit(second, "acct-a", "198.51.100.7")
    first.dispose()
    second.dispose()


def test_api_start_and_submit_are_limited_per_account(platform: Platform, limited: str) -> None:
    token = platform.token("erika")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{limited}/api/v1", headers=headers, timeout=30) as api:
        ids = []
        for _ in range(LIMIT):
            r = api.post("/applications", json={"service": "meldebescheinigung"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        refused = api.post("/applications", json={"service": "meldebescheinigung"})
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "rate_limited"
        assert 0 < int(refused.headers["retry-after"]) <= WINDOW_S
        assert "Zu viele Anfragen" in refused.json()["message"]
        # Submitting is counted separately; a repeated submit of one draft counts, too.
        for application_id in ids:
            assert api.post(f"/applications/{application_id}/submit").status_code == 200
        again = api.post(f"/applications/{ids[0]}/submit")
        assert again.status_code == 429
    # Another citizen is not affected by Erika's limit.
    other = {"Authorization": f"Bearer {platform.token('jonas')}"}
    r = httpx.post(
        f"{limited}/api/v1/applications",
        json={"service": "meldebescheinigung"},
        headers=other,
        timeout=30,
    )
    assert r.status_code == 201, r.text


def test_portal_login_is_limited_per_ip(limited: str) -> None:
    with httpx.Client(base_url=limited, timeout=30) as browser:
        for _ in range(LIMIT):
            r = browser.get("/login")
            assert r.status_code == 303, r.text
        refused = browser.get("/login")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "Zu viele Anfragen" in refused.text
        assert "content-security-policy" in refused.headers  # still a portal page
        # The callback shares the same per-address count.
        assert browser.get("/auth/callback", params={"code": "x", "state": "y"}).status_code == 429


def test_portal_start_is_limited_across_processes(platform: Platform, limited: str) -> None:
    citizen = log_in(platform, "lena")
    # The same session cookie works on the second process: sessions live in the database.
    other = Citizen(
        httpx.Client(base_url=limited, cookies=citizen.client.cookies, timeout=30),
        citizen.csrf,
    )
    statuses = []
    for _ in range(LIMIT + 1):
        # Lena's login is "niedrig": the start is refused for its trust level (403), but every
        # attempt is counted first, so scripted starts cannot probe services without limit.
        r = other.post("/services/meldebescheinigung/start")
        statuses.append(r.status_code)
    assert statuses[-1] == 429, statuses
    assert all(s != 429 for s in statuses[:-1]), statuses
    assert re.search("Zu viele Anfragen", other.post("/services/meldebescheinigung/start").text)
