"""The Melderegister connector against recorded registry responses, replayed via MockTransport."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from pydantic import SecretStr

from prefill.connectors.base import ConnectorConfig, NeedResult, RegistryQuery
from prefill.connectors.melderegister import MelderegisterConnector
from sandbox.registries import build_registries_app

RECORDINGS = Path(__file__).parent / "recordings"
BASE_URL = "http://melderegister.test"
ERIKA = "86095742719"
NINE = [
    "familienname",
    "vornamen",
    "geburtsdatum",
    "geburtsort",
    "anschrift.strasse",
    "anschrift.hausnummer",
    "anschrift.plz",
    "anschrift.ort",
    "einzugsdatum",
]

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def replay(name: str) -> Callable[[httpx.Request], httpx.Response]:
    """Answer like the recorded registry did, trimmed to the attributes this request asks for."""
    response = recording(name)["response"]

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(json.dumps(response["json"]))
        if response["status"] == 200:
            asked = json.loads(request.content)["attribute"]
            body["attribute"] = {k: v for k, v in body["attribute"].items() if k in asked}
        return httpx.Response(response["status"], json=body)

    return handler


class Transport:
    """Counts and keeps requests so tests can prove how many reads went out and what they said."""

    def __init__(self, *handlers: Handler) -> None:
        self.handlers = list(handlers)
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.handlers[min(len(self.requests), len(self.handlers)) - 1]
        response = handler(request)
        if not isinstance(response, httpx.Response):
            response = await response
        return response


def query(attributes: list[str], **overrides: Any) -> RegistryQuery:
    values: dict[str, Any] = {
        "identifier": ERIKA,
        "attributes": attributes,
        "purpose": "Ausstellung einer Meldebescheinigung",
        "legal_basis": "§ 18 Abs. 1 BMG",
        "service": "meldebescheinigung",
        "application_id": "A-2024-000042",
        "actor": "citizen",
    }
    values.update(overrides)
    return RegistryQuery(**values)


def fetch(transport: Transport, q: RegistryQuery, *, retries: int = 2) -> dict[str, NeedResult]:
    async def run() -> dict[str, NeedResult]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
            config = ConnectorConfig(base_url=BASE_URL, timeout_s=1.0, retries=retries)
            return await MelderegisterConnector().fetch(client, config, q)

    return asyncio.run(run())


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Record the backoff delays instead of waiting them out."""
    delays: list[float] = []
    real_sleep = asyncio.sleep
    test_thread = threading.get_ident()

    async def fake_sleep(delay: float, *args: object) -> None:
        # Servers of other tests may run event loops in background threads: leave those alone.
        if threading.get_ident() != test_thread:
            await real_sleep(delay, *args)
            return
        delays.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    yield delays


def fail_with(status: int, content: bytes = b"") -> Handler:
    return lambda request: httpx.Response(status, content=content)


