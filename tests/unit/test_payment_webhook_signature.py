"""Webhook signatures: HMAC-SHA256 over timestamp and body, in a time window, or refused."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from backend.payments.provider import WebhookRejected
from backend.payments.sandbox import SandboxProvider, sign_webhook
from sandbox.payments import sign as sandbox_sign

SECRET = "s3cret-" * 6
NOW = 1_800_000_000


def _provider() -> SandboxProvider:
    return SandboxProvider(
        base_url="http://127.0.0.1:1/sandbox/payments",
        api_key="k" * 40,
        webhook_secret=SECRET,
        tolerance_s=300,
    )


def _body(**changes: object) -> bytes:
    event: dict[str, object] = {
        "id": "evt_1",
        "type": "payment.paid",
        "created": NOW,
        "data": {"id": "pay_1", "status": "paid", "amount": "36.00", "currency": "EUR"},
    }
    event.update(changes)
    return json.dumps(event).encode()


def test_both_sides_of_the_protocol_agree() -> None:
    assert sign_webhook(SECRET, NOW, b"{}") == sandbox_sign(SECRET, NOW, b"{}")


def test_a_signed_recent_webhook_is_read() -> None:
    body = _body()
    event = _provider().parse_webhook(
        {"Webhook-Signature": sign_webhook(SECRET, NOW, body)}, body, now=NOW + 10
    )
    assert (event.event_id, event.type, event.provider_ref) == ("evt_1", "payment.paid", "pay_1")
    assert event.amount == Decimal("36.00") and event.status == "paid"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=abc,v1=00",
        f"t={NOW},v1=" + "0" * 64,
        sign_webhook("another secret that is long enough", NOW, _body()),
        # The timestamp moved, the MAC kept: replaying with a fresh t does not work.
        f"t={NOW + 1}," + sign_webhook(SECRET, NOW, _body()).split(",")[1],
    ],
)
def test_wrong_signatures_are_rejected(header: str) -> None:
    with pytest.raises(WebhookRejected):
        _provider().parse_webhook({"webhook-signature": header}, _body(), now=NOW)


def test_a_changed_body_is_rejected() -> None:
    header = sign_webhook(SECRET, NOW, _body())
    with pytest.raises(WebhookRejected, match="signiert"):
        _provider().parse_webhook(
            {"webhook-signature": header}, _body(data={"id": "pay_2"}), now=NOW
        )


@pytest.mark.parametrize("age", [301, -301, 86400])
def test_a_replay_outside_the_window_is_rejected(age: int) -> None:
    body = _body()
    header = sign_webhook(SECRET, NOW, body)
    with pytest.raises(WebhookRejected, match="zu alt"):
        _provider().parse_webhook({"webhook-signature": header}, body, now=NOW + age)


def test_a_signed_but_malformed_body_is_rejected_cleanly() -> None:
    for body in (b"not json", json.dumps({"id": "evt"}).encode(), _body(created="soon")):
        header = sign_webhook(SECRET, NOW, body)
        with pytest.raises(WebhookRejected, match="Format"):
            _provider().parse_webhook({"webhook-signature": header}, body, now=NOW)


def test_real_clock_round_trip() -> None:
    body = _body()
    now = int(time.time())
    event = _provider().parse_webhook(
        {"webhook-signature": sign_webhook(SECRET, now, body)}, body, now=time.time()
    )
    assert event.event_id == "evt_1"
