"""The sandbox FIT-Connect destination is no back door: it wants a bearer token like the real
service, shows a client only its own submissions, signs callbacks with its own secret (which a
platform delivering to a real Fachverfahren does not trust), and is absent when the sandbox is
off."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.cases.handover_callbacks import callback_secret
from backend.handover.credentials import sandbox_fitconnect, sender_credentials
from backend.settings import Settings
from knopfdruck.app import create_app
from sandbox.fitconnect import build_fitconnect_router
from tests.conftest import Platform
from tests.fitconnect import openapi_errors, request_errors, response_errors
from tests.livesrv import TEST_SETTINGS, free_port, serve_in_thread

DESTINATION = "d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51"
SERVICE_TYPE = {"identifier": "urn:de:fim:leika:leistung:99034004000000", "name": "x"}
GARBAGE = {"encryptedMetadata": "not.a.jwe.at.all", "encryptedData": "not.a.jwe.at.all"}
"""Well-formed, but nothing decrypts: the destination will answer 'rejected'."""


def _announce(client: Any, attachments: list[str] | None = None, **headers: str) -> str:
    """Announce a submission; the Zustelldienst's id for it."""
    created = client.post(
        "/v1/submissions" if "prefix" not in headers else f"{headers.pop('prefix')}/v1/submissions",
        json={
            "destinationId": DESTINATION,
            "announcedAttachments": attachments or [],
            "serviceType": SERVICE_TYPE,
            "caseId": str(uuid.uuid4()),
        },
        headers=headers or None,
    )
    assert created.status_code == 201, created.text
    submission_id: str = created.json()["submissionId"]
    return submission_id


