"""The generic REST connector: a registry described by configuration, replayed via MockTransport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from pydantic import ValidationError

from prefill.connectors.base import ConnectorConfig, NeedResult, RegistryQuery
from prefill.connectors.rest import RestDefinition, parse_json_path, rest_connector

RECORDINGS = Path(__file__).parent / "recordings"
BASE_URL = "http://kita.test/"
ERIKA = "86095742719"

KITA: dict[str, Any] = {
    "title": "Kita-Portal",
    "request": {
        "method": "GET",
        "path": "/api/v2/personen/{identifier}/betreuung",
        "query": {"felder": "{attributes}"},
    },
    "response": {
        "record_id": "meta.datensatz",
        "as_of": "$.meta.aktualisiert",
        "authority": "meta.stelle",
        "not_found": {"status": 404, "path": "error.code", "equals": "PERSON_NOT_FOUND"},
    },
    "attributes": [
        {
            "name": "einrichtung",
            "type": "string",
            "path": "person.betreuung.einrichtung.name",
            "description": "Name der Kita",
        },
        {"name": "traeger", "type": "string", "path": "person.betreuung.einrichtung.traeger"},
        {
            "name": "umfang",
            "type": "integer",
            "path": 'person.betreuung["betreuung.umfang"]',
            "request_name": "umfang",
        },
        {"name": "seit", "type": "date", "path": "person.betreuung.seit"},
        {"name": "beitrag", "type": "decimal", "path": "person.betreuung.beitrag"},
        {"name": "erstes_kind", "type": "string", "path": "person.kinder[0].vorname"},
        {
            "name": "drittes_kind",
            "type": "string",
            "path": "person.kinder[2].vorname",
            "missing": "empty",
        },
        {"name": "kinder", "type": "list", "path": "person.kinder", "request_name": "kinder"},
        {"name": "geschwister", "type": "string", "path": "person.geschwister"},
    ],
}


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / f"{name}.json").read_text("utf-8"))
    return data


def replay(name: str) -> Callable[[httpx.Request], httpx.Response]:
    response = recorded(name)["response"]
    return lambda request: httpx.Response(response["status"], json=response["json"])


def definition(**changes: Any) -> RestDefinition:
    return RestDefinition.model_validate({**KITA, **changes})


def fetch(
    handler: Callable[[httpx.Request], httpx.Response],
    attributes: list[str],
    *,
    spec: RestDefinition | None = None,
    identifier: str = ERIKA,
    parts: dict[str, str] | None = None,
    **config: Any,
) -> tuple[dict[str, NeedResult], list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return handler(request)

    connector = rest_connector("kita-portal", spec or definition())
    query = RegistryQuery(
        identifier=identifier,
        identifier_parts=parts or {},
        attributes=attributes,
        purpose="Kita-Beitrag berechnen",
        legal_basis="§ 90 SGB VIII",
        service="kitabeitrag",
        application_id="A-9",
    )

    async def run() -> dict[str, NeedResult]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
            settings = ConnectorConfig(**{"base_url": BASE_URL, "retries": 0, **config})
            return await connector().fetch(client, settings, query)

    return asyncio.run(run()), requests


def test_a_configured_connector_declares_what_its_configuration_says() -> None:
    connector = rest_connector("kita-portal", definition())
    specs = connector.available_attributes()
    assert connector.id == "kita-portal"
    assert connector.title == "Kita-Portal"
    assert connector.identifier == "idnr"
    assert connector.min_trust_level == "substanziell"
    assert specs["umfang"].type == "integer"
    assert specs["einrichtung"].description == "Name der Kita"
    assert list(specs) == [a["name"] for a in KITA["attributes"]]


def test_values_are_read_by_path_typed_and_carry_provenance() -> None:
    attributes = ["einrichtung", "umfang", "seit", "beitrag", "erstes_kind", "kinder"]
    results, _ = fetch(replay("rest_kita_portal_person"), attributes)

    assert {name: r.value for name, r in results.items()} == {
        "einrichtung": "Kita Sonnenschein",
        "umfang": 45,
        "seit": date(2025, 8, 1),
        "beitrag": Decimal("123.40"),
        "erstes_kind": "Mia",
        "kinder": [
            {"vorname": "Mia", "geburtsdatum": "2022-03-04"},
            {"vorname": "Ben", "geburtsdatum": "2024-01-15"},
        ],
    }
    provenance = results["einrichtung"].provenance
    assert provenance is not None
    assert provenance.registry == "kita-portal"
    assert provenance.registry_title == "Kita-Portal (Jugendamt Köln)"
    assert provenance.record_id == "4711"
    assert provenance.as_of == datetime(2026, 10, 5, 8, 15, tzinfo=timezone(timedelta(hours=2)))


def test_the_request_follows_the_templates_with_the_identifier_encoded() -> None:
    _, requests = fetch(
        replay("rest_kita_portal_person"), ["einrichtung", "umfang", "kinder"], identifier="8/6?0"
    )
    [request] = requests
    assert request.method == "GET"
    assert request.url.raw_path.split(b"?")[0] == b"/api/v2/personen/8%2F6%3F0/betreuung"
    assert request.url.params["felder"] == "einrichtung,umfang,kinder"
    assert request.content == b""
    assert unquote(request.headers["X-Legal-Basis"]) == "§ 90 SGB VIII"
    assert unquote(request.headers["X-Application-Id"]) == "A-9"


def test_a_post_body_template_gets_identifier_and_attribute_list() -> None:
    spec = definition(
        request={
            "method": "POST",
            "path": "/abfrage",
            "body": {"person": {"id": "{identifier}"}, "felder": "{attributes}", "v": 2},
        }
    )
    _, requests = fetch(replay("rest_kita_portal_person"), ["seit", "umfang"], spec=spec)
    assert json.loads(requests[0].content) == {
        "person": {"id": ERIKA},
        "felder": ["seit", "umfang"],
        "v": 2,
    }


def test_a_null_is_empty_an_absent_path_fails_unless_configured_empty() -> None:
    results, _ = fetch(
        replay("rest_kita_portal_person"), ["traeger", "drittes_kind", "geschwister"]
    )
    assert (results["traeger"].status, results["traeger"].reason) == ("empty", "not held")
    assert (results["drittes_kind"].status, results["drittes_kind"].reason) == (
        "empty",
        "not held",
    )
    assert (results["geschwister"].status, results["geschwister"].reason) == (
        "failed",
        "attribute missing from response",
    )


def test_the_registrys_own_unknown_code_means_empty() -> None:
    results, _ = fetch(replay("rest_kita_portal_unbekannt"), ["einrichtung", "umfang"])
    assert {(r.status, r.reason) for r in results.values()} == {("empty", "person not registered")}


def test_a_404_without_the_code_fails_and_so_does_any_404_without_a_rule() -> None:
    bare = lambda request: httpx.Response(404, json={"detail": "Not Found"})  # noqa: E731
    results, _ = fetch(bare, ["einrichtung"])
    assert results["einrichtung"].reason == "registry endpoint not found (HTTP 404)"

    no_rule = definition(response={**KITA["response"], "not_found": None})
    results, _ = fetch(replay("rest_kita_portal_unbekannt"), ["einrichtung"], spec=no_rule)
    assert results["einrichtung"].status == "failed"


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (lambda r: httpx.Response(200, content=b"{not json"), "malformed response"),
        (lambda r: httpx.Response(200, json={"meta": {"aktualisiert": 5}}), "malformed response"),
        (
            lambda r: httpx.Response(200, json={"meta": {"aktualisiert": "2026-10-05T08:15:00"}}),
            "malformed response",
        ),
        (lambda r: httpx.Response(403, json={"error": "forbidden"}), "HTTP 403"),
    ],
)
def test_broken_answers_fail_every_attribute(
    handler: Callable[[httpx.Request], httpx.Response], reason: str
) -> None:
    results, _ = fetch(handler, ["einrichtung", "umfang"])
    assert {r.status for r in results.values()} == {"failed"}
    assert all(reason in (r.reason or "") for r in results.values())


def test_a_value_of_the_wrong_type_fails_only_its_attribute() -> None:
    body = recorded("rest_kita_portal_person")["response"]["json"]
    body["person"]["betreuung"]["betreuung.umfang"] = "45 Stunden"
    results, _ = fetch(lambda request: httpx.Response(200, json=body), ["umfang", "einrichtung"])
    assert results["umfang"].reason == "malformed value in response"
    assert results["einrichtung"].status == "ok"


def test_without_an_as_of_path_the_time_of_the_read_is_the_as_of() -> None:
    spec = definition(response={"not_found": None})
    before = datetime.now(UTC)
    results, _ = fetch(replay("rest_kita_portal_person"), ["einrichtung"], spec=spec)
    provenance = results["einrichtung"].provenance
    assert provenance is not None
    assert provenance.as_of >= before
    assert (provenance.record_id, provenance.registry_title) == (None, "Kita-Portal")


def test_transient_failures_are_retried_like_any_shipped_connector() -> None:
    answers = [httpx.Response(503), None]

    def flaky(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        return answer or replay("rest_kita_portal_person")(request)

    results, requests = fetch(flaky, ["einrichtung"], retries=1, backoff_s=0.0)
    assert len(requests) == 2
    assert results["einrichtung"].value == "Kita Sonnenschein"


def test_a_keyed_connector_fills_key_placeholders_and_waits_for_its_source() -> None:
    spec = definition(
        keyed_by=[
            {"connector": "melderegister", "attribute": "anschrift.plz"},
            {"connector": "melderegister", "attribute": "anschrift.strasse"},
        ],
        request={
            "method": "POST",
            "path": "/zonen",
            "body": {"plz": "{key:anschrift.plz}", "adresse": "{key:anschrift.strasse} (Köln)"},
        },
    )
    connector = rest_connector("kita-portal", spec)
    assert connector.keyed_by == (
        ("melderegister", "anschrift.plz"),
        ("melderegister", "anschrift.strasse"),
    )
    _, requests = fetch(
        replay("rest_kita_portal_person"),
        ["einrichtung"],
        spec=spec,
        parts={"anschrift.plz": "51147", "anschrift.strasse": "Heidestraße"},
    )
    assert json.loads(requests[0].content) == {"plz": "51147", "adresse": "Heidestraße (Köln)"}


def test_an_undeclared_attribute_is_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="religion"):
        fetch(replay("rest_kita_portal_person"), ["einrichtung", "religion"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"request": {"method": "GET", "path": "/x/{idnr}"}}, "unknown placeholder {idnr}"),
        ({"request": {"method": "GET", "path": "/x", "body": {"a": 1}}}, "GET request cannot"),
        ({"request": {"path": "/x/{attributes}"}}, "whole value"),
        ({"request": {"path": "x"}}, "must start with '/'"),
        ({"attributes": [KITA["attributes"][0], KITA["attributes"][0]]}, "listed twice"),
        (
            {"attributes": [{"name": "a", "type": "string", "path": "a..b"}]},
            "cannot read path",
        ),
        ({"attributes": [{"name": "A b", "type": "string", "path": "a"}]}, "pattern"),
        ({"attributes": [{"name": "a", "type": "text", "path": "a"}]}, "Input should be"),
        ({"attributes": []}, "at least 1"),
        ({"response": {"not_found": {"path": "error.code"}}}, "both path and equals"),
    ],
)
def test_a_broken_definition_is_refused_with_a_clear_message(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        definition(**changes)


def test_connector_ids_are_checked() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        rest_connector("Kita Portal", definition())


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$.a.b[0].c", ("a", "b", 0, "c")),
        ('a["x.y"][12]', ("a", "x.y", 12)),
        ("a-b.c_d", ("a-b", "c_d")),
    ],
)
def test_json_paths(path: str, steps: tuple[str | int, ...]) -> None:
    assert parse_json_path(path) == steps
