"""Prefill against the sandbox registries served by uvicorn on a loopback port: real HTTP."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from prefill.connectors.base import ConnectorConfig
from prefill.connectors.registry import build_default_registry
from prefill.service import DataNeed, PrefillOutcome, prefill
from sandbox.registries import build_registries_app

SERVICE_YAML = Path(__file__).parents[2] / "services" / "meldebescheinigung" / "service.yaml"
ERIKA_IDNR = "86095742719"
NOWAK_IDNR = "61835902741"  # has an eID, unknown to the Melderegister


@pytest.fixture(scope="module")
def registries_url() -> Iterator[str]:
    """Serve a fresh registries app on a free loopback port for the tests of this module."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(build_registries_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("sandbox registries did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{url}/healthz", trust_env=False).json() == {"status": "ok"}
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def meldebescheinigung_needs() -> list[DataNeed]:
    """The data needs exactly as the service definition declares them."""
    definition: dict[str, Any] = yaml.safe_load(SERVICE_YAML.read_text(encoding="utf-8"))
    return [
        DataNeed(
            key=field["id"],
            connector=field["source"]["connector"],
            attribute=field["source"]["attribute"],
            purpose=field["source"]["purpose"],
            legal_basis=field["source"]["legal_basis"],
        )
        for field in definition["fields"]
        if "source" in field
    ]


def run_prefill(url: str, idnr: str, application_id: str) -> PrefillOutcome:
    needs = meldebescheinigung_needs()

    async def run() -> PrefillOutcome:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await prefill(
                needs,
                identity_claims={"idnr": idnr, "sub": "pseudonym"},
                service="meldebescheinigung",
                application_id=application_id,
                actor="citizen",
                registry=build_default_registry(),
                configs={"melderegister": ConnectorConfig(base_url=url, timeout_s=5.0)},
                client=client,
                declared={(need.connector, need.attribute) for need in needs},
            )

    return asyncio.run(run())


def recent_requests(url: str) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = httpx.get(
        f"{url}/melderegister/v1/_requests", trust_env=False
    ).json()["requests"]
    return requests


def test_erikas_meldebescheinigung_is_prefilled_with_provenance(registries_url: str) -> None:
    outcome = run_prefill(registries_url, ERIKA_IDNR, "A-INT-0001")

    assert len(outcome.results) == 9
    values = {key: result.value for key, result in outcome.results.items()}
    assert values == {
        "familienname": "Mustermann",
        "vornamen": "Erika",
        "geburtsdatum": date(1964, 8, 12),
        "geburtsort": "Berlin",
        "strasse": "Heidestraße",
        "hausnummer": "17",
        "plz": "51147",
        "ort": "Köln",
        "einzugsdatum": date(2009, 4, 1),
    }
    for result in outcome.results.values():
        assert result.status == "ok"
        assert result.provenance is not None
        assert result.provenance.registry == "melderegister"
        assert result.provenance.registry_title == "Melderegister (Stadt Köln – Meldebehörde)"
        assert (result.provenance.record_id or "").startswith("MR-KOELN-")
        assert result.provenance.as_of.tzinfo is not None
        assert result.provenance.as_of < datetime.now(UTC)
    [access] = outcome.accesses
    assert access.outcome == "ok"
    assert len(access.attributes_returned) == 9


def test_the_read_arrived_bound_to_its_purpose(registries_url: str) -> None:
    run_prefill(registries_url, ERIKA_IDNR, "A-INT-0002")

    matching = [
        r
        for r in recent_requests(registries_url)
        if r["headers"]["X-Application-Id"] == "A-INT-0002"
    ]
    assert len(matching) == 1, "nine attributes must travel as one request"
    [request] = matching
    assert request["status"] == 200
    assert request["headers"] == {
        "X-Purpose": "Ausstellung einer Meldebescheinigung",
        "X-Legal-Basis": "§ 18 Abs. 1 BMG",
        "X-Service": "meldebescheinigung",
        "X-Actor": "citizen",
        "X-Application-Id": "A-INT-0002",
    }
    assert sorted(request["attribute"]) == sorted(
        need.attribute for need in meldebescheinigung_needs()
    )
    assert "Mustermann" not in str(request) and ERIKA_IDNR not in str(request)


def test_a_person_the_register_does_not_know_gets_empty_results(registries_url: str) -> None:
    outcome = run_prefill(registries_url, NOWAK_IDNR, "A-INT-0003")

    assert {(r.status, r.reason) for r in outcome.results.values()} == {
        ("empty", "person not registered")
    }
    assert [access.outcome for access in outcome.accesses] == ["empty"]


def test_a_read_without_purpose_headers_is_refused(registries_url: str) -> None:
    response = httpx.post(
        f"{registries_url}/melderegister/v1/personen/abfrage",
        json={"idnr": ERIKA_IDNR, "attribute": ["familienname"]},
        headers={"X-Purpose": "Neugier"},
        trust_env=False,
    )

    assert response.status_code == 400
    assert response.json() == {
        "fehler": "zweckbindung_fehlt",
        "fehlende_header": ["X-Legal-Basis", "X-Service", "X-Actor"],
    }
    assert "Mustermann" not in response.text


def test_an_unknown_attribute_is_refused(registries_url: str) -> None:
    response = httpx.post(
        f"{registries_url}/melderegister/v1/personen/abfrage",
        json={"idnr": ERIKA_IDNR, "attribute": ["familienname", "religion"]},
        headers={
            "X-Purpose": "Test",
            "X-Legal-Basis": "Test",
            "X-Service": "test",
            "X-Actor": "citizen",
        },
        trust_env=False,
    )

    assert response.status_code == 400
    assert response.json() == {"fehler": "attribut_unbekannt", "attribute": ["religion"]}