def _problem(response: httpx.Response, status: int) -> None:
    """An RFC 7807 problem as the OpenAPI's Error schema has it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert openapi_errors({"$ref": "#/components/schemas/Error"}, response.json()) == []
    assert response.json()["status"] == status


def _token(base: str, client_id: str, client_secret: str) -> httpx.Response:
    return httpx.post(
        f"{base}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        },
    )


def _logged_in(base: str, client_id: str, client_secret: str) -> httpx.Client:
    response = _token(base, client_id, client_secret)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=30
    )


def test_the_sandbox_refuses_unauthenticated_requests_and_lists_no_ids(
    platform: Platform,
) -> None:
    base = platform.settings.handover_base_url
    sandbox = sandbox_fitconnect(platform.settings)
    with _logged_in(base, sandbox.client_id, sandbox.client_secret) as sender:
        submission_id = _announce(sender)
        sent = sender.put(f"/v1/submissions/{submission_id}", json=GARBAGE)
        assert sent.status_code == 202, sent.text
        assert submission_id in sender.get("/v1/submissions").text

    anonymous = [
        httpx.get(f"{base}/v1/submissions"),
        httpx.get(f"{base}/v1/submissions/{submission_id}"),
        httpx.get(f"{base}/v1/destinations/{DESTINATION}"),
        httpx.post(f"{base}/v1/submissions", json={"destinationId": DESTINATION}),
        httpx.put(f"{base}/v1/submissions/{submission_id}", json=GARBAGE),
        httpx.get(f"{base}/v1/submissions", headers={"Authorization": "Bearer made-up"}),
    ]
    for response in anonymous:
        _problem(response, 401)
        assert submission_id not in response.text

    assert _token(base, sandbox.client_id, "wrong").status_code == 401
    assert _token(base, "someone-else", sandbox.client_secret).status_code == 401
    # The platform's callback secret is no password here either.
    assert _token(base, sandbox.client_id, callback_secret(platform.settings)).status_code == 401
    wrong_grant = httpx.post(
        f"{base}/token",
        data={"grant_type": "password", "client_id": sandbox.client_id},
    )
    assert wrong_grant.status_code == 400


def test_the_sandbox_refuses_what_the_openapi_refuses_with_problem_json(
    platform: Platform,
) -> None:
    base = platform.settings.handover_base_url
    sandbox = sandbox_fitconnect(platform.settings)
    attachment = str(uuid.uuid4())
    with _logged_in(base, sandbox.client_id, sandbox.client_secret) as sender:
        _problem(sender.post("/v1/submissions", json={"destinationId": DESTINATION}), 422)
        _problem(
            sender.post(
                "/v1/submissions",
                json={
                    "destinationId": "not-a-uuid",
                    "announcedAttachments": [],
                    "serviceType": SERVICE_TYPE,
                },
            ),
            422,
        )
        _problem(
            sender.post(
                "/v1/submissions", content=b"{", headers={"Content-Type": "application/json"}
            ),
            400,
        )
        submission_id = _announce(sender, [attachment])
        upload = f"/v1/submissions/{submission_id}/attachments/{attachment}"
        _problem(sender.put(upload, content=b"a.b.c.d.e"), 415)  # not application/jose
        jose = {"Content-Type": "application/jose"}
        _problem(sender.put(upload, content=b"not a jwe", headers=jose), 400)
        elsewhere = f"/v1/submissions/{submission_id}/attachments/{uuid.uuid4()}"
        _problem(sender.put(elsewhere, content=b"a.b.c.d.e", headers=jose), 422)
        # The announced attachment is missing: the submission is refused, nothing sent.
        _problem(sender.put(f"/v1/submissions/{submission_id}", json=GARBAGE), 422)
        _problem(sender.put(f"/v1/submissions/{submission_id}", json={"x": 1}), 422)
        assert sender.put(upload, content=b"a.b.c.d.e", headers=jose).status_code == 204
        assert sender.put(upload, content=b"a.b.c.d.f", headers=jose).status_code == 204
        sent = sender.put(f"/v1/submissions/{submission_id}", json=GARBAGE)
        assert sent.status_code == 202 and sent.json()["attachments"] == [attachment]
        _problem(sender.put(f"/v1/submissions/{submission_id}", json=GARBAGE), 422)
        exchanges = sender.get("/journal").json()["exchanges"]
    # Every answer checked against the OpenAPI by our own validator; every request the
    # sandbox took, too (the refused ones broke the spec on purpose, or their state did).
    assert len(exchanges) >= 12
    for exchange in exchanges:
        assert response_errors(exchange) == [], exchange
        if exchange["status"] < 400:
            assert request_errors(exchange) == [], exchange
    refused = [e for e in exchanges if e["status"] in (400, 415) or e["body"] == {"x": 1}]
    assert refused and all(request_errors(e) for e in refused)


def test_a_client_sees_only_its_own_submissions_and_cannot_take_over_another_id(
    platform: Platform,
) -> None:
    app = FastAPI()
    app.include_router(
        build_fitconnect_router(
            platform.settings.data_dir,  # the destination keys the platform's sandbox made
            f"http://127.0.0.1:{free_port()}/nobody-listens",
            clients={"amt-a": "a" * 32, "amt-b": "b" * 32},
            callback_secret="c" * 32,
        ),
        prefix="/fit",
    )
    with TestClient(app, base_url="http://sandbox") as client:

        def login(client_id: str, secret: str) -> dict[str, str]:
            response = client.post(
                "/fit/token",
                data={"grant_type": "client_credentials"},
                auth=(client_id, secret),  # client_secret_basic works as well
            )
            assert response.status_code == 200, response.text
            return {"Authorization": f"Bearer {response.json()['access_token']}"}

        a, b = login("amt-a", "a" * 32), login("amt-b", "b" * 32)
        mine = _announce(client, prefix="/fit", **a)
        assert client.put(f"/fit/v1/submissions/{mine}", json=GARBAGE, headers=a).status_code == 202
        listed = client.get("/fit/v1/submissions", headers=a).json()["submissions"]
        assert [s["submissionId"] for s in listed] == [mine]
        assert client.get("/fit/v1/submissions", headers=b).json()["submissions"] == []
        assert client.get(f"/fit/v1/submissions/{mine}", headers=b).status_code == 404
        taken = client.put(f"/fit/v1/submissions/{mine}", json=GARBAGE, headers=b)
        assert taken.status_code == 404
        callbacks = client.get(f"/fit/v1/submissions/{mine}", headers=a).json()["callbacks"]
        assert len({c["eventId"] for c in callbacks}) == 1, "b's attempt made a second answer"


def test_no_sandbox_without_secrets() -> None:
    with pytest.raises(ValueError):
        build_fitconnect_router(Path("."), "http://x", clients={}, callback_secret="s" * 32)
    with pytest.raises(ValueError):
        build_fitconnect_router(Path("."), "http://x", clients={"a": "s" * 32}, callback_secret="")


@pytest.fixture
def real_destination_platform(platform: Platform) -> Iterator[Platform]:
    """The sandbox is on, but deliveries go to a real Fachverfahren with its own secret."""
    port = free_port()
    settings = Settings(
        base_url=f"http://127.0.0.1:{port}",
        # The platform's: field encryption keys are process-wide and come from data_dir.
        data_dir=platform.settings.data_dir,
        database_url=platform.settings.database_url,
        services_dir=platform.settings.services_dir,
        worker_in_process=False,
        handover_base_url="https://fitconnect.fachverfahren.example/submission-api",
        handover_client_id="knopfdruck-koeln",
        handover_client_secret="the-real-client-secret-from-the-self-service-portal",
        handover_callback_secret="the-real-fachverfahren-callback-secret-0123456789",
        _env_file=None,
        **TEST_SETTINGS,
    )
    with serve_in_thread(create_app(settings), port) as base:
        yield Platform(base, settings)


def test_the_sandbox_signs_with_its_own_secret_which_a_real_setup_does_not_trust(
    real_destination_platform: Platform,
) -> None:
    settings = real_destination_platform.settings
    sandbox = sandbox_fitconnect(settings)
    assert sandbox.callback_secret != callback_secret(settings)
    assert sender_credentials(settings) is not None
    assert sender_credentials(settings).client_id == "knopfdruck-koeln"  # type: ignore[union-attr]
    base = f"{real_destination_platform.base_url}/sandbox/fitconnect"
    # Worst case: someone knows the sandbox's client secret and makes it answer "rejected".
    with _logged_in(base, sandbox.client_id, sandbox.client_secret) as sender:
        submission_id = _announce(sender)
        stored = sender.put(f"/v1/submissions/{submission_id}", json=GARBAGE)
        assert stored.status_code == 202, stored.text
        deadline = time.monotonic() + 20
        while True:
            callbacks = sender.get(f"/v1/submissions/{submission_id}").json()["callbacks"]
            if callbacks:
                break
            assert time.monotonic() < deadline, "the sandbox never answered"
            time.sleep(0.1)
    # The platform refused the signature (401), before even looking the submission up (404).
    assert callbacks[0]["status"] == "rejected"
    assert callbacks[0]["http_status"] == 401


def test_the_sandbox_routes_are_absent_when_the_sandbox_is_off(platform: Platform) -> None:
    settings = platform.settings.model_copy(update={"sandbox": False, "worker_in_process": False})
    client = TestClient(create_app(settings))  # no lifespan: only the routes are asked
    assert client.post("/sandbox/fitconnect/token", data={}).status_code == 404
    assert client.get(f"/sandbox/fitconnect/v1/destinations/{DESTINATION}").status_code == 404
    listing = client.get("/sandbox/fitconnect/v1/submissions")
    assert listing.status_code == 404
    # Nor does the platform trust the sandbox's secret when it is off.
    assert callback_secret(settings) != sandbox_fitconnect(settings).callback_secret


def test_with_callbacks_dropped_the_answer_is_only_in_the_event_log(platform: Platform) -> None:
    app = FastAPI()
    app.include_router(
        build_fitconnect_router(
            platform.settings.data_dir,
            f"http://127.0.0.1:{free_port()}/nobody-listens",
            clients={"amt-a": "a" * 32},
            callback_secret="c" * 32,
            drop_callbacks=True,
        ),
        prefix="/fit",
    )
    with TestClient(app, base_url="http://sandbox") as client:
        token = client.post(
            "/fit/token", data={"grant_type": "client_credentials"}, auth=("amt-a", "a" * 32)
        ).json()["access_token"]
        a = {"Authorization": f"Bearer {token}"}
        mine = _announce(client, prefix="/fit", **a)
        assert client.put(f"/fit/v1/submissions/{mine}", json=GARBAGE, headers=a).status_code == 202
        case_id = client.get(f"/fit/v1/submissions/{mine}", headers=a).json()["caseId"]
        deadline = time.monotonic() + 20
        while len(client.get(f"/fit/v1/cases/{case_id}/events", headers=a).json()["eventLog"]) < 2:
            assert time.monotonic() < deadline, "the answer never reached the event log"
            time.sleep(0.1)
        assert client.get(f"/fit/v1/submissions/{mine}", headers=a).json()["callbacks"] == []
