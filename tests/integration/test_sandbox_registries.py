"""Prefill against the sandbox registries served by uvicorn on a loopback port: real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from backend.definitions.constraints import local_today
from prefill.configuration import build_default_registry
from prefill.connectors.base import ConnectorConfig
from prefill.service import DataNeed, PrefillOutcome, prefill
from sandbox.personas import persona_by_id
from sandbox.population import LazyPopulation
from sandbox.registries import build_registries_app
from tests.integration.sandboxkit import PURPOSE, serve_registries

SERVICE_YAML = Path(__file__).parents[2] / "services" / "meldebescheinigung" / "service.yaml"
ERIKA_IDNR = "86095742719"
NOWAK_IDNR = "61835902741"  # has an eID, unknown to the Melderegister


@pytest.fixture(scope="module")
def registries_url() -> Iterator[str]:
    """Serve a fresh registries app on a free loopback port for the tests of this module."""
    with serve_registries() as url:
        yield url


@pytest.fixture(autouse=True)
def healthy_registries(registries_url: str) -> Iterator[None]:
    """Every test starts and ends with every register healthy."""
    httpx.delete(f"{registries_url}/faults", trust_env=False).raise_for_status()
    yield
    httpx.delete(f"{registries_url}/faults", trust_env=False).raise_for_status()


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
        "X-Case-Id": None,
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


def idnr(persona_id: str) -> str:
    persona = persona_by_id(persona_id)
    assert persona is not None and persona.idnr
    return persona.idnr


def every_attribute_of(connector_ids: list[str]) -> list[DataNeed]:
    registry = build_default_registry()
    return [
        DataNeed(
            key=f"{connector}:{attribute}",
            connector=connector,
            attribute=attribute,
            purpose="Test",
            legal_basis="§ 1 Test",
        )
        for connector in connector_ids
        for attribute in registry.get(connector).available_attributes()
    ]


def read_outcome(url: str, persona_id: str, connector_ids: list[str]) -> PrefillOutcome:
    """Every attribute of the given registries for a persona, read over real HTTP."""
    needs = every_attribute_of(connector_ids)
    registry = build_default_registry()

    async def run() -> PrefillOutcome:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await prefill(
                needs,
                identity_claims={"idnr": idnr(persona_id)},
                service="test",
                application_id="A-INT-P",
                actor="citizen",
                registry=registry,
                configs={c: ConnectorConfig(base_url=url) for c in registry},
                client=client,
                declared={(n.connector, n.attribute) for n in needs},
            )

    return asyncio.run(run())


def read_all(url: str, persona_id: str, connector_ids: list[str]) -> dict[str, Any]:
    """Every attribute of the given registries for a persona: status or value."""
    outcome = read_outcome(url, persona_id, connector_ids)
    return {
        key: result.value if result.status == "ok" else f"<{result.status}>"
        for key, result in outcome.results.items()
    }


def test_a_newborns_family_across_melde_and_personenstand_register(registries_url: str) -> None:
    got = read_all(registries_url, "sophie", ["melderegister", "personenstandsregister"])
    mia = persona_by_id("sophie").children[0]  # type: ignore[union-attr]
    assert got["melderegister:haushalt.personen"] == 3
    assert got["melderegister:haushalt.minderjaehrige"] == 1
    assert got["melderegister:kinder"] == [
        {"vornamen": "Mia", "familienname": "Becker", "geburtsdatum": mia.birthdate.isoformat()}
    ]
    assert got["personenstandsregister:juengstes_kind.geburtsdatum"] == mia.birthdate
    assert got["personenstandsregister:ehegatte.vornamen"] == "David"
    assert got["personenstandsregister:eheschliessung.datum"] == date(2021, 6, 12)


def test_a_minor_has_his_mother_as_legal_representative(registries_url: str) -> None:
    got = read_all(registries_url, "paul", ["melderegister"])
    assert got["melderegister:gesetzliche_vertreter"] == [
        {"vornamen": "Petra", "familienname": "Lange"}
    ]
    assert got["melderegister:geburtsdatum"] > local_today().replace(year=local_today().year - 18)


def test_the_mover_has_a_new_address_and_a_car_registered_at_the_old_one(
    registries_url: str,
) -> None:
    got = read_all(
        registries_url, "mehmet", ["melderegister", "kfz-zulassungsregister", "geodaten"]
    )
    assert got["melderegister:anschrift.strasse"] == "Brüsseler Straße"
    assert got["melderegister:fruehere_anschrift.strasse"] == "Bonner Straße"
    assert (local_today() - got["melderegister:einzugsdatum"]).days < 62
    assert got["kfz-zulassungsregister:halteranschrift.strasse"] == "Bonner Straße"
    assert got["geodaten:bewohnerparkgebiet"] == "K-12"


def test_car_owners_inside_and_outside_a_parking_zone(registries_url: str) -> None:
    katrin = read_all(
        registries_url, "katrin", ["melderegister", "kfz-zulassungsregister", "geodaten"]
    )
    assert katrin["kfz-zulassungsregister:kennzeichen"] == "K-KS 4711"
    assert katrin["geodaten:in_bewohnerparkgebiet"] is True
    assert katrin["geodaten:bewohnerparkgebiet.name"] == "Belgisches Viertel"
    bernd = read_all(
        registries_url, "bernd", ["melderegister", "kfz-zulassungsregister", "geodaten"]
    )
    assert bernd["kfz-zulassungsregister:kennzeichen"] == "K-BK 1966"
    assert bernd["geodaten:in_bewohnerparkgebiet"] is False
    assert bernd["geodaten:bewohnerparkgebiet"] == "<empty>"


def test_two_cars_a_business_and_a_student(registries_url: str) -> None:
    petra = read_all(registries_url, "petra", ["kfz-zulassungsregister", "gewerberegister"])
    assert petra["kfz-zulassungsregister:anzahl_fahrzeuge"] == 2
    assert petra["kfz-zulassungsregister:kennzeichen"] == "<empty>"
    assert petra["gewerberegister:betrieb.name"] == "Lange Kurierdienst"
    lukas = read_all(registries_url, "lukas", ["hochschulregister", "einkommensregister"])
    assert lukas["hochschulregister:immatrikuliert"] is True
    assert lukas["hochschulregister:studiengang"] == "Informatik"
    assert lukas["einkommensregister:beschaeftigt"] is False


def test_maternity_months_are_left_out_of_the_average(registries_url: str) -> None:
    """§ 2b Abs. 1 BEEG: Sophie's months with Mutterschaftsgeld do not lower her average."""
    got = read_all(registries_url, "sophie", ["einkommensregister"])
    months = got["einkommensregister:nettoeinkommen.monate"]
    assert months[-1]["art"] == "mutterschaftsgeld" and months[-1]["netto"] is None
    assert months[0]["art"] == "beschaeftigung"
    assert got["einkommensregister:nettoeinkommen.durchschnitt_12_monate"] == Decimal("2480.00")


