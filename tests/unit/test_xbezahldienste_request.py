"""XBezahldienste 1.2.0: the PaymentRequest we build is what the official schema allows, and a
broken one is refused by our own check before anything is sent."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from backend.payments.provider import OrderItem, PaymentOrder, ProviderUnavailable
from backend.payments.xbezahldienste import (
    RequestRefused,
    XBezahldiensteProvider,
    check_payment_request,
    payment_request,
    read_transaction,
)
from tests.livesrv import free_port
from tests.xbezahldienste_spec import errors

NOW = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)


def _order(**changes: Any) -> PaymentOrder:
    fields: dict[str, Any] = {
        "payment_id": "3f2b9c0d4e5f60718293a4b5c6d7e8f9",
        "amount": Decimal("36.50"),
        "currency": "EUR",
        "description": "Bewohnerparkausweis, Aktenzeichen KD-2026-ABCD-EFGH",
        "reference": "KD-2026-ABCD-EFGH",
        "return_url": "https://portal.example/cases/1",
        "webhook_url": "https://portal.example/api/v1/payments/webhooks/xbezahldienste",
        "kassenzeichen": "6620-2026-ABCD-EFGH",
        "items": (
            OrderItem(
                "gebuehr",
                "Gebühr für den Bewohnerparkausweis",
                Decimal("30.00"),
                {"haushaltsstelle": "12.2.01.1", "sachkonto": "4321000"},
            ),
            OrderItem("ausfertigung", "Zweitausfertigung", Decimal("6.50"), {}),
        ),
        "status_return_url": "https://portal.example/api/v1/payments/return/3f2b",
        "endpoint_id": "05315000",
    }
    fields.update(changes)
    return PaymentOrder(**fields)


def test_the_request_carries_kassenzeichen_and_booking_data_and_fits_the_schema() -> None:
    body = payment_request(_order(), now=NOW)
    assert errors("PaymentRequest", body) == []
    assert check_payment_request(body) == []
    assert body["purpose"] == "6620-2026-ABCD-EFGH"
    assert body["grossAmount"] == 36.5 and body["currency"] == "EUR"
    assert body["redirectUrl"].endswith("/api/v1/payments/return/3f2b")
    first, second = body["items"]
    assert first["bookingData"] == {
        "haushaltsstelle": "12.2.01.1",
        "sachkonto": "4321000",
        "kassenzeichen": "6620-2026-ABCD-EFGH",
    }
    assert second["bookingData"] == {"kassenzeichen": "6620-2026-ABCD-EFGH"}
    assert first["totalNetAmount"] + second["totalNetAmount"] == body["grossAmount"]
    assert "requestor" not in body  # data minimisation: the platform needs no name or address


BROKEN: list[tuple[str, Any, bool]] = [
    # (what, change to the body, does the official schema catch it too?)
    ("purpose too long", lambda b: b.update(purpose="X" * 28), True),
    ("purpose with a slash", lambda b: b.update(purpose="6620/2026"), True),
    ("unknown key", lambda b: b.update(kassenzeichen="6620"), True),
    ("no items", lambda b: b.update(items=[]), True),
    ("zero amount", lambda b: b.update(grossAmount=0), True),
    ("booking value with a colon", lambda b: b["items"][0]["bookingData"].update(x="a:b"), True),
    ("requestId too long", lambda b: b.update(requestId="a" * 37), True),
    # The sum is the platform's CALCULATION_ERROR: no schema can say it, our check does.
    ("gross is not the sum", lambda b: b.update(grossAmount=40.0), False),
    ("third decimal", lambda b: b["items"][1].update(totalNetAmount=6.505), False),
]


@pytest.mark.parametrize(("what", "change", "schema_too"), BROKEN, ids=[b[0] for b in BROKEN])
def test_our_check_refuses_what_the_standard_does_not_allow(
    what: str, change: Any, schema_too: bool
) -> None:
    body = copy.deepcopy(payment_request(_order(), now=NOW))
    change(body)
    assert check_payment_request(body), what
    assert bool(errors("PaymentRequest", body)) is schema_too


def test_a_broken_request_is_refused_before_it_is_sent() -> None:
    # Nothing listens on this port: had the request left, the answer would be "unreachable".
    provider = XBezahldiensteProvider(
        base_url=f"http://127.0.0.1:{free_port()}/api/v1",
        api_key="k" * 32,
        originator_id="knopfdruck",
        endpoint_id="05315000",
    )
    with pytest.raises(RequestRefused) as refused:
        provider.create(_order(kassenzeichen="6620/2026 ABCD EFGH mit Leerzeichen"))
    assert any(p.startswith("purpose") for p in refused.value.problems)
    with pytest.raises(ProviderUnavailable):
        provider.create(_order())  # the sound one is sent, and finds nobody


def test_a_transaction_is_read_as_the_spec_describes_it() -> None:
    body = payment_request(_order(), now=NOW)
    answer = {
        "paymentInformation": {
            "transactionUrl": "https://pay.example/api/v1/paymenttransaction/k/05315000/9xxd-43",
            "transactionRedirectUrl": "https://pay.example/paypage/9xxd-43",
            "transactionId": "9xxd-43",
            "transactionReference": "6620-2026-ABCD-EFGH",
            "transactionTimestamp": "2026-12-04T11:32:00.711Z",
            "paymentMethod": "CREDITCARD",
            "status": "PAYED",
        },
        "paymentRequest": body,
    }
    assert errors("PaymentTransaction", answer) == []
    paid = read_transaction(answer)
    assert (paid.status, paid.amount, paid.provider_ref) == ("paid", Decimal("36.50"), "9xxd-43")
    assert paid.paid_at == datetime(2026, 12, 4, 11, 32, 0, 711000, tzinfo=UTC)
    assert paid.pay_url == ""  # no paypage once paid
    for status, ours in (("INITIAL", "open"), ("FAILED", "cancelled"), ("CANCELED", "cancelled")):
        answer["paymentInformation"]["status"] = status
        assert read_transaction(answer).status == ours
    answer["paymentInformation"]["status"] = "REFUNDED"
    with pytest.raises(ProviderUnavailable):
        read_transaction(answer)
    del answer["paymentRequest"]
    answer["paymentInformation"]["status"] = "PAYED"
    with pytest.raises(ProviderUnavailable):  # the amount cannot be checked
        read_transaction(answer)
