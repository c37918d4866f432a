"""Prefill when registries misbehave: circuit breaker, keyed reads, case-bound reads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from prefill.configuration import build_default_registry
from prefill.connectors.base import ConnectorConfig
from prefill.connectors.registry import ConnectorRegistry
from prefill.health import RegistryHealth
from prefill.service import DataNeed, PrefillError, PrefillOutcome, prefill

RECORDINGS = Path(__file__).parent / "recordings"
ERIKA = {"idnr": "86095742719", "sub": "c0a1f6e2-5b7d-4e55-9a2e-0f3c9d1e7a01"}
Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / f"{name}.json").read_text("utf-8"))
    return data


def melde_answer(request: httpx.Request) -> httpx.Response:
    body = recorded("melderegister_erika_all_attributes")["response"]["json"]
    asked = json.loads(request.content)["attribute"]
    return httpx.Response(200, json={**body, "attribute": {k: body["attribute"][k] for k in asked}})


def geo_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=recorded("geodaten_outside_zones")["response"]["json"])


def unavailable(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json={"fehler": "register_nicht_erreichbar"})


class Registries:
    """Routes by the first path segment and keeps every request."""

    def __init__(self, **by_registry: Handler) -> None:
        self.by_registry = by_registry
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.by_registry[request.url.path.split("/")[1]](request)
        return response if isinstance(response, httpx.Response) else await response

    def paths(self) -> list[str]:
        return [request.url.path.split("/")[1] for request in self.requests]


def need(key: str, connector: str, attribute: str) -> DataNeed:
    return DataNeed(
        key=key, connector=connector, attribute=attribute, purpose="Test", legal_basis="§ 1 Test"
    )


ADDRESS_NEEDS = [
    need("strasse", "melderegister", "anschrift.strasse"),
    need("hausnummer", "melderegister", "anschrift.hausnummer"),
    need("plz", "melderegister", "anschrift.plz"),
]
ZONE = need("zone", "geodaten", "in_bewohnerparkgebiet")


def configs(registry: ConnectorRegistry, **overrides: Any) -> dict[str, ConnectorConfig]:
    values = {"base_url": "http://registries.test", "retries": 0, **overrides}
    return {connector: ConnectorConfig(**values) for connector in registry}


def run(
    needs: list[DataNeed],
    registries: Registries,
    *,
    health: RegistryHealth | None = None,
    declared: set[tuple[str, str]] | None = None,
    case_id: str | None = None,
    claims: Mapping[str, str] = ERIKA,
    **config: Any,
) -> PrefillOutcome:
    registry = build_default_registry()

    async def go() -> PrefillOutcome:
        async with httpx.AsyncClient(transport=httpx.MockTransport(registries)) as client:
            return await prefill(
                needs,
                identity_claims=claims,
                service="test",
                application_id=None if case_id else "A-1",
                case_id=case_id,
                actor="clerk-buergeramt" if case_id else "citizen",
                registry=registry,
                configs=configs(registry, **config),
                client=client,
                declared=declared or {(n.connector, n.attribute) for n in needs},
                health=health,
            )

    return asyncio.run(go())


async def slow_melde_answer(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(0.05)
    return melde_answer(request)


def test_a_registry_keyed_by_held_data_is_read_with_it_after_its_source() -> None:
    registries = Registries(melderegister=slow_melde_answer, geodaten=geo_answer)
    outcome = run([ZONE, *ADDRESS_NEEDS], registries)

    assert registries.paths() == ["melderegister", "geodaten"]
    assert json.loads(registries.requests[1].content) == {
        "anschrift": {"strasse": "Heidestraße", "hausnummer": "17", "plz": "51147"},
        "attribute": ["in_bewohnerparkgebiet"],
    }
    assert "Heidestra" not in str(registries.requests[1].url), "an address stays out of URLs"
    assert outcome.results["zone"].status == "ok"
    assert outcome.results["zone"].value is False
    assert [a.registry for a in outcome.accesses] == ["melderegister", "geodaten"]


def test_without_its_key_a_keyed_registry_is_not_asked_and_its_field_fails() -> None:
    registries = Registries(melderegister=unavailable, geodaten=geo_answer)
    outcome = run([*ADDRESS_NEEDS, ZONE], registries)

    assert registries.paths() == ["melderegister"]
    assert (outcome.results["zone"].status, outcome.results["zone"].reason) == (
        "failed",
        "lookup key not available",
    )
    assert [a.registry for a in outcome.accesses] == ["melderegister"]


def test_a_run_asking_again_for_the_keyed_field_only_fails_it_instead_of_crashing() -> None:
    registries = Registries(melderegister=melde_answer, geodaten=geo_answer)
    declared = {(n.connector, n.attribute) for n in [*ADDRESS_NEEDS, ZONE]}
    outcome = run([ZONE], registries, declared=declared)

    assert registries.requests == []
    assert outcome.results["zone"].status == "failed"


def test_a_keyed_registry_whose_key_is_not_declared_is_refused() -> None:
    """Data minimisation: prefill never reads the address only to look up something else."""
    registries = Registries(melderegister=melde_answer, geodaten=geo_answer)
    with pytest.raises(PrefillError, match=r"melderegister\.anschrift\.hausnummer"):
        run([ZONE, ADDRESS_NEEDS[0], ADDRESS_NEEDS[2]], registries)
    assert registries.requests == []


def test_an_open_circuit_skips_the_registry_and_logs_no_read() -> None:
    health = RegistryHealth()
    registries = Registries(melderegister=unavailable)
    name = [need("name", "melderegister", "familienname")]
    for _ in range(2):
        outcome = run(name, registries, health=health, circuit_failures=2)
        assert outcome.results["name"].reason == "registry error (HTTP 503)"
        assert [a.outcome for a in outcome.accesses] == ["failed"]

    outcome = run(name, registries, health=health, circuit_failures=2)
    assert len(registries.requests) == 2, "the third read must not go out"
    assert (outcome.results["name"].status, outcome.results["name"].reason) == (
        "failed",
        "registry temporarily unavailable (circuit open)",
    )
    assert outcome.accesses == []
    assert health.snapshot()["melderegister"] == {
        "circuit": "open",
        "reads": 2,
        "failed": 2,
        "refused_by_circuit": 1,
    }


def test_a_partly_answered_read_keeps_the_circuit_closed() -> None:
    """An Auskunftssperre fails two fields, but the registry answered: it is healthy."""
    health = RegistryHealth()

    def claudia(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=recorded("melderegister_claudia_auskunftssperre")["response"]["json"]
        )

    needs = [
        need("name", "melderegister", "familienname"),
        need("strasse", "melderegister", "anschrift.strasse"),
    ]
    for _ in range(3):
        outcome = run(needs, Registries(melderegister=claudia), health=health, circuit_failures=1)
        assert outcome.results["strasse"].status == "failed"
    assert health.state("melderegister") == "closed"


def test_a_read_for_a_case_by_a_clerk_is_bound_to_the_case_and_logged_so() -> None:
    registries = Registries(melderegister=melde_answer)
    outcome = run([need("name", "melderegister", "familienname")], registries, case_id="C-7")

    headers = registries.requests[0].headers
    assert unquote(headers["X-Case-Id"]) == "C-7"
    assert unquote(headers["X-Actor"]) == "clerk-buergeramt"
    [access] = outcome.accesses
    assert (access.case_id, access.application_id, access.actor) == (
        "C-7",
        None,
        "clerk-buergeramt",
    )