def test_an_information_block_withholds_the_address_only(registries_url: str) -> None:
    got = read_all(registries_url, "claudia", ["melderegister", "geodaten"])
    assert got["melderegister:familienname"] == "Richter"
    assert got["melderegister:auskunftssperre"] is True
    assert got["melderegister:anschrift.strasse"] == "<failed>"
    assert got["melderegister:fruehere_anschrift.strasse"] == "<failed>"
    assert got["geodaten:in_bewohnerparkgebiet"] == "<failed>"
    # The municipality is not the address: her case can still reach the competent authority.
    assert got["melderegister:anschrift.gemeindeschluessel"] == "053150000000"


def test_residents_of_the_other_tenants_carry_their_municipality(registries_url: str) -> None:
    registers = ["melderegister", "kfz-zulassungsregister", "geodaten"]
    stefan = read_all(registries_url, "stefan", registers)
    assert stefan["melderegister:anschrift.gemeindeschluessel"] == "053620008008"
    assert stefan["kfz-zulassungsregister:kennzeichen"] == "BM-SW 1409"
    assert stefan["geodaten:bewohnerparkgebiet"] == "BM-1"
    assert stefan["geodaten:bewohnerparkgebiet.name"] == "Innenstadt Bergheim"
    hanna = read_all(registries_url, "hanna", registers)
    assert hanna["melderegister:anschrift.ort"] == "Neuenhaus"
    assert hanna["melderegister:anschrift.gemeindeschluessel"] == "034565402014"
    assert hanna["kfz-zulassungsregister:anzahl_fahrzeuge"] == 0
    assert hanna["geodaten:in_bewohnerparkgebiet"] is False
    tobias = read_all(registries_url, "tobias", registers)
    assert tobias["melderegister:anschrift.gemeindeschluessel"] == "053620008008"
    assert tobias["melderegister:fruehere_anschrift.ort"] == "Köln"
    assert (local_today() - tobias["melderegister:einzugsdatum"]).days <= 31
    assert tobias["kfz-zulassungsregister:kennzeichen"] == "BM-TK 627"
    assert tobias["kfz-zulassungsregister:halteranschrift.ort"] == "Bergheim"
    assert tobias["geodaten:in_bewohnerparkgebiet"] is False
    erika = read_all(registries_url, "erika", ["melderegister"])
    assert erika["melderegister:anschrift.gemeindeschluessel"] == "053150000000"