def raise_(exc_type: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return handler


def test_declares_identity_trust_and_typed_attributes() -> None:
    specs = MelderegisterConnector.available_attributes()
    assert MelderegisterConnector.id == "melderegister"
    assert MelderegisterConnector.identifier == "idnr"
    assert MelderegisterConnector.min_trust_level == "substanziell"
    assert {name: spec.type for name, spec in specs.items() if spec.type != "string"} == {
        "geburtsdatum": "date",
        "einzugsdatum": "date",
        "auskunftssperre": "boolean",
        "haushalt.personen": "integer",
        "haushalt.minderjaehrige": "integer",
        "kinder": "list",
        "gesetzliche_vertreter": "list",
    }
    assert set(NINE) | {"geburtsname", "staatsangehoerigkeit", "familienstand"} < set(specs)
    assert all(spec.description for spec in specs.values())


def test_ok_values_carry_provenance() -> None:
    transport = Transport(replay("melderegister_erika_all_attributes"))
    results = fetch(transport, query([*NINE, "auskunftssperre", "staatsangehoerigkeit"]))

    values = {name: r.value for name, r in results.items()}
    assert values == {
        "familienname": "Mustermann",
        "vornamen": "Erika",
        "geburtsdatum": date(1964, 8, 12),
        "geburtsort": "Berlin",
        "anschrift.strasse": "Heidestraße",
        "anschrift.hausnummer": "17",
        "anschrift.plz": "51147",
        "anschrift.ort": "Köln",
        "einzugsdatum": date(2009, 4, 1),
        "auskunftssperre": False,
        "staatsangehoerigkeit": "deutsch",
    }
    assert {r.status for r in results.values()} == {"ok"}
    provenance = results["familienname"].provenance
    assert provenance is not None
    assert provenance.registry == "melderegister"
    assert provenance.registry_title == "Melderegister (Stadt Köln – Meldebehörde)"
    assert (
        provenance.record_id
        == recording("melderegister_erika_all_attributes")["response"]["json"]["record_id"]
    )
    assert provenance.as_of == datetime(2009, 4, 4, 9, 30, tzinfo=UTC)


def test_one_request_for_all_attributes_with_purpose_headers() -> None:
    transport = Transport(replay("melderegister_erika_all_attributes"))
    fetch(transport, query([*NINE, "familienname"]))

    assert len(transport.requests) == 1
    request = transport.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{BASE_URL}/melderegister/v1/personen/abfrage"
    assert json.loads(request.content) == {"idnr": ERIKA, "attribute": NINE}
    sent = {
        name: unquote(request.headers[name])
        for name in ("X-Purpose", "X-Legal-Basis", "X-Service", "X-Actor", "X-Application-Id")
    }
    assert sent == {
        "X-Purpose": "Ausstellung einer Meldebescheinigung",
        "X-Legal-Basis": "§ 18 Abs. 1 BMG",
        "X-Service": "meldebescheinigung",
        "X-Actor": "citizen",
        "X-Application-Id": "A-2024-000042",
    }


def test_a_read_for_a_case_names_the_case() -> None:
    transport = Transport(replay("melderegister_erika_all_attributes"))
    fetch(transport, query(["familienname"], application_id=None, case_id="C-42", actor="clerk-7"))

    request = transport.requests[0]
    assert unquote(request.headers["X-Case-Id"]) == "C-42"
    assert unquote(request.headers["X-Actor"]) == "clerk-7"
    assert "X-Application-Id" not in request.headers


def test_an_address_under_auskunftssperre_is_withheld_and_marked_failed() -> None:
    """§ 51 BMG: the register withholds the address; a person must look, so the field fails."""
    transport = Transport(replay("melderegister_claudia_auskunftssperre"))
    attributes = ["familienname", "anschrift.strasse", "anschrift.plz", "auskunftssperre"]
    results = fetch(transport, query(attributes, identifier="45386140836"))

    assert results["familienname"].value == "Richter"
    assert results["auskunftssperre"].value is True
    for name in ("anschrift.strasse", "anschrift.plz"):
        assert results[name].status == "failed"
        assert results[name].reason == "withheld by the registry (Auskunftssperre, § 51 BMG)"
        assert results[name].value is None
        # Withheld, not unreachable: the portal and the console say so.
        assert results[name].blocked is True
    assert results["familienname"].blocked is False


@pytest.mark.parametrize(
    ("hint", "reason"),
    [
        ("neuer_grund", "not delivered by the registry (neuer_grund)"),
        ("Erika Mustermann wohnt ...", "not delivered by the registry (unexplained)"),
    ],
)
def test_a_null_with_an_unknown_hint_fails_and_leaks_nothing(hint: str, reason: str) -> None:
    body = recording("melderegister_erika_all_attributes")["response"]["json"]
    body["attribute"]["geburtsort"] = None
    body["hinweise"] = {"geburtsort": hint}
    transport = Transport(lambda request: httpx.Response(200, json=body))
    results = fetch(transport, query(["geburtsort"]))

    assert (results["geburtsort"].status, results["geburtsort"].reason) == ("failed", reason)


def test_a_slow_registry_is_cut_off_at_the_deadline_not_after_every_retry() -> None:
    """Six attempts of 0.1 s would be allowed by the retries; the 0.25 s deadline allows three."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    transport = Transport(slow)

    async def run() -> dict[str, NeedResult]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
            config = ConnectorConfig(
                base_url=BASE_URL, timeout_s=0.1, retries=5, backoff_s=0.0, deadline_s=0.25
            )
            return await MelderegisterConnector().fetch(client, config, query(["familienname"]))

    results = asyncio.run(run())
    assert (results["familienname"].status, results["familienname"].reason) == (
        "failed",
        "registry timed out",
    )
    # At most three, never the six the retries allow. On a loaded CI machine the event loop may
    # start the first attempt so late that the deadline leaves no second one (CI saw 1), so the
    # lower bound is one: the claim is the cut-off, not how many attempts fit before it.
    assert 1 <= len(transport.requests) <= 3


def test_credentials_from_the_configuration_travel_with_every_read() -> None:
    transport = Transport(replay("melderegister_erika_all_attributes"))

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
            config = ConnectorConfig(
                base_url=BASE_URL, auth_headers={"Authorization": SecretStr("Bearer s3cret")}
            )
            await MelderegisterConnector().fetch(client, config, query(["familienname"]))

    asyncio.run(run())
    assert transport.requests[0].headers["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(
        ConnectorConfig(base_url=BASE_URL, auth_headers={"X": SecretStr("s3cret")})
    )


def test_application_id_header_is_left_out_before_there_is_an_application() -> None:
    transport = Transport(replay("melderegister_erika_all_attributes"))
    fetch(transport, query(["familienname"], application_id=None))
    assert "X-Application-Id" not in transport.requests[0].headers


def test_null_attribute_is_empty_without_provenance() -> None:
    transport = Transport(replay("melderegister_erika_all_attributes"))
    results = fetch(transport, query(["geburtsname", "familienname"]))

    assert results["geburtsname"].status == "empty"
    assert results["geburtsname"].value is None
    assert results["geburtsname"].provenance is None
    assert results["familienname"].status == "ok"


def test_unknown_person_makes_every_attribute_empty_without_retry() -> None:
    transport = Transport(replay("melderegister_person_unbekannt"))
    results = fetch(transport, query(NINE, identifier="61835902741"))

    assert set(results) == set(NINE)
    assert {(r.status, r.reason) for r in results.values()} == {("empty", "person not registered")}
    assert len(transport.requests) == 1


def test_a_bare_404_is_a_failure_not_an_unknown_person() -> None:
    transport = Transport(lambda request: httpx.Response(404, json={"detail": "Not Found"}))
    results = fetch(transport, query(["familienname"]))
    assert results["familienname"].status == "failed"


def test_500_then_success_is_retried_after_backoff(backoffs: list[float]) -> None:
    transport = Transport(fail_with(500), replay("melderegister_erika_all_attributes"))
    results = fetch(transport, query(NINE))

    assert len(transport.requests) == 2
    assert backoffs == [0.1]
    assert {r.status for r in results.values()} == {"ok"}
    assert results["anschrift.plz"].value == "51147"


def test_persistent_500_fails_every_attribute_after_all_retries(backoffs: list[float]) -> None:
    transport = Transport(fail_with(500, b"Internal Server Error"))
    results = fetch(transport, query(NINE), retries=2)

    assert len(transport.requests) == 3
    assert backoffs == [0.1, 0.2]
    assert {(r.status, r.reason) for r in results.values()} == {
        ("failed", "registry error (HTTP 500)")
    }


def test_no_retries_when_configured_so(backoffs: list[float]) -> None:
    transport = Transport(fail_with(503))
    results = fetch(transport, query(["familienname"]), retries=0)
    assert len(transport.requests) == 1
    assert backoffs == []
    assert results["familienname"].status == "failed"


def test_malformed_json_fails_without_retry(backoffs: list[float]) -> None:
    transport = Transport(
        lambda request: httpx.Response(
            200,
            content=b'{"record_id": "MR-1", "attribute": {',
            headers={"content-type": "application/json"},
        )
    )
    results = fetch(transport, query(NINE))

    assert len(transport.requests) == 1
    assert {(r.status, r.reason) for r in results.values()} == {("failed", "malformed response")}


def test_json_of_the_wrong_shape_is_malformed() -> None:
    transport = Transport(lambda request: httpx.Response(200, json={"familienname": "Mustermann"}))
    results = fetch(transport, query(["familienname"]))
    assert results["familienname"].status == "failed"
    assert results["familienname"].reason == "malformed response"


def test_a_value_of_the_wrong_type_fails_only_that_attribute() -> None:
    body = recording("melderegister_erika_all_attributes")["response"]["json"]
    body["attribute"]["geburtsdatum"] = "12.08.1964"
    transport = Transport(lambda request: httpx.Response(200, json=body))
    results = fetch(transport, query(["geburtsdatum", "familienname"]))

    assert results["geburtsdatum"].status == "failed"
    assert results["familienname"].status == "ok"


def test_an_attribute_the_answer_leaves_out_fails() -> None:
    body = recording("melderegister_erika_all_attributes")["response"]["json"]
    del body["attribute"]["geburtsort"]
    transport = Transport(lambda request: httpx.Response(200, json=body))
    results = fetch(transport, query(["geburtsort", "familienname"]))

    assert results["geburtsort"].status == "failed"
    assert results["familienname"].status == "ok"


def test_timeout_is_retried_then_fails(backoffs: list[float]) -> None:
    transport = Transport(raise_(httpx.ReadTimeout))
    results = fetch(transport, query(NINE), retries=1)

    assert len(transport.requests) == 2
    assert backoffs == [0.1]
    assert {(r.status, r.reason) for r in results.values()} == {("failed", "registry timed out")}


def test_connection_error_then_success(backoffs: list[float]) -> None:
    transport = Transport(raise_(httpx.ConnectError), replay("melderegister_erika_all_attributes"))
    results = fetch(transport, query(["familienname"]))
    assert len(transport.requests) == 2
    assert results["familienname"].status == "ok"


def test_a_rejected_request_is_not_retried(backoffs: list[float]) -> None:
    transport = Transport(replay("melderegister_zweckbindung_fehlt"))
    results = fetch(transport, query(["familienname"]))

    assert len(transport.requests) == 1
    assert results["familienname"].status == "failed"
    assert (
        results["familienname"].reason
        == "registry rejected the request (HTTP 400: zweckbindung_fehlt)"
    )


@pytest.mark.parametrize(
    "handler",
    [fail_with(500), fail_with(200, b"not json"), raise_(httpx.ConnectTimeout), fail_with(418)],
)
def test_failure_reasons_carry_no_personal_data(handler: Handler, backoffs: list[float]) -> None:
    results = fetch(Transport(handler), query(["familienname"]))
    reason = results["familienname"].reason or ""
    assert results["familienname"].status == "failed"
    assert reason
    assert ERIKA not in reason
    assert "Mustermann" not in reason


def test_an_attribute_the_registry_does_not_offer_is_refused_before_any_request() -> None:
    transport = Transport(replay("melderegister_erika_all_attributes"))
    with pytest.raises(ValueError, match="religion"):
        fetch(transport, query(["familienname", "religion"]))
    assert transport.requests == []


@pytest.mark.parametrize(
    "name",
    [
        "melderegister_erika_all_attributes",
        "melderegister_person_unbekannt",
        "melderegister_zweckbindung_fehlt",
        "melderegister_claudia_auskunftssperre",
    ],
)
def test_recordings_still_match_the_sandbox_registry(name: str) -> None:
    """A recording that drifted from the sandbox would let the tests above pass on fiction."""
    recorded = recording(name)
    purpose_headers = {
        "X-Purpose": "Test",
        "X-Legal-Basis": "%C2%A7 18 Abs. 1 BMG",
        "X-Service": "meldebescheinigung",
        "X-Actor": "citizen",
    }
    headers = {} if name.endswith("zweckbindung_fehlt") else purpose_headers
    if name.endswith("auskunftssperre"):
        # Recorded as a third party's read (the recorder's "§ 1 Test"): under § 18 BMG the
        # register releases Claudia's address to her own certificate (test below).
        headers = {**purpose_headers, "X-Legal-Basis": "%C2%A7 34 Abs. 1 BMG"}

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_registries_app())
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            return await client.post(
                recorded["request"]["path"], json=recorded["request"]["json"], headers=headers
            )

    response = asyncio.run(run())
    assert response.status_code == recorded["response"]["status"]
    assert response.json() == recorded["response"]["json"]


def test_a_transport_error_no_retry_can_fix_is_not_retried(backoffs: list[float]) -> None:
    transport = Transport(raise_(httpx.UnsupportedProtocol))
    results = fetch(transport, query(["familienname"]))

    assert len(transport.requests) == 1
    assert backoffs == []
    assert results["familienname"].status == "failed"
    assert results["familienname"].reason == "registry request failed (UnsupportedProtocol)"


def test_the_register_releases_a_blocked_address_to_the_persons_own_certificate() -> None:
    """§ 51 BMG bars disclosure to third parties, not to the person: a read under § 18 BMG
    gets Claudia's address, marked as blocked, while a read under § 34 BMG gets nothing."""
    body = {"idnr": "45386140836", "attribute": ["anschrift.strasse", "familienname"]}

    async def read(legal_basis: str) -> dict[str, Any]:
        headers = {
            "X-Purpose": "Test",
            "X-Legal-Basis": legal_basis,
            "X-Service": "test",
            "X-Actor": "citizen",
        }
        transport = httpx.ASGITransport(app=build_registries_app())
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            response = await client.post(
                "/melderegister/v1/personen/abfrage", json=body, headers=headers
            )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    own = asyncio.run(read("%C2%A7 18 Abs. 1 BMG"))
    assert own["attribute"]["anschrift.strasse"] == "Weißhausstraße"
    assert own["hinweise"] == {"anschrift.strasse": "auskunftssperre_eigene"}
    other = asyncio.run(read("%C2%A7 34 Abs. 1 BMG"))
    assert other["attribute"]["anschrift.strasse"] is None
    assert other["hinweise"] == {"anschrift.strasse": "auskunftssperre"}
    assert other["attribute"]["familienname"] == own["attribute"]["familienname"] == "Richter"
