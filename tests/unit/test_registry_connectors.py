"""The shipped registry connectors against recorded sandbox answers, replayed via MockTransport.

The recordings come from tests/unit/recordings/record.py; the last test proves they still
match the sandbox, so the connector tests never pass on fiction.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from prefill.configuration import build_default_registry
from prefill.connectors.base import Connector, ConnectorConfig, NeedResult, RegistryQuery
from prefill.connectors.einkommensregister import EinkommensregisterConnector
from prefill.connectors.geodaten import GeodatenConnector
from prefill.connectors.gewerberegister import GewerberegisterConnector
from prefill.connectors.hochschulregister import HochschulregisterConnector
from prefill.connectors.kfz_zulassungsregister import KfzZulassungsregisterConnector
from prefill.connectors.personenstandsregister import PersonenstandsregisterConnector

RECORDINGS = Path(__file__).parent / "recordings"
BASE_URL = "http://registries.test"


def recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / f"{name}.json").read_text("utf-8"))
    return data


def read(
    connector: type[Connector], name: str, attributes: list[str] | None = None
) -> tuple[dict[str, NeedResult], httpx.Request]:
    """Replay a recording for the attributes it was recorded with (or a subset)."""
    record = recording(name)
    asked = attributes or record["request"]["json"]["attribute"]
    key = {k: v for k, v in record["request"]["json"].items() if k != "attribute"}
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        body = json.loads(json.dumps(record["response"]["json"]))
        if record["response"]["status"] == 200:
            body["attribute"] = {k: v for k, v in body["attribute"].items() if k in asked}
        return httpx.Response(record["response"]["status"], json=body)

    query = RegistryQuery(
        identifier=key.get("idnr", "anschrift"),
        identifier_parts={f"anschrift.{k}": v for k, v in key.get("anschrift", {}).items()},
        attributes=asked,
        purpose="Test",
        legal_basis="§ 1 Test",
        service="test",
    )

    async def run() -> dict[str, NeedResult]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            config = ConnectorConfig(base_url=BASE_URL, retries=0)
            return await connector().fetch(client, config, query)

    results = asyncio.run(run())
    [request] = sent
    assert request.url.path == record["request"]["path"]
    assert json.loads(request.content) == {**key, "attribute": asked}
    return results, request


def values(results: dict[str, NeedResult]) -> dict[str, object]:
    return {name: r.value for name, r in results.items() if r.status == "ok"}


def test_every_shipped_read_connector_is_registered_with_described_attributes() -> None:
    registry = build_default_registry()
    for connector_id in (
        "melderegister",
        "personenstandsregister",
        "kfz-zulassungsregister",
        "gewerberegister",
        "einkommensregister",
        "hochschulregister",
        "geodaten",
    ):
        connector = registry.get(connector_id)
        specs = connector.available_attributes()
        assert specs, connector_id
        assert all(spec.description for spec in specs.values()), connector_id


def test_one_vehicle_gives_plate_class_and_holder_address() -> None:
    results, _ = read(KfzZulassungsregisterConnector, "kfz_katrin_one_vehicle")
    assert values(results) == {
        "fahrzeuge": [
            {
                "kennzeichen": "K-KS 4711",
                "fahrzeugklasse": "M1",
                "marke": "Opel",
                "zugelassen_am": "2020-07-22",
            }
        ],
        "anzahl_fahrzeuge": 1,
        "kennzeichen": "K-KS 4711",
        "fahrzeugklasse": "M1",
        "halteranschrift.strasse": "Lütticher Straße",
        "halteranschrift.hausnummer": "9",
        "halteranschrift.plz": "50674",
        "halteranschrift.ort": "Köln",
    }
    provenance = results["kennzeichen"].provenance
    assert provenance is not None
    assert provenance.registry_title == (
        "Kfz-Zulassungsregister (Stadt Köln – Straßenverkehrsamt, Zulassungsstelle)"
    )
    assert provenance.as_of == datetime(2020, 7, 22, 9, 30, tzinfo=UTC)


def test_two_vehicles_leave_the_choice_of_plate_to_the_citizen() -> None:
    results, _ = read(KfzZulassungsregisterConnector, "kfz_petra_two_vehicles")
    assert results["anzahl_fahrzeuge"].value == 2
    assert [v["kennzeichen"] for v in results["fahrzeuge"].value] == ["K-PL 815", "K-PL 4410"]
    for name in ("kennzeichen", "fahrzeugklasse"):
        assert results[name].status == "empty"
        assert results[name].reason == "the registry holds more than one value; please enter it"


def test_no_vehicle_is_a_definite_zero_not_a_failure() -> None:
    results, _ = read(KfzZulassungsregisterConnector, "kfz_erika_no_vehicle")
    assert values(results) == {"fahrzeuge": [], "anzahl_fahrzeuge": 0}
    assert results["kennzeichen"].status == "empty"
    assert results["anzahl_fahrzeuge"].provenance is not None
    assert results["anzahl_fahrzeuge"].provenance.record_id is None


def test_a_business_owner() -> None:
    results, _ = read(GewerberegisterConnector, "gewerbe_petra")
    assert values(results)["betrieb.name"] == "Lange Kurierdienst"
    assert values(results)["betrieb.beginn"] == date(2015, 3, 1)
    assert values(results)["anzahl_betriebe"] == 1
    assert values(results)["betriebe"] == [
        {
            "name": "Lange Kurierdienst",
            "taetigkeit": "Kurierdienst",
            "rechtsform": "Einzelunternehmen",
            "beginn": "2015-03-01",
            "anschrift": {
                "strasse": "Moltkestraße",
                "hausnummer": "22",
                "plz": "50674",
                "ort": "Köln",
            },
        }
    ]


def test_income_comes_as_exact_decimals_with_24_reported_months() -> None:
    results, _ = read(EinkommensregisterConnector, "einkommen_katrin")
    assert results["nettoeinkommen.durchschnitt_12_monate"].value == Decimal("3390.00")
    months = results["nettoeinkommen.monate"].value
    assert len(months) == 24
    assert months[-1] == {
        "monat": "2026-10",
        "netto": "3390.00",
        "art": "beschaeftigung",
        "arbeitgeber": "AXA Konzern AG",
    }
    assert values(results)["beschaeftigt"] is True
    assert EinkommensregisterConnector.min_trust_level == "hoch"


def test_someone_without_a_pension_account_is_unknown_to_the_income_register() -> None:
    results, _ = read(EinkommensregisterConnector, "einkommen_person_unbekannt")
    assert {(r.status, r.reason) for r in results.values()} == {("empty", "person not registered")}


def test_a_student_and_someone_not_enrolled() -> None:
    results, _ = read(HochschulregisterConnector, "hochschule_lukas")
    assert values(results) == {
        "immatrikuliert": True,
        "hochschule": "Universität zu Köln",
        "studiengang": "Informatik",
        "abschluss": "Bachelor of Science",
        "fachsemester": 7,
        "semester": "WiSe 2026/27",
        "immatrikuliert_seit": date(2023, 10, 1),
    }
    results, _ = read(HochschulregisterConnector, "hochschule_erika_not_enrolled")
    assert values(results) == {"immatrikuliert": False}
    assert results["hochschule"].status == "empty"


def test_marriage_and_children_from_the_civil_status_register() -> None:
    results, _ = read(PersonenstandsregisterConnector, "personenstand_married_parent")
    recorded = recording("personenstand_married_parent")["response"]["json"]["attribute"]
    assert values(results)["familienstand"] == "verheiratet"
    assert values(results)["anzahl_kinder"] == len(recorded["kinder"]) >= 2
    assert values(results)["juengstes_kind.geburtsdatum"] == date.fromisoformat(
        recorded["juengstes_kind.geburtsdatum"]
    )
    assert values(results)["eheschliessung.datum"] == date.fromisoformat(
        recorded["eheschliessung.datum"]
    )


def test_the_parking_zone_is_read_by_the_address_in_the_body() -> None:
    results, request = read(GeodatenConnector, "geodaten_in_zone")
    assert values(results) == {
        "in_bewohnerparkgebiet": True,
        "bewohnerparkgebiet": "K-12",
        "bewohnerparkgebiet.name": "Belgisches Viertel",
    }
    assert "Lütticher" not in str(request.url)
    assert GeodatenConnector.keyed_by == (
        ("melderegister", "anschrift.strasse"),
        ("melderegister", "anschrift.hausnummer"),
        ("melderegister", "anschrift.plz"),
    )


def test_outside_every_zone_is_a_definite_no() -> None:
    results, _ = read(GeodatenConnector, "geodaten_outside_zones")
    assert results["in_bewohnerparkgebiet"].status == "ok"
    assert results["in_bewohnerparkgebiet"].value is False
    assert results["bewohnerparkgebiet"].status == "empty"


def test_an_address_the_map_does_not_know_needs_a_person() -> None:
    results, _ = read(GeodatenConnector, "geodaten_adresse_unbekannt")
    assert {(r.status, r.reason) for r in results.values()} == {
        ("failed", "address not found in the geodata")
    }


RECORDED = sorted(
    path.stem
    for path in RECORDINGS.glob("*.json")
    if not path.stem.startswith(("melderegister_", "rest_"))
)


@pytest.fixture(scope="module")
def sandbox() -> Any:
    """One sandbox for all recordings: building its population takes a few hundred ms."""
    from tests.unit.recordings.record import sandbox_app

    return sandbox_app()[0]


@pytest.mark.parametrize("name", RECORDED)
def test_recordings_still_match_the_sandbox(name: str, sandbox: Any) -> None:
    """A recording that drifted from the sandbox would let the tests above pass on fiction."""
    from tests.unit.recordings.record import PURPOSE_HEADERS

    record = recording(name)
    app = sandbox

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            return await client.post(
                record["request"]["path"], json=record["request"]["json"], headers=PURPOSE_HEADERS
            )

    response = asyncio.run(run())
    assert response.status_code == record["response"]["status"]
    assert response.json() == record["response"]["json"]