def test_each_residents_data_names_the_office_of_their_own_municipality(
    registries_url: str,
) -> None:
    """Provenance on a notice: a Bergheim resident's data comes from Bergheim's Meldebehörde
    and the Rhein-Erft-Kreis's Zulassungsstelle, never from Köln's."""
    registers = ["melderegister", "kfz-zulassungsregister", "geodaten"]
    titles = {
        persona: provenance_titles(registries_url, persona, registers)
        for persona in ("stefan", "hanna", "katrin")
    }
    assert titles["stefan"] == {
        "melderegister": "Melderegister (Stadt Bergheim – Meldebehörde)",
        "kfz-zulassungsregister": "Kfz-Zulassungsregister (Rhein-Erft-Kreis – Straßenverkehrsamt, "
        "Zulassungsstelle)",
        "geodaten": "Geodatenregister (Stadt Bergheim – Straßenverkehrsbehörde, Zonenplan "
        "Bewohnerparken)",
    }
    assert titles["hanna"]["melderegister"] == (
        "Melderegister (Samtgemeinde Neuenhaus – Meldebehörde)"
    )
    assert titles["katrin"] == {
        "melderegister": "Melderegister (Stadt Köln – Meldebehörde)",
        "kfz-zulassungsregister": "Kfz-Zulassungsregister (Stadt Köln – Straßenverkehrsamt, "
        "Zulassungsstelle)",
        "geodaten": "Geodatenregister (Stadt Köln – Amt für Liegenschaften, Vermessung und "
        "Kataster)",
    }


def provenance_titles(url: str, persona_id: str, connector_ids: list[str]) -> dict[str, str]:
    """Each register's title with its office, as the notice prints it, for one persona."""
    titles: dict[str, str] = {}
    for result in read_outcome(url, persona_id, connector_ids).results.values():
        if result.status == "ok" and result.provenance is not None:
            titles[result.provenance.registry] = result.provenance.registry_title
    return titles


def test_someone_unknown_to_the_residents_register(registries_url: str) -> None:
    got = read_all(
        registries_url,
        "unbekannt",
        ["melderegister", "kfz-zulassungsregister", "hochschulregister"],
    )
    assert got["melderegister:familienname"] == "<empty>"
    assert got["kfz-zulassungsregister:anzahl_fahrzeuge"] == 0
    assert got["hochschulregister:immatrikuliert"] is False


def test_the_birth_feed_reports_a_new_birth_to_a_subscriber(registries_url: str) -> None:
    feed = f"{registries_url}/personenstandsregister/v1/geburten"
    start = httpx.get(feed, headers=PURPOSE, trust_env=False).json()
    assert start["ereignisse"] == []
    jonas = idnr("jonas")

    born = httpx.post(
        feed,
        json={
            "kind": {
                "vornamen": "Ella",
                "familienname": "Schneider",
                "geburtsdatum": local_today().isoformat(),
                "geschlecht": "weiblich",
            },
            "eltern": [jonas],
        },
        trust_env=False,
    )
    assert born.status_code == 201, born.text
    page = httpx.get(
        feed, params={"seit": start["cursor"]}, headers=PURPOSE, trust_env=False
    ).json()
    [event] = page["ereignisse"]
    assert event["art"] == "geburt"
    assert event["kind"]["vornamen"] == "Ella"
    assert event["kind"]["idnr"] == born.json()["idnr"]
    assert [p["idnr"] for p in event["eltern"]] == [jonas]
    assert page["cursor"] == born.json()["cursor"] == event["cursor"]
    again = httpx.get(
        feed, params={"seit": page["cursor"]}, headers=PURPOSE, trust_env=False
    ).json()
    assert again == {"ereignisse": [], "cursor": page["cursor"]}

    got = read_all(registries_url, "jonas", ["melderegister"])
    assert got["melderegister:haushalt.minderjaehrige"] == 1
    assert got["melderegister:kinder"][0]["vornamen"] == "Ella"


def test_the_feed_pages_from_the_beginning(registries_url: str) -> None:
    feed = f"{registries_url}/personenstandsregister/v1/geburten"
    first = httpx.get(feed, params={"seit": "0", "limit": 3}, headers=PURPOSE, trust_env=False)
    events = first.json()["ereignisse"]
    assert [e["cursor"] for e in events] == ["1", "2", "3"]
    assert first.json()["cursor"] == "3"
    for event in events:
        assert event["kind"]["geburtsdatum"] <= local_today().isoformat()
        assert event["eltern"]


