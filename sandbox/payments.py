"""Sandbox payment provider: a merchant API, a hosted payment page, and signed webhooks.

It stands in for a real provider (an ePayBL adapter, a card acquirer) the way the sandbox IdP
stands in for the eID service: the platform talks to it over HTTP only. Payments live in the
memory of the process that built the router; a restart forgets them, which a sandbox may.

- ``POST /api/payments`` (Bearer API key, ``Idempotency-Key`` header): open a payment.
- ``GET /api/payments/{id}``, ``POST /api/payments/{id}/cancel``: state and cancellation.
- ``POST /api/payments/{id}/redeliver``: send the payment's last webhook event again (same
  event id, fresh signature), as real providers do when asked.
- ``GET|POST /checkout/{id}``: the hosted page where the citizen pays (no JavaScript, no
  inline style; the form carries a CSRF token bound to a SameSite=Strict cookie).

Webhooks: ``Webhook-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jinja2
from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

CSRF_COOKIE = "sandbox_pay_csrf"
MAX_AMOUNT = Decimal("10000.00")
WEBHOOK_ATTEMPTS = 3


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass
class SandboxPayment:
    id: str
    amount: Decimal
    currency: str
    description: str
    reference: str
    return_url: str
    webhook_url: str
    status: str = "open"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    paid_at: datetime | None = None
    last_event: dict[str, Any] | None = None
    deliveries: list[int] = field(default_factory=list)

    def as_json(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "amount": f"{self.amount:.2f}",
            "currency": self.currency,
            "description": self.description,
            "reference": self.reference,
            "checkout_url": f"{base_url}/checkout/{self.id}",
            "paid_at": self.paid_at.isoformat() if self.paid_at else None,
            "webhook_deliveries": list(self.deliveries),
        }


class _Store:
    """Payments by id, and by the merchant's idempotency key."""

    def __init__(self) -> None:
        self.payments: dict[str, SandboxPayment] = {}
        self.by_key: dict[str, str] = {}
        self.lock = threading.Lock()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _http_url(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 500:
        return None
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def build_payments_router(*, public_url: str, api_key: str, webhook_secret: str) -> APIRouter:
    """The provider under ``public_url`` (where clients reach this router)."""
    router = APIRouter()
    store = _Store()
    base = public_url.rstrip("/")
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
    )

    def authorised(authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token, api_key)

    def page(status: int, **context: Any) -> HTMLResponse:
        html = templates.get_template("payment_checkout.html").render(**context)
        return HTMLResponse(
            html,
            status_code=status,
            headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
        )

    async def deliver(payment: SandboxPayment, event: dict[str, Any]) -> int:
        """POST the event to the merchant; a few tries, then the merchant must reconcile."""
        body = json.dumps(event, separators=(",", ":")).encode()
        status = 0
        async with httpx.AsyncClient(timeout=5.0) as client:
            for attempt in range(WEBHOOK_ATTEMPTS):
                headers = {
                    "Content-Type": "application/json",
                    "Webhook-Signature": sign(webhook_secret, int(time.time()), body),
                }
                try:
                    response = await client.post(payment.webhook_url, content=body, headers=headers)
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                if 200 <= status < 300:
                    break
                await asyncio.sleep(0.2 * 2**attempt)
        payment.deliveries.append(status)
        return status

    @router.post("/api/payments")
    async def create(
        request: Request,
        authorization: str | None = Header(None),
        idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
    ) -> Response:
        if not authorised(authorization):
            return _error(401, "invalid API key")
        if not idempotency_key or len(idempotency_key) > 100:
            return _error(422, "an Idempotency-Key header (up to 100 characters) is required")
        try:
            data = await request.json()
            amount = Decimal(str(data["amount"]))
        except (ValueError, KeyError, TypeError, InvalidOperation):
            return _error(422, "JSON body with amount, currency, description, reference, "
                          "return_url and webhook_url expected")  # fmt: skip
        if (
            not amount.is_finite()
            or amount <= 0
            or amount > MAX_AMOUNT
            or amount != round(amount, 2)
        ):
            return _error(422, "amount must be between 0.01 and 10000.00 with at most two decimals")
        return_url, webhook_url = (
            _http_url(data.get("return_url")),
            _http_url(data.get("webhook_url")),
        )
        if data.get("currency") != "EUR" or return_url is None or webhook_url is None:
            return _error(422, "currency must be EUR; return_url and webhook_url http(s) URLs")
        with store.lock:
            known = store.by_key.get(idempotency_key)
            if known is not None:
                return JSONResponse(store.payments[known].as_json(base), status_code=200)
            payment = SandboxPayment(
                id="pay_" + secrets.token_hex(12),
                amount=amount,
                currency="EUR",
                description=str(data.get("description", ""))[:200],
                reference=str(data.get("reference", ""))[:40],
                return_url=return_url,
                webhook_url=webhook_url,
            )
            store.payments[payment.id] = payment
            store.by_key[idempotency_key] = payment.id
        return JSONResponse(payment.as_json(base), status_code=201)

    @router.get("/api/payments/{payment_id}")
    async def show(payment_id: str, authorization: str | None = Header(None)) -> Response:
        if not authorised(authorization):
            return _error(401, "invalid API key")
        payment = store.payments.get(payment_id)
        if payment is None:
            return _error(404, "no such payment")
        return JSONResponse(payment.as_json(base))

    @router.post("/api/payments/{payment_id}/cancel")
    async def cancel(payment_id: str, authorization: str | None = Header(None)) -> Response:
        if not authorised(authorization):
            return _error(401, "invalid API key")
        payment = store.payments.get(payment_id)
        if payment is None:
            return _error(404, "no such payment")
        with store.lock:
            if payment.status == "open":
                payment.status = "cancelled"
        return JSONResponse(payment.as_json(base))

    @router.post("/api/payments/{payment_id}/redeliver")
    async def redeliver(payment_id: str, authorization: str | None = Header(None)) -> Response:
        if not authorised(authorization):
            return _error(401, "invalid API key")
        payment = store.payments.get(payment_id)
        if payment is None or payment.last_event is None:
            return _error(404, "no event to redeliver")
        status = await deliver(payment, payment.last_event)
        return JSONResponse({"event": payment.last_event["id"], "merchant_status": status})

    @router.get("/checkout/{payment_id}")
    async def checkout(payment_id: str) -> Response:
        payment = store.payments.get(payment_id)
        if payment is None:
            return page(404, payment=None, message="Diese Zahlung gibt es nicht.")
        token = secrets.token_urlsafe(24)
        response = page(
            200, payment=payment, csrf_token=token, action=f"{base}/checkout/{payment.id}"
        )
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=base.startswith("https://"),
            path=urlsplit(f"{base}/checkout/").path,
            max_age=1800,
        )
        return response

    @router.post("/checkout/{payment_id}")
    async def pay(payment_id: str, request: Request) -> Response:
        payment = store.payments.get(payment_id)
        if payment is None:
            return page(404, payment=None, message="Diese Zahlung gibt es nicht.")
        form = await request.form()
        sent = form.get("csrf_token")
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not isinstance(sent, str) or not cookie or not hmac.compare_digest(sent, cookie):
            return page(
                403,
                payment=payment,
                message="Das Formular ist abgelaufen. Bitte öffnen Sie die Zahlungsseite neu.",
            )
        with store.lock:
            if payment.status in ("cancelled", "expired"):
                return page(
                    409,
                    payment=payment,
                    message="Diese Zahlung ist nicht mehr möglich: die Frist ist abgelaufen "
                    "oder der Antrag wurde zurückgenommen.",
                )
            newly_paid = payment.status == "open"
            if newly_paid:
                payment.status = "paid"
                payment.paid_at = datetime.now(UTC)
                payment.last_event = {
                    "id": "evt_" + secrets.token_hex(12),
                    "type": "payment.paid",
                    "created": int(payment.paid_at.timestamp()),
                    "data": {
                        "id": payment.id,
                        "status": "paid",
                        "amount": f"{payment.amount:.2f}",
                        "currency": payment.currency,
                        "reference": payment.reference,
                        "paid_at": payment.paid_at.isoformat(),
                    },
                }
        if newly_paid and payment.last_event is not None:
            await deliver(payment, payment.last_event)
        response = RedirectResponse(payment.return_url, status_code=303)
        response.delete_cookie(CSRF_COOKIE, path=urlsplit(f"{base}/checkout/").path)
        return response

    return router
