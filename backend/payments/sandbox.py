"""Client of the sandbox payment provider (sandbox/payments.py), over real HTTP.

Webhooks carry ``Webhook-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``.
A webhook is believed only if the HMAC matches (compared in constant time) and t is within the
tolerance of our clock, so a captured webhook cannot be replayed later; replays inside the
window are caught by the stored event ids (see webhooks.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from backend.payments.provider import (
    PaymentOrder,
    ProviderPayment,
    ProviderStatus,
    ProviderUnavailable,
    WebhookEvent,
    WebhookRejected,
)

SIGNATURE_HEADER = "webhook-signature"
_STATUSES: frozenset[str] = frozenset({"open", "paid", "cancelled", "expired"})
_REJECTED = "Die Benachrichtigung ist nicht gültig signiert. (Invalid webhook signature.)"


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for a body sent at ``timestamp``; used by the sandbox and by tests."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _status(value: Any) -> ProviderStatus:
    if value not in _STATUSES:
        raise ProviderUnavailable(f"unknown payment status {value!r}")
    status: ProviderStatus = value
    return status


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ProviderUnavailable(f"malformed amount {value!r}") from exc
    if not amount.is_finite():
        raise ProviderUnavailable(f"malformed amount {value!r}")
    return amount


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class SandboxProvider:
    """Hosted payment page and webhooks of the sandbox, as a real provider would offer them."""

    name = "sandbox"

    def __init__(
        self, *, base_url: str, api_key: str, webhook_secret: str, tolerance_s: int = 300
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._secret = webhook_secret
        self.tolerance_s = tolerance_s

    def _request(
        self, method: str, path: str, *, json_body: Any = None, idempotency_key: str | None = None
    ) -> ProviderPayment:
        headers = {"Authorization": f"Bearer {self._api_key}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
                response = client.request(method, path, json=json_body, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"payment provider unreachable: {type(exc).__name__}"
            ) from exc
        if response.status_code >= 400:
            raise ProviderUnavailable(f"payment provider answered {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise ProviderUnavailable("payment provider sent no JSON") from exc
        return ProviderPayment(
            provider_ref=str(data["id"]),
            status=_status(data.get("status")),
            amount=_amount(data.get("amount")),
            currency=str(data.get("currency")),
            pay_url=str(data.get("checkout_url")),
            paid_at=_time(data.get("paid_at")),
        )

    def create(self, order: PaymentOrder) -> ProviderPayment:
        return self._request(
            "POST",
            "/api/payments",
            json_body={
                "amount": f"{order.amount:.2f}",
                "currency": order.currency,
                "description": order.description,
                "reference": order.reference,
                "return_url": order.return_url,
                "webhook_url": order.webhook_url,
            },
            idempotency_key=order.payment_id,
        )

    def fetch(self, provider_ref: str) -> ProviderPayment:
        return self._request("GET", f"/api/payments/{provider_ref}")

    def cancel(self, provider_ref: str) -> ProviderPayment:
        return self._request("POST", f"/api/payments/{provider_ref}/cancel")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, *, now: float) -> WebhookEvent:
        header = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER, "")
        parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError:
            raise WebhookRejected(_REJECTED) from None
        expected = sign_webhook(self._secret, timestamp, body).split("v1=", 1)[1]
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise WebhookRejected(_REJECTED)
        # Checked after the HMAC, so the age of a forged message tells an attacker nothing.
        if abs(now - timestamp) > self.tolerance_s:
            raise WebhookRejected(
                "Die Benachrichtigung ist zu alt oder aus der Zukunft. (Webhook outside the "
                "accepted time window.)"
            )
        try:
            data = json.loads(body)
            payment = data["data"]
            return WebhookEvent(
                event_id=str(data["id"])[:80],
                type=str(data["type"])[:48],
                provider_ref=str(payment["id"])[:64],
                status=_status(payment.get("status")),
                amount=_amount(payment.get("amount")),
                currency=str(payment.get("currency"))[:3],
                occurred_at=datetime.fromtimestamp(int(data["created"]), UTC),
            )
        except (ValueError, KeyError, TypeError, ProviderUnavailable) as exc:
            raise WebhookRejected(
                "Die Benachrichtigung hat nicht das erwartete Format. (Malformed webhook.)"
            ) from exc
