"""The writable register connectors: what they send, and how each answer becomes a WriteResult."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import unquote

import httpx
import pytest

from prefill.connectors.base import ConnectorConfig, RegistryQuery, WriteRequest, WriteResult
from prefill.connectors.dogtax_register import DogTaxRegisterConnector
from prefill.connectors.permit_register import PermitRegisterConnector

CONFIG = ConnectorConfig(base_url="http://register.test/base/", timeout_s=2)
REQUEST = WriteRequest(
    idempotency_key="case-abc:writeback:0",
    operation="ausweis_eintragen",
    record={"kennzeichen": "K-EM 1964", "laufzeit_monate": 12},
    purpose="Eintragung für die Parküberwachung",
    legal_basis="§ 45 Abs. 1b StVO",
    service="bewohnerparken",
    case_id="abc",
)
RECEIPT = {"record_id": "BPA-2026-000001", "stand": "2026-03-01T10:00:00+00:00"}


def _write(
    handler: Callable[[httpx.Request], httpx.Response], request: WriteRequest = REQUEST
) -> WriteResult:
    async def go() -> WriteResult:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await PermitRegisterConnector().write(client, CONFIG, request)

    return asyncio.run(go())


def test_an_entry_is_sent_with_purpose_and_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={**RECEIPT, "duplicate": False})

    result = _write(handler)
    assert result == WriteResult(status="written", record_id="BPA-2026-000001")
    [sent] = seen
    assert sent.method == "POST"
    assert str(sent.url) == "http://register.test/base/parkausweisregister/v1/ausweise"
    assert json.loads(sent.content) == REQUEST.record
    assert sent.headers["Idempotency-Key"] == "case-abc:writeback:0"
    assert unquote(sent.headers["X-Legal-Basis"]) == "§ 45 Abs. 1b StVO"
    assert sent.headers["X-Case-Id"] == "abc"
    assert sent.headers["X-Actor"] == "system"


def test_a_repeated_key_is_reported_as_duplicate_with_the_first_record() -> None:
    result = _write(lambda _: httpx.Response(200, json={**RECEIPT, "duplicate": True}))
    assert result == WriteResult(status="duplicate", record_id="BPA-2026-000001")


@pytest.mark.parametrize(
    ("response", "reason", "retryable"),
    [
        (httpx.Response(503, json={"fehler": "register_gestoert"}), "HTTP 503", True),
        (httpx.Response(429), "HTTP 429", True),
        (
            httpx.Response(422, json={"fehler": "eintrag_ungueltig"}),
            "refused the entry (HTTP 422: eintrag_ungueltig)",
            False,
        ),
        (
            httpx.Response(409, json={"fehler": "schluessel_wiederverwendet"}),
            "HTTP 409: schluessel_wiederverwendet",
            False,
        ),
        (httpx.Response(201, json={"record": "?"}), "malformed receipt", True),
    ],
    ids=["unavailable", "rate-limited", "invalid", "key-reused", "malformed"],
)
def test_failures_say_why_and_whether_a_retry_can_help(
    response: httpx.Response, reason: str, retryable: bool
) -> None:
    result = _write(lambda _: response)
    assert result.status == "failed"
    assert result.reason is not None and reason in result.reason
    assert result.retryable is retryable


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (httpx.ConnectTimeout("slow"), "register timed out"),
        (httpx.ConnectError("refused"), "register unreachable"),
    ],
)
def test_transport_errors_are_retryable_failures(error: Exception, reason: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    assert _write(handler) == WriteResult(status="failed", reason=reason, retryable=True)


def test_an_unknown_operation_is_refused_without_a_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    result = _write(handler, REQUEST.model_copy(update={"operation": "ausweis_loeschen"}))
    assert result == WriteResult(status="failed", reason="unknown operation 'ausweis_loeschen'")


def test_the_registers_offer_writes_and_no_reads() -> None:
    assert DogTaxRegisterConnector.write_operations == ("hund_anmelden",)
    assert PermitRegisterConnector.available_attributes() == {}
    query = RegistryQuery(
        identifier="1", attributes=["kennzeichen"], purpose="p", legal_basis="l", service="s"
    )

    async def read() -> None:
        async with httpx.AsyncClient() as client:
            await PermitRegisterConnector().fetch(client, CONFIG, query)

    with pytest.raises(ValueError, match="does not offer"):
        asyncio.run(read())
