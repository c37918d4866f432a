"""Operator endpoints: readiness names what is broken, metrics expose cases and requests."""

from __future__ import annotations

import re

from tests.conftest import Platform


def test_readyz_checks_database_engine_and_upstreams(platform: Platform) -> None:
    with platform.client() as client:
        r = client.get("/readyz")
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert set(checks) == {"database", "engine", "identity_provider", "registries"}
    assert all(v == "ok" for v in checks.values())


def test_metrics_expose_case_figures_without_ids(platform: Platform) -> None:
    api = platform.api("erika")
    app_id = api.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
    case_id = api.post(f"/applications/{app_id}/submit").json()["case_id"]
    with platform.client() as client:
        client.get(f"/api/v1/applications/{app_id}")
        body = client.get("/metrics").text
    assert re.search(r'^knopfdruck_cases\{state="\w+"\} \d', body, re.M)
    assert "knopfdruck_queue_depth" in body
    assert 'knopfdruck_registry_calls{outcome="ok",registry="melderegister"}' in body
    assert 'route="/api/v1/applications/{application_id}"' in body
    assert app_id not in body and case_id not in body  # route templates, never ids


def test_request_id_is_returned_and_generated(platform: Platform) -> None:
    with platform.client() as client:
        given = client.get("/healthz", headers={"X-Request-ID": "abcdef123456"})
        made = client.get("/healthz")
    assert given.headers["X-Request-ID"] == "abcdef123456"
    assert re.fullmatch(r"[0-9a-f]{16}", made.headers["X-Request-ID"])
