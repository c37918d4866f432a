"""Helpers for the security tests: the app's routes, a clerk's browser, real ids of a persona."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from html import unescape
from typing import Any

import httpx
from fastapi.routing import APIRoute
from starlette.routing import Route

from tests.conftest import Platform

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}")


def routes(platform: Platform) -> list[tuple[str, frozenset[str]]]:
    """(path template, methods) of every HTTP route the platform's app serves."""
    from knopfdruck.app import create_app

    app = create_app(platform.settings)  # built, never started: only its routes are read
    try:
        return sorted(set(_walk(app.routes, "")))
    finally:
        app.state.ctx.close()


def _walk(items: Iterable[Any], prefix: str) -> Iterator[tuple[str, frozenset[str]]]:
    for item in items:
        inner = getattr(item, "original_router", None)
        if inner is not None:  # FastAPI ≥ 0.160 keeps included routers lazily
            yield from _walk(inner.routes, prefix + item.include_context.prefix)
        elif isinstance(item, APIRoute | Route):
            yield prefix + item.path, frozenset(item.methods or ())


def fill(template: str, values: dict[str, str], default: str) -> str:
    """The path with every {param} replaced: known names from values, others with default."""
    return _PARAM.sub(lambda m: values.get(m.group(1), default), template)


def browser_login(platform: Platform, persona: str) -> httpx.Client:
    """A browser logged in through the sandbox IdP's code flow (clerks included)."""
    client = httpx.Client(base_url=platform.base_url, timeout=30, follow_redirects=False)
    to_idp = client.get("/login", params={"next": "/"})
    assert to_idp.status_code == 303, to_idp.text
    form = client.get(to_idp.headers["location"])
    hidden = {k: unescape(v) for k, v in _HIDDEN.findall(form.text)}
    back = client.post(
        f"{platform.base_url}/sandbox/idp/authorize",
        data={**hidden, "persona": persona, "action": "login"},
    )
    assert back.status_code == 303, back.text
    landed = client.get(back.headers["location"])
    assert landed.status_code == 303, landed.text
    assert client.cookies.get("kd_session")
    return client


def submitted_case(platform: Platform, persona: str) -> dict[str, str]:
    """A draft, a submitted and settled case, and its first document, made over the API."""
    import time

    with platform.api(persona) as api:
        draft = api.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
        sent = api.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
        case_id = api.post(f"/applications/{sent}/submit").json()["case_id"]
        deadline = time.monotonic() + 30
        while True:
            case = api.get(f"/cases/{case_id}").json()
            if case["status"] in ("notified", "referred") and case["documents"]:
                break
            assert time.monotonic() < deadline, case
            time.sleep(0.2)
        messages = api.get("/mailbox").json()["messages"]
    return {
        "application_id": draft,
        "submitted_application_id": sent,
        "case_id": case_id,
        "document_id": case["documents"][0]["id"],
        "message_id": messages[0]["id"] if messages else "0" * 32,
    }


def automation_switches(platform: Platform) -> dict[str, bool]:
    """Whether each service of the Bürgeramt is paused, to restore after a fuzzer flipped it."""
    with platform.api("supervisor-buergeramt") as console:
        return {s["id"]: s["paused"] for s in console.get("/console/services").json()}


def restore_automation(platform: Platform, before: dict[str, bool]) -> None:
    """A fuzzer may leave a service paused: the cases of later tests would then be referred."""
    now = automation_switches(platform)
    with platform.api("supervisor-buergeramt") as console:
        for service, paused in before.items():
            if now.get(service) != paused:
                body = {"paused": paused, "reason": "Zustand nach dem Fuzzing"}
                assert console.post(f"/console/services/{service}/automation", json=body).is_success
