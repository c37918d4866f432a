"""Prefill against the sandbox registries over real HTTP while they misbehave on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from prefill.configuration import build_default_registry, registry_configs
from prefill.connectors.base import ConnectorConfig
from prefill.connectors.registry import ConnectorRegistry
from prefill.health import RegistryHealth
from prefill.service import DataNeed, PrefillOutcome, prefill
from sandbox.personas import persona_by_id
from tests.integration.sandboxkit import serve_registries


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_registries() as base:
        yield base


@pytest.fixture(autouse=True)
def healthy(url: str) -> Iterator[None]:
    httpx.delete(f"{url}/faults", trust_env=False).raise_for_status()
    yield
    httpx.delete(f"{url}/faults", trust_env=False).raise_for_status()


def faults(url: str, registry: str, **settings: Any) -> None:
    httpx.put(f"{url}/{registry}/faults", json=settings, trust_env=False).raise_for_status()


def need(key: str, connector: str, attribute: str) -> DataNeed:
    return DataNeed(
        key=key, connector=connector, attribute=attribute, purpose="Test", legal_basis="§ 1 Test"
    )


NEEDS = [
    need("name", "melderegister", "familienname"),
    need("strasse", "melderegister", "anschrift.strasse"),
    need("hausnummer", "melderegister", "anschrift.hausnummer"),
    need("plz", "melderegister", "anschrift.plz"),
    need("fahrzeuge", "kfz-zulassungsregister", "anzahl_fahrzeuge"),
    need("kennzeichen", "kfz-zulassungsregister", "kennzeichen"),
    need("studiert", "hochschulregister", "immatrikuliert"),
    need("zone", "geodaten", "bewohnerparkgebiet"),
]


def run(
    url: str,
    persona: str = "katrin",
    *,
    needs: list[DataNeed] = NEEDS,
    registry: ConnectorRegistry | None = None,
    configs: dict[str, ConnectorConfig] | None = None,
    health: RegistryHealth | None = None,
    **config: Any,
) -> PrefillOutcome:
    registry = registry or build_default_registry()
    found = persona_by_id(persona)
    assert found is not None and found.idnr
    settings = {"base_url": url, "timeout_s": 2.0, "backoff_s": 0.05, **config}

    async def go() -> PrefillOutcome:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await prefill(
                needs,
                identity_claims={"idnr": found.idnr or "", "sub": found.sub},
                service="test",
                application_id="A-FAULT",
                actor="citizen",
                registry=registry,
                configs=configs or {c: ConnectorConfig(**settings) for c in registry},
                client=client,
                declared={(n.connector, n.attribute) for n in needs},
                health=health,
            )

    return asyncio.run(go())


def status(outcome: PrefillOutcome) -> dict[str, tuple[str, Any]]:
    return {
        key: (r.status, r.value if r.status == "ok" else r.reason)
        for key, r in outcome.results.items()
    }


def test_all_registries_healthy(url: str) -> None:
    assert status(run(url)) == {
        "name": ("ok", "Schulz"),
        "strasse": ("ok", "Lütticher Straße"),
        "hausnummer": ("ok", "9"),
        "plz": ("ok", "50674"),
        "fahrzeuge": ("ok", 1),
        "kennzeichen": ("ok", "K-KS 4711"),
        "studiert": ("ok", False),
        "zone": ("ok", "K-12"),
    }


def test_a_registry_that_is_down_fails_only_its_fields(url: str) -> None:
    faults(url, "kfz-zulassungsregister", down=True)
    outcome = run(url)
    got = status(outcome)
    assert got["fahrzeuge"] == ("failed", "registry error (HTTP 503)")
    assert got["kennzeichen"] == ("failed", "registry error (HTTP 503)")
    assert got["name"] == ("ok", "Schulz")
    assert got["zone"] == ("ok", "K-12")
    by_registry = {a.registry: a for a in outcome.accesses}
    assert by_registry["kfz-zulassungsregister"].outcome == "failed"
    assert by_registry["kfz-zulassungsregister"].attributes_returned == []
    assert by_registry["melderegister"].outcome == "ok"


def test_a_registry_slower_than_the_timeout_fails_its_fields(url: str) -> None:
    faults(url, "hochschulregister", latency_ms=1500)
    outcome = run(url, timeout_s=0.3, retries=1, deadline_s=0.7)
    assert status(outcome)["studiert"] == ("failed", "registry timed out")
    assert status(outcome)["name"] == ("ok", "Schulz")
    [access] = [a for a in outcome.accesses if a.registry == "hochschulregister"]
    assert access.outcome == "failed"


def test_malformed_json_fails_without_retry(url: str) -> None:
    faults(url, "melderegister", malformed=True)
    got = status(run(url))
    assert got["name"] == ("failed", "malformed response")
    assert got["zone"] == ("failed", "lookup key not available")
    assert got["fahrzeuge"] == ("ok", 1)


def test_a_404_from_a_wrong_address_is_a_failure_not_an_unknown_person(url: str) -> None:
    registry = build_default_registry()
    configs = {c: ConnectorConfig(base_url=url) for c in registry}
    configs["melderegister"] = ConnectorConfig(base_url=f"{url}/falscher-pfad")
    got = status(run(url, registry=registry, configs=configs))
    assert got["name"] == ("failed", "registry endpoint not found (HTTP 404)")


def test_a_person_the_register_does_not_know_is_empty(url: str) -> None:
    got = status(run(url, "unbekannt"))
    assert got["name"] == ("empty", "person not registered")
    assert got["fahrzeuge"] == ("ok", 0)
    assert got["zone"] == ("failed", "lookup key not available")


def test_an_auskunftssperre_withholds_the_address_and_what_depends_on_it(url: str) -> None:
    got = status(run(url, "claudia"))
    assert got["name"] == ("ok", "Richter")
    assert got["strasse"] == ("failed", "withheld by the registry (Auskunftssperre, § 51 BMG)")
    assert got["zone"] == ("failed", "lookup key not available")


def test_the_circuit_opens_after_repeated_failures_and_a_probe_closes_it(url: str) -> None:
    clock = [0.0]
    health = RegistryHealth(clock=lambda: clock[0])
    melde = [need("name", "melderegister", "familienname")]
    faults(url, "melderegister", down=True)
    for _ in range(2):
        outcome = run(url, needs=melde, health=health, retries=0, circuit_failures=2)
        assert status(outcome)["name"] == ("failed", "registry error (HTTP 503)")
    assert health.state("melderegister") == "open"

    httpx.delete(f"{url}/melderegister/faults", trust_env=False).raise_for_status()
    refused = run(url, needs=melde, health=health, circuit_failures=2, circuit_open_s=30)
    assert status(refused)["name"] == ("failed", "registry temporarily unavailable (circuit open)")
    assert refused.accesses == []

    clock[0] += 31
    probe = run(url, needs=melde, health=health, circuit_failures=2, circuit_open_s=30)
    assert status(probe)["name"] == ("ok", "Schulz")
    assert health.state("melderegister") == "closed"


def test_a_registry_added_by_configuration_is_read_over_http(url: str, tmp_path: Path) -> None:
    """No Python: a YAML file maps the sandbox Hochschulregister's answer to attributes."""
    (tmp_path / "studierende.yaml").write_text(
        "id: studierende\n"
        "rest:\n"
        "  title: Studierendenregister\n"
        "  request:\n"
        "    path: /hochschulregister/v1/studierende/abfrage\n"
        '    body: {idnr: "{identifier}", attribute: "{attributes}"}\n'
        "  response:\n"
        "    record_id: record_id\n"
        "    as_of: stand\n"
        "    authority: behoerde\n"
        "    not_found: {status: 404, path: fehler, equals: person_unbekannt}\n"
        "  attributes:\n"
        "    - {name: eingeschrieben, type: boolean, path: attribute.immatrikuliert,\n"
        "       request_name: immatrikuliert}\n"
        "    - {name: semester, type: integer, path: attribute.fachsemester,\n"
        "       request_name: fachsemester}\n"
        "config:\n"
        "  timeout_s: 2\n",
        encoding="utf-8",
    )
    registry = build_default_registry(config_dir=tmp_path)
    configs = registry_configs(
        registry, default_base_url=url, default_timeout_s=5.0, config_dir=tmp_path, environ={}
    )
    needs = [need("ein", "studierende", "eingeschrieben"), need("sem", "studierende", "semester")]
    outcome = run(url, "lukas", needs=needs, registry=registry, configs=configs)
    assert outcome.results["ein"].value is True
    assert isinstance(outcome.results["sem"].value, int) and outcome.results["sem"].value >= 1
    provenance = outcome.results["ein"].provenance
    assert provenance is not None
    assert provenance.registry == "studierende"
    assert provenance.registry_title.startswith("Studierendenregister (Hochschulregister")
    assert (provenance.record_id or "").startswith("HSR-")
