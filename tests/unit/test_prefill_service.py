"""Prefill: enforced data minimisation, one request per registry, concurrency and the access log."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

import httpx
import pytest

from prefill.connectors.base import (
    AttributeSpec,
    Connector,
    ConnectorConfig,
    NeedResult,
    Provenance,
    RegistryQuery,
)
from prefill.connectors.melderegister import MelderegisterConnector
from prefill.connectors.registry import ConnectorRegistry
from prefill.service import DataNeed, PrefillError, PrefillOutcome, UndeclaredAttribute, prefill

RECORDINGS = Path(__file__).parent / "recordings"
MELDE_URL = "http://melderegister.test"
KFZ_URL = "http://kfz.test"
ERIKA = {"idnr": "86095742719", "sub": "c0a1f6e2-5b7d-4e55-9a2e-0f3c9d1e7a01"}
PURPOSE = "Ausstellung einer Meldebescheinigung"
LEGAL_BASIS = "§ 18 Abs. 1 BMG"
# The meldebescheinigung's fields and the Melderegister attributes they are filled from.
MELDE_FIELDS = {
    "familienname": "familienname",
    "vornamen": "vornamen",
    "geburtsdatum": "geburtsdatum",
    "geburtsort": "geburtsort",
    "strasse": "anschrift.strasse",
    "hausnummer": "anschrift.hausnummer",
    "plz": "anschrift.plz",
    "ort": "anschrift.ort",
    "einzugsdatum": "einzugsdatum",
}

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class KfzTestConnector(Connector):
    """A second registry, so tests can watch prefill talk to two at once."""

    id: ClassVar[str] = "kfz-test"
    title: ClassVar[str] = "Kfz-Testregister"
    identifier: ClassVar[str] = "idnr"

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        return {"kennzeichen": AttributeSpec(name="kennzeichen", type="string")}

    async def fetch(
        self, client: httpx.AsyncClient, config: ConnectorConfig, query: RegistryQuery
    ) -> dict[str, NeedResult]:
        response = await client.get(f"{config.base_url}/halter/{query.identifier}")
        body = response.json()
        provenance = Provenance(registry=self.id, as_of=body["stand"])
        return {
            name: NeedResult(attribute=name, status="ok", value=body[name], provenance=provenance)
            for name in query.attributes
        }


class BrokenConnector(Connector):
    """A connector with a bug: it raises instead of returning failed results."""

    id: ClassVar[str] = "broken"
    title: ClassVar[str] = "Kaputt"
    identifier: ClassVar[str] = "idnr"

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        return {"irgendwas": AttributeSpec(name="irgendwas", type="string")}

    async def fetch(
        self, client: httpx.AsyncClient, config: ConnectorConfig, query: RegistryQuery
    ) -> dict[str, NeedResult]:
        raise RuntimeError("bug in connector")


def fresh_registry() -> ConnectorRegistry:
    registry = ConnectorRegistry()
    for connector in (MelderegisterConnector, KfzTestConnector, BrokenConnector):
        registry.register(connector)
    return registry


CONFIGS = {
    "melderegister": ConnectorConfig(base_url=MELDE_URL, timeout_s=2.0, retries=0),
    "kfz-test": ConnectorConfig(base_url=KFZ_URL, timeout_s=2.0, retries=0),
    "broken": ConnectorConfig(base_url="http://broken.test"),
}


def recorded_melderegister(delay_s: float = 0.0) -> Handler:
    """The recorded Melderegister answer for Erika, trimmed to what a request asks for."""
    recorded = json.loads(
        (RECORDINGS / "melderegister_erika_all_attributes.json").read_text(encoding="utf-8")
    )["response"]["json"]

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(delay_s)
        asked = json.loads(request.content)["attribute"]
        body = {**recorded, "attribute": {k: recorded["attribute"][k] for k in asked}}
        return httpx.Response(200, json=body)

    return handler


def kfz(delay_s: float = 0.0) -> Handler:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(delay_s)
        return httpx.Response(
            200, json={"kennzeichen": "K-EM 1964", "stand": "2023-05-02T10:00:00Z"}
        )

    return handler


class Hosts:
    """Routes requests by host and keeps every request, to count the reads that went out."""

    def __init__(self, **by_host: Handler) -> None:
        self.by_host = by_host
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.by_host[request.url.host.split(".")[0]](request)


def melde_need(key: str, attribute: str, **overrides: str) -> DataNeed:
    values = {
        "key": key,
        "connector": "melderegister",
        "attribute": attribute,
        "purpose": PURPOSE,
        "legal_basis": LEGAL_BASIS,
    }
    values.update(overrides)
    return DataNeed(**values)


MELDE_NEEDS = [melde_need(key, attribute) for key, attribute in MELDE_FIELDS.items()]
KFZ_NEED = DataNeed(
    key="kennzeichen",
    connector="kfz-test",
    attribute="kennzeichen",
    purpose="Anwohnerparkausweis",
    legal_basis="§ 45 Abs. 1b StVO",
)


def declared_for(needs: list[DataNeed]) -> set[tuple[str, str]]:
    return {(need.connector, need.attribute) for need in needs}


def run_prefill(
    needs: list[DataNeed],
    hosts: Hosts,
    *,
    declared: set[tuple[str, str]] | None = None,
    claims: Mapping[str, str] = ERIKA,
    configs: Mapping[str, ConnectorConfig] = CONFIGS,
) -> PrefillOutcome:
    async def run() -> PrefillOutcome:
        async with httpx.AsyncClient(transport=httpx.MockTransport(hosts)) as client:
            return await prefill(
                needs,
                identity_claims=claims,
                service="meldebescheinigung",
                application_id="A-2024-000042",
                actor="citizen",
                registry=fresh_registry(),
                configs=configs,
                client=client,
                declared=declared_for(needs) if declared is None else declared,
            )

    return asyncio.run(run())


def test_an_undeclared_attribute_is_refused_before_any_registry_is_read() -> None:
    hosts = Hosts(melderegister=recorded_melderegister())
    sneaky = melde_need("auskunftssperre", "auskunftssperre")
    with pytest.raises(UndeclaredAttribute, match=r"melderegister\.auskunftssperre"):
        run_prefill([*MELDE_NEEDS, sneaky], hosts, declared=declared_for(MELDE_NEEDS))
    assert hosts.requests == []


def test_declared_needs_of_one_registry_go_out_as_one_request() -> None:
    hosts = Hosts(melderegister=recorded_melderegister())
    outcome = run_prefill(MELDE_NEEDS, hosts)

    assert len(hosts.requests) == 1
    assert json.loads(hosts.requests[0].content)["attribute"] == list(MELDE_FIELDS.values())
    assert list(outcome.results) == list(MELDE_FIELDS)
    assert outcome.results["strasse"].value == "Heidestraße"
    assert outcome.results["strasse"].attribute == "anschrift.strasse"
    assert {r.status for r in outcome.results.values()} == {"ok"}


def test_two_registries_are_read_concurrently() -> None:
    hosts = Hosts(melderegister=recorded_melderegister(delay_s=0.2), kfz=kfz(delay_s=0.2))
    started = time.perf_counter()
    outcome = run_prefill([*MELDE_NEEDS, KFZ_NEED], hosts)
    elapsed = time.perf_counter() - started

    assert elapsed < 0.35, f"two 0.2 s reads took {elapsed:.2f} s: they ran one after the other"
    assert len(hosts.requests) == 2
    assert outcome.results["kennzeichen"].value == "K-EM 1964"
    assert outcome.results["plz"].value == "51147"
    assert sorted(access.registry for access in outcome.accesses) == ["kfz-test", "melderegister"]


def test_a_citizen_without_the_identifier_gets_failed_results_and_no_read() -> None:
    hosts = Hosts(melderegister=recorded_melderegister(), kfz=kfz())
    outcome = run_prefill([*MELDE_NEEDS, KFZ_NEED], hosts, claims={"sub": "pseudonym"})

    assert hosts.requests == []
    assert set(outcome.results) == {*MELDE_FIELDS, "kennzeichen"}
    assert {(r.status, r.reason) for r in outcome.results.values()} == {
        ("failed", "identifier missing")
    }
    assert outcome.accesses == []


def test_a_connector_that_raises_yields_failed_results_not_a_crash() -> None:
    hosts = Hosts(melderegister=recorded_melderegister())
    broken = DataNeed(
        key="x", connector="broken", attribute="irgendwas", purpose="Test", legal_basis="Test"
    )
    outcome = run_prefill([broken, *MELDE_NEEDS], hosts)

    assert outcome.results["x"].status == "failed"
    assert outcome.results["x"].reason == "connector error"
    assert outcome.results["familienname"].value == "Mustermann"
    by_registry = {access.registry: access for access in outcome.accesses}
    assert by_registry["broken"].outcome == "failed"
    assert by_registry["broken"].attributes_returned == []
    assert by_registry["melderegister"].outcome == "ok"


def test_the_access_log_names_purpose_and_attributes_but_holds_no_values() -> None:
    hosts = Hosts(melderegister=recorded_melderegister())
    needs = [*MELDE_NEEDS, melde_need("geburtsname", "geburtsname")]
    outcome = run_prefill(needs, hosts)

    [access] = outcome.accesses
    assert access.registry == "melderegister"
    assert access.attributes_requested == [*MELDE_FIELDS.values(), "geburtsname"]
    assert access.attributes_returned == list(MELDE_FIELDS.values())
    assert (access.purpose, access.legal_basis) == (PURPOSE, LEGAL_BASIS)
    assert (access.service, access.application_id, access.actor) == (
        "meldebescheinigung",
        "A-2024-000042",
        "citizen",
    )
    assert access.outcome == "ok"
    assert access.at.tzinfo is not None and access.at.utcoffset() is not None
    assert access.duration_ms >= 0
    logged = access.model_dump_json()
    for value in ("Mustermann", "Heidestraße", "51147", "1964-08-12", ERIKA["idnr"]):
        assert value not in logged


def test_an_unknown_person_is_logged_as_an_empty_read() -> None:
    async def unknown(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"fehler": "person_unbekannt"})

    outcome = run_prefill(MELDE_NEEDS, Hosts(melderegister=unknown))
    assert {r.status for r in outcome.results.values()} == {"empty"}
    assert [a.outcome for a in outcome.accesses] == ["empty"]
    assert outcome.accesses[0].attributes_returned == []


def test_needs_with_different_purposes_are_separate_purpose_bound_reads() -> None:
    hosts = Hosts(melderegister=recorded_melderegister())
    needs = [
        melde_need("familienname", "familienname"),
        melde_need("plz", "anschrift.plz", purpose="Prüfung der Zuständigkeit"),
    ]
    outcome = run_prefill(needs, hosts)

    purposes = sorted(unquote(request.headers["X-Purpose"]) for request in hosts.requests)
    assert purposes == [PURPOSE, "Prüfung der Zuständigkeit"]
    assert sorted(a.purpose for a in outcome.accesses) == purposes
    assert outcome.results["plz"].value == "51147"


def test_two_fields_from_one_attribute_ask_for_it_once() -> None:
    hosts = Hosts(melderegister=recorded_melderegister())
    needs = [melde_need("name", "familienname"), melde_need("name_again", "familienname")]
    outcome = run_prefill(needs, hosts)

    assert json.loads(hosts.requests[0].content)["attribute"] == ["familienname"]
    assert outcome.results["name"].value == outcome.results["name_again"].value == "Mustermann"
    assert outcome.results["name"] is not outcome.results["name_again"]


def test_a_registry_without_configuration_fails_its_needs_only() -> None:
    hosts = Hosts(kfz=kfz())
    configs = {"kfz-test": CONFIGS["kfz-test"]}
    outcome = run_prefill([*MELDE_NEEDS, KFZ_NEED], hosts, configs=configs)

    assert {outcome.results[key].reason for key in MELDE_FIELDS} == {"registry not configured"}
    assert outcome.results["kennzeichen"].status == "ok"


@pytest.mark.parametrize(
    ("need", "message"),
    [
        (
            DataNeed(key="k", connector="nirgends", attribute="a", purpose="p", legal_basis="l"),
            "unknown connector",
        ),
        (melde_need("religion", "religion"), "offers no attribute"),
    ],
)
def test_needs_no_connector_can_serve_are_refused(need: DataNeed, message: str) -> None:
    hosts = Hosts()
    with pytest.raises(PrefillError, match=message):
        run_prefill([need], hosts)
    assert hosts.requests == []


def test_two_needs_with_one_key_are_refused() -> None:
    with pytest.raises(PrefillError, match="twice"):
        run_prefill([melde_need("name", "familienname"), melde_need("name", "vornamen")], Hosts())


def test_results_serialise_for_the_case_file() -> None:
    outcome = run_prefill(MELDE_NEEDS, Hosts(melderegister=recorded_melderegister()))
    dumped: dict[str, Any] = json.loads(outcome.model_dump_json())
    assert dumped["results"]["geburtsdatum"]["value"] == "1964-08-12"
    assert dumped["results"]["ort"]["provenance"]["registry"] == "melderegister"