@pytest.mark.parametrize(
    ("params", "headers", "status", "code"),
    [
        ({"seit": "0"}, {}, 400, "zweckbindung_fehlt"),
        ({"seit": "-1"}, PURPOSE, 400, "cursor_ungueltig"),
        ({"seit": "0", "limit": "1000"}, PURPOSE, 422, None),
    ],
)
def test_the_feed_refuses_bad_reads(
    registries_url: str,
    params: dict[str, str],
    headers: dict[str, str],
    status: int,
    code: str | None,
) -> None:
    response = httpx.get(
        f"{registries_url}/personenstandsregister/v1/geburten",
        params=params,
        headers=headers,
        trust_env=False,
    )
    assert response.status_code == status
    if code:
        assert response.json()["fehler"] == code


def test_a_birth_with_an_unknown_parent_is_refused(registries_url: str) -> None:
    response = httpx.post(
        f"{registries_url}/personenstandsregister/v1/geburten",
        json={
            "kind": {"vornamen": "X", "familienname": "Y", "geburtsdatum": "2026-01-01"},
            "eltern": ["00000000000"],
        },
        trust_env=False,
    )
    assert (response.status_code, response.json()["fehler"]) == (404, "elternteil_unbekannt")


def abfrage(url: str, idnr: str = ERIKA_IDNR) -> httpx.Response:
    return httpx.post(
        f"{url}/melderegister/v1/personen/abfrage",
        json={"idnr": idnr, "attribute": ["familienname"]},
        headers=PURPOSE,
        trust_env=False,
    )


def put_faults(url: str, registry: str, **faults: object) -> httpx.Response:
    return httpx.put(f"{url}/{registry}/faults", json=faults, trust_env=False)


def test_a_register_set_down_answers_503_and_comes_back_after_reset(registries_url: str) -> None:
    assert put_faults(registries_url, "melderegister", down=True).json() == {
        "latency_ms": 0,
        "error_rate": 0.0,
        "down": True,
        "malformed": False,
    }
    response = abfrage(registries_url)
    assert (response.status_code, response.json()) == (
        503,
        {"fehler": "register_nicht_erreichbar"},
    )
    # The other registers and the switch itself keep working.
    assert httpx.get(f"{registries_url}/faults", trust_env=False).json() == {
        "faults": {
            "melderegister": {
                "latency_ms": 0,
                "error_rate": 0.0,
                "down": True,
                "malformed": False,
            }
        }
    }
    assert recent_requests(registries_url) is not None
    assert (
        httpx.delete(f"{registries_url}/melderegister/faults", trust_env=False).status_code == 200
    )
    assert abfrage(registries_url).status_code == 200


def test_injected_latency_delays_every_answer(registries_url: str) -> None:
    put_faults(registries_url, "melderegister", latency_ms=300)
    started = time.perf_counter()
    assert abfrage(registries_url).status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_an_error_rate_fails_that_share_of_requests(registries_url: str) -> None:
    put_faults(registries_url, "melderegister", error_rate=1.0)
    assert abfrage(registries_url).status_code == 503
    put_faults(registries_url, "melderegister", error_rate=0.5)
    statuses = {abfrage(registries_url).status_code for _ in range(30)}
    assert statuses == {200, 503}


def test_a_malformed_answer_is_not_json(registries_url: str) -> None:
    put_faults(registries_url, "kfz-zulassungsregister", malformed=True)
    response = httpx.post(
        f"{registries_url}/kfz-zulassungsregister/v1/halter/abfrage",
        json={"idnr": ERIKA_IDNR, "attribute": ["anzahl_fahrzeuge"]},
        headers=PURPOSE,
        trust_env=False,
    )
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


@pytest.mark.parametrize(
    ("registry", "body", "status"),
    [
        ("gibtsnicht", {"down": True}, 404),
        ("melderegister", {"error_rate": 2}, 422),
        ("melderegister", {"latency_ms": -1}, 422),
        ("melderegister", {"slow": True}, 422),
    ],
)
def test_bad_fault_settings_are_refused(
    registries_url: str, registry: str, body: dict[str, object], status: int
) -> None:
    response = put_faults(registries_url, registry, **body)
    assert response.status_code == status
    if status == 404:
        assert "melderegister" in response.json()["register"]
        assert "parkausweisregister" in response.json()["register"]


def test_the_app_starts_without_building_the_population() -> None:
    """Building 10,000 people takes a few hundred ms; it happens on the first read instead."""
    population = LazyPopulation()
    build_registries_app(population=population)
    assert not population.built
