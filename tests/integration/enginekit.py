"""Helpers for the engine tests: cases through the real API, the hosted payment page, the DB."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection
from functools import lru_cache
from typing import Any, TypeVar

import httpx
from sqlalchemy.engine import Engine

from backend.db import build_engine
from tests.conftest import Platform

T = TypeVar("T")
FEE_SERVICE = "beglaubigung"


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return build_engine(url)


def engine(platform: Platform) -> Engine:
    """The platform's database, for checks the API does not (and should not) expose."""
    return _engine(platform.settings.database_url)


def wait_until(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.2)


def wait_for_status(
    api: httpx.Client, case_id: str, statuses: Collection[str], timeout: float = 30.0
) -> dict[str, Any]:
    last: dict[str, Any] = {}

    def probe() -> dict[str, Any] | None:
        nonlocal last
        last = api.get(f"/cases/{case_id}").json()
        return last if last["status"] in statuses else None

    try:
        return wait_until(probe, f"case {case_id} to reach {sorted(statuses)}", timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last status {last.get('status')}") from None


def submit(
    api: httpx.Client,
    service: str,
    *,
    answers: dict[str, Any] | None = None,
    disputes: dict[str, str] | None = None,
) -> str:
    application = api.post("/applications", json={"service": service})
    assert application.status_code == 201, application.text
    app_id = application.json()["id"]
    if answers or disputes:
        r = api.patch(f"/applications/{app_id}", json={"answers": answers, "disputes": disputes})
        assert r.status_code == 200, r.text
    r = api.post(f"/applications/{app_id}/submit")
    assert r.status_code == 200, r.text
    case_id: str = r.json()["case_id"]
    return case_id


def notified_case(platform: Platform, persona: str = "erika") -> tuple[httpx.Client, str]:
    """A Meldebescheinigung decided by the machine and announced to the citizen."""
    api = platform.api(persona)
    case_id = submit(api, "meldebescheinigung")
    wait_for_status(api, case_id, {"notified"})
    return api, case_id


OBJECTION_SERVICE = "wohnsitzbescheid"
"""A Bescheid under §§ 68, 70 VwGO (test fixture): a Meldebescheinigung has no remedy."""


def objection_case(platform: Platform, persona: str = "erika") -> tuple[httpx.Client, str]:
    """A Bescheid with a Widerspruch, decided by the machine and announced to the citizen."""
    api = platform.api(persona)
    case_id = submit(api, OBJECTION_SERVICE)
    wait_for_status(api, case_id, {"notified"})
    return api, case_id


def referred_case(platform: Platform, persona: str = "erika") -> tuple[httpx.Client, str]:
    api = platform.api(persona)
    case_id = submit(
        api, "meldebescheinigung", disputes={"strasse": "Ich bin im Oktober umgezogen."}
    )
    wait_for_status(api, case_id, {"referred"})
    return api, case_id


def fee_case(
    platform: Platform, persona: str = "erika", copies: int = 2
) -> tuple[httpx.Client, str, dict[str, Any]]:
    """A case of the test fee service, waiting for payment with a pay URL at the provider."""
    api = platform.api(persona)
    case_id = submit(api, FEE_SERVICE, answers={"anzahl": copies})
    wait_for_status(api, case_id, {"awaiting_payment"})

    def opened() -> dict[str, Any] | None:
        payment: dict[str, Any] = api.get(f"/cases/{case_id}/payment").json()
        return payment if payment.get("pay_url") else None

    return api, case_id, wait_until(opened, "payment opened at the provider")


def pay_on_hosted_page(pay_url: str) -> httpx.Response:
    """What a citizen's browser does on the provider's page: load it, press 'Jetzt bezahlen'."""
    with httpx.Client(timeout=30) as browser:
        page = browser.get(pay_url)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, "no payment form on the hosted page"
        return browser.post(pay_url, data={"csrf_token": found.group(1), "action": "pay"})


def timeline(api: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = api.get(f"/cases/{case_id}/timeline").json()
    return entries


def event_types(api: httpx.Client, case_id: str) -> list[str]:
    return [e["type"] for e in timeline(api, case_id)]


def messages_of(api: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    return [m for m in api.get("/mailbox").json()["messages"] if m["case_id"] == case_id]
