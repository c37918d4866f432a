"""Registry faults through the whole platform: the application still starts, the affected
fields are marked, the citizen enters them, and the automation policy sends the case to a
clerk (registry_failure). The faults are reset after each test: other tests share the server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests.conftest import Platform

MELDE_FIELDS = ("familienname", "vornamen", "geburtsdatum", "geburtsort", "strasse")
ADDRESS = ("strasse", "hausnummer", "plz", "ort")
ERIKA_ANSWERS = {
    "familienname": "Mustermann",
    "vornamen": "Erika",
    "geburtsdatum": "1964-08-12",
    "geburtsort": "Berlin",
    "strasse": "Heidestraße",
    "hausnummer": "17",
    "plz": "51147",
    "ort": "Köln",
}


@pytest.fixture
def registries(platform: Platform) -> Iterator[str]:
    """The platform's in-process sandbox registries, healthy again after the test."""
    url = f"{platform.base_url}/sandbox/registries"
    httpx.delete(f"{url}/faults", timeout=10).raise_for_status()
    yield url
    httpx.delete(f"{url}/faults", timeout=10).raise_for_status()


def set_faults(url: str, registry: str, **settings: Any) -> None:
    httpx.put(f"{url}/{registry}/faults", json=settings, timeout=10).raise_for_status()


def fields_of(application: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in application["fields"]}


