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
from tests.livesrv import TEST_SETTINGS, free_port, serve_in_thread

DESTINATION = "d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51"
SUBMISSIONS = f"/destinations/{DESTINATION}/submissions"


def _garbage(submission_id: str) -> dict[str, Any]:
    """Well-formed, but nothing decrypts: the destination will answer 'rejected'."""
    return {
        "submissionId": submission_id,
        "destinationId": DESTINATION,
        "serviceType": {"identifier": "urn:de:fim:leika:leistung:99034004000000", "name": "x"},
        "encryptedMetadata": "not.a.jwe.at.all",
        "encryptedData": "not.a.jwe.at.all",
        "encryptedAttachments": {},
    }


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
    submission_id = uuid.uuid4().hex
    with _logged_in(base, sandbox.client_id, sandbox.client_secret) as sender:
        stored = sender.post(
            f"/destinations/{DESTINATION}/submissions", json=_garbage(submission_id)
        )
        assert stored.status_code == 201, stored.text
        assert submission_id in sender.get(f"/destinations/{DESTINATION}/submissions").text

    anonymous = [
        httpx.get(f"{base}/destinations/{DESTINATION}/submissions"),
        httpx.get(f"{base}/destinations/{DESTINATION}/submissions/{submission_id}"),
        httpx.get(f"{base}/destinations/{DESTINATION}/keys"),
        httpx.get(f"{base}/destinations/{DESTINATION}"),
        httpx.post(
            f"{base}/destinations/{DESTINATION}/submissions", json=_garbage(uuid.uuid4().hex)
        ),
        httpx.get(
            f"{base}/destinations/{DESTINATION}/submissions",
            headers={"Authorization": "Bearer made-up"},
        ),
    ]
    assert [r.status_code for r in anonymous] == [401] * len(anonymous)
    for response in anonymous:
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
        mine = uuid.uuid4().hex
        submissions = f"/fit/destinations/{DESTINATION}/submissions"
        assert client.post(submissions, json=_garbage(mine), headers=a).status_code == 201
        assert client.get(submissions, headers=a).json() == {"submissions": [mine]}
        assert client.get(submissions, headers=b).json() == {"submissions": []}
        assert client.get(f"{submissions}/{mine}", headers=b).status_code == 404
        taken = client.post(submissions, json=_garbage(mine), headers=b)
        assert taken.status_code == 409
        callbacks = client.get(f"{submissions}/{mine}", headers=a).json()["callbacks"]
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
    submission_id = uuid.uuid4().hex
    # Worst case: someone knows the sandbox's client secret and makes it answer "rejected".
    with _logged_in(base, sandbox.client_id, sandbox.client_secret) as sender:
        stored = sender.post(
            f"/destinations/{DESTINATION}/submissions", json=_garbage(submission_id)
        )
        assert stored.status_code == 201, stored.text
        deadline = time.monotonic() + 20
        while True:
            callbacks = sender.get(
                f"/destinations/{DESTINATION}/submissions/{submission_id}"
            ).json()["callbacks"]
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
    assert client.get(f"/sandbox/fitconnect/destinations/{DESTINATION}/keys").status_code == 404
    listing = client.get(f"/sandbox/fitconnect/destinations/{DESTINATION}/submissions")
    assert listing.status_code == 404
    # Nor does the platform trust the sandbox's secret when it is off.
    assert callback_secret(settings) != sandbox_fitconnect(settings).callback_secret