def settled(api: httpx.Client, case_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        case: dict[str, Any] = api.get(f"/cases/{case_id}").json()
        if case["status"] in ("decided", "referred"):
            return case
        assert time.monotonic() < deadline, f"case still {case['status']} after {timeout} s"
        time.sleep(0.2)


def test_a_registry_that_is_down_still_lets_the_application_start(
    platform: Platform, registries: str
) -> None:
    set_faults(registries, "melderegister", down=True)
    api = platform.api("erika")
    response = api.post("/applications", json={"service": "meldebescheinigung"})
    assert response.status_code == 201, response.text
    application = response.json()
    fields = fields_of(application)
    for fid in MELDE_FIELDS:
        assert fields[fid]["prefill_status"] == "failed"
        assert fields[fid]["prefill_reason"] == "registry error (HTTP 503)"
        assert fields[fid]["origin"] == "citizen"
        assert fields[fid]["value"] is None
        assert fields[fid]["source"] is None

    # The access log says a read was attempted, on which basis, and that nothing came back.
    [access] = [a for a in api.get("/me/data-access").json() if a["outcome"] == "failed"][:1]
    assert access["registry"] == "melderegister"
    assert access["attributes_returned"] == []
    assert "familienname" in access["attributes_requested"]
    assert access["legal_basis"] == "§ 18 Abs. 1 BMG"

    # The registry recovers, but the citizen has already been asked: she enters the data.
    httpx.delete(f"{registries}/melderegister/faults", timeout=10).raise_for_status()
    patched = api.patch(f"/applications/{application['id']}", json={"answers": ERIKA_ANSWERS})
    assert patched.status_code == 200, patched.text
    assert fields_of(patched.json())["familienname"]["value"] == "Mustermann"
    submitted = api.post(f"/applications/{application['id']}/submit")
    assert submitted.status_code == 200, submitted.text
    case = settled(api, submitted.json()["case_id"])
    assert case["status"] == "referred", case
    assert "registry_failure" in case["decision"]["referral_reasons"]


def test_one_registry_down_leaves_the_others_prefilled(platform: Platform, registries: str) -> None:
    set_faults(registries, "einkommensregister", down=True)
    api = platform.api("sophie")
    response = api.post("/applications", json={"service": "registerabruf"})
    assert response.status_code == 201, response.text
    fields = fields_of(response.json())
    assert fields["nettoeinkommen"]["prefill_status"] == "failed"
    assert fields["familienname"]["value"] == "Becker"
    assert fields["familienname"]["source"]["registry"] == "melderegister"
    assert fields["anzahl_fahrzeuge"]["value"] == 0
    assert fields["immatrikuliert"]["value"] is False
    # Geodaten is looked up by the Melderegister address and still answers.
    assert fields["bewohnerparkgebiet"]["value"] is True
    assert fields["bewohnerparkgebiet"]["source"]["registry"] == "geodaten"
    # Only the failed field may be answered by the citizen.
    rejected = api.patch(
        f"/applications/{response.json()['id']}", json={"answers": {"familienname": "X"}}
    )
    assert rejected.status_code == 422
    accepted = api.patch(
        f"/applications/{response.json()['id']}", json={"answers": {"nettoeinkommen": "2480,00"}}
    )
    assert accepted.status_code == 200, accepted.text


def test_a_slow_registry_costs_its_fields_not_the_application(
    platform: Platform, registries: str
) -> None:
    """Latency beyond the deadline (twice the platform's 5 s timeout) would make this test slow,
    so it injects malformed answers instead; test_prefill_faults covers slow registries."""
    set_faults(registries, "hochschulregister", malformed=True)
    api = platform.api("sophie")
    response = api.post("/applications", json={"service": "registerabruf"})
    assert response.status_code == 201, response.text
    fields = fields_of(response.json())
    assert fields["immatrikuliert"]["prefill_status"] == "failed"
    assert fields["immatrikuliert"]["prefill_reason"] == "malformed response"
    assert fields["familienname"]["value"] == "Becker"


def test_an_auskunftssperre_does_not_hide_her_own_address_from_her(
    platform: Platform, registries: str
) -> None:
    """§ 51 BMG protects Claudia against third parties: for her own Meldebescheinigung
    (§ 18 BMG) the register delivers her address, marked as blocked for others."""
    api = platform.api("claudia")
    response = api.post("/applications", json={"service": "meldebescheinigung"})
    assert response.status_code == 201, response.text
    application = response.json()
    fields = fields_of(application)
    assert fields["familienname"]["value"] == "Richter"
    assert fields["familienname"]["prefill_blocked"] is False
    for fid in ADDRESS:
        assert fields[fid]["prefill_status"] == "ok"
        assert fields[fid]["prefill_blocked"] is True
    assert fields["strasse"]["value"] == "Weißhausstraße"
    case_id = api.post(f"/applications/{application['id']}/submit").json()["case_id"]
    deadline = time.monotonic() + 30
    while (status := api.get(f"/cases/{case_id}").json()["status"]) not in ("notified",):
        assert status not in ("referred", "rejected"), status
        assert time.monotonic() < deadline, f"case still {status}"
        time.sleep(0.2)


def test_a_person_the_melderegister_does_not_know_gets_no_certificate_of_typed_data(
    platform: Platform, registries: str
) -> None:
    """Tomasz types his details; a Meldebescheinigung must not certify them unchecked."""
    api = platform.api("unbekannt")
    response = api.post("/applications", json={"service": "meldebescheinigung"})
    assert response.status_code == 201, response.text
    application = response.json()
    fields = fields_of(application)
    assert {fields[fid]["prefill_status"] for fid in MELDE_FIELDS} == {"empty"}
    typed = {**ERIKA_ANSWERS, "familienname": "Nowak", "vornamen": "Tomasz"}
    api.patch(f"/applications/{application['id']}", json={"answers": typed}).raise_for_status()
    case = settled(api, api.post(f"/applications/{application['id']}/submit").json()["case_id"])
    assert case["status"] == "referred"
    assert "held_data_missing" in case["decision"]["referral_reasons"]
    assert case["documents"] == []


def test_every_read_is_bound_to_its_purpose_and_logged_without_values(
    platform: Platform, registries: str
) -> None:
    api = platform.api("sophie")
    application = api.post("/applications", json={"service": "registerabruf"}).json()

    seen = httpx.get(f"{registries}/einkommensregister/v1/_requests", timeout=10).json()
    [read] = [r for r in seen["requests"] if r["headers"]["X-Application-Id"] == application["id"]]
    assert read["headers"]["X-Purpose"] == "Test des Registerabrufs"
    assert read["headers"]["X-Legal-Basis"] == "Testgrundlage § 4"
    assert read["headers"]["X-Service"] == "registerabruf"
    assert read["headers"]["X-Actor"] == "citizen"
    assert read["attribute"] == ["nettoeinkommen.durchschnitt_12_monate"]

    accesses = [a for a in api.get("/me/data-access").json() if a["service"] == "registerabruf"]
    registries_read = {a["registry"] for a in accesses}
    assert {
        "melderegister",
        "kfz-zulassungsregister",
        "hochschulregister",
        "einkommensregister",
        "geodaten",
    } <= registries_read
    income = next(a for a in accesses if a["registry"] == "einkommensregister")
    assert income["attributes_requested"] == ["nettoeinkommen.durchschnitt_12_monate"]
    assert income["attributes_returned"] == ["nettoeinkommen.durchschnitt_12_monate"]
    assert (income["purpose"], income["legal_basis"], income["actor"], income["outcome"]) == (
        "Test des Registerabrufs",
        "Testgrundlage § 4",
        "citizen",
        "ok",
    )
    text = str(accesses)
    for value in ("Becker", "2480", "Körnerstraße", "72096654285"):
        assert value not in text
    assert unquote("%C2%A7") in income["legal_basis"]
