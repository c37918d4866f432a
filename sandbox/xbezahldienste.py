"""Sandbox payment platform speaking XBezahldienste 1.2.0, as a Land's platform would.

It plays the other side of backend/payments/xbezahldienste.py over real HTTP. Transactions
live in the memory of the process that built the router; a restart forgets them.

- ``POST /api/v1/paymenttransaction/{originatorId}/{endPointId}``: a PaymentRequest opens a
  transaction (the same requestId again: the same transaction, idempotent).
- ``GET /api/v1/paymenttransaction/{originatorId}/{endPointId}/{transactionId}``: its state.
- ``GET /api/v1/status``: health, as a SystemResponse.
- ``GET|POST /paypage/{transactionId}``: the page where the citizen pays; afterwards the
  browser goes back to the request's redirectUrl, the standard's only notification.

Errors are SystemResponses (``application/problem+json``) with the standard's functional codes.
The standard leaves authentication open; this platform wants ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

CSRF_COOKIE = "sandbox_xbzd_csrf"
MAX_BODY = 64 * 1024
_ID = re.compile(r"^[\w-]{1,36}$")
_DOCS = "https://docs.fitko.de/xbezahldienste/API-SystemResponse/"
_OUR_STATUS = {"INITIAL": "open", "PAYED": "paid", "FAILED": "cancelled", "CANCELED": "cancelled"}


@dataclass
class Transaction:
    """One PaymentTransaction, with the request it came from."""

    id: str
    originator: str
    endpoint: str
    request: dict[str, Any]
    status: str = "INITIAL"
    paid_at: datetime | None = None

    @property
    def amount(self) -> Decimal:
        return Decimal(str(self.request["grossAmount"]))

    @property
    def currency(self) -> str:
        return str(self.request["currency"])

    @property
    def description(self) -> str:
        return str(self.request.get("description") or self.request.get("purpose") or "")

    @property
    def return_url(self) -> str:
        return str(self.request["redirectUrl"])

    @property
    def page_status(self) -> str:
        """The state in the words of the shared checkout template."""
        return _OUR_STATUS[self.status]


@dataclass
class _Store:
    by_id: dict[str, Transaction] = field(default_factory=dict)
    by_request: dict[tuple[str, str, str], str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def problem(status: int, title: str, detail: str, code: str) -> JSONResponse:
    """A SystemResponse (RFC 7807); detail uses only the characters the schema allows."""
    return JSONResponse(
        {
            "type": f"{_DOCS}#{status}error",
            "status": status,
            "title": title,
            "detail": detail,
            "functionalCode": code,
        },
        status_code=status,
        media_type="application/problem+json",
    )


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _refusal(body: Any) -> JSONResponse | None:
    """The platform's own checks of a PaymentRequest: shape, currency, sum of the items."""
    if not isinstance(body, dict):
        return problem(400, "Bad Request", "PaymentRequest als JSON-Objekt erwartet",
                       "VALIDATION_ERROR")  # fmt: skip
    missing = [
        key
        for key in (
            "requestId",
            "requestTimestamp",
            "currency",
            "grossAmount",
            "redirectUrl",
            "items",
        )
        if key not in body
    ]
    if missing:
        return problem(400, "Bad Request", "Pflichtfelder fehlen " + ", ".join(missing),
                       "VALIDATION_ERROR")  # fmt: skip
    if not isinstance(body["requestId"], str) or not _ID.match(body["requestId"]):
        return problem(400, "Bad Request", "requestId ungueltig", "VALIDATION_ERROR")
    if body["currency"] != "EUR":
        return problem(400, "Bad Request", "Nur EUR wird angenommen", "VALIDATION_ERROR")
    url = body["redirectUrl"]
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        return problem(400, "Bad Request", "redirectUrl ungueltig", "VALIDATION_ERROR")
    items = body["items"]
    gross = _amount(body["grossAmount"])
    if not isinstance(items, list) or not items or gross is None or gross <= 0:
        return problem(400, "Bad Request", "Betrag oder Positionen ungueltig", "VALIDATION_ERROR")
    total = Decimal(0)
    for item in items:
        net = _amount(item.get("totalNetAmount")) if isinstance(item, dict) else None
        tax = _amount(item.get("totalTaxAmount")) if isinstance(item, dict) else None
        if net is None or tax is None:
            return problem(400, "Bad Request", "Position ohne Betrag", "VALIDATION_ERROR")
        total += net + tax
    if total != gross:
        return problem(400, "Bad Request", "grossAmount passt nicht zur Summe der Positionen",
                       "CALCULATION_ERROR")  # fmt: skip
    return None


def build_xbezahldienste_router(*, public_url: str, api_key: str) -> APIRouter:
    """The platform under ``public_url`` (where clients and browsers reach this router)."""
    router = APIRouter()
    store = _Store()
    base = public_url.rstrip("/")
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True
    )
    cookie_path = urlsplit(f"{base}/paypage/").path

    def authorised(authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token, api_key)

    def transaction_json(tx: Transaction) -> dict[str, Any]:
        info: dict[str, Any] = {
            "transactionUrl": f"{base}/api/v1/paymenttransaction/{tx.originator}/"
            f"{tx.endpoint}/{tx.id}",
            # Required by the schema in every state, though only useful while INITIAL.
            "transactionRedirectUrl": f"{base}/paypage/{tx.id}",
            "transactionId": tx.id,
            "status": tx.status,
        }
        purpose = tx.request.get("purpose")
        if isinstance(purpose, str) and re.fullmatch(r"[\w-]{1,36}", purpose):
            info["transactionReference"] = purpose
        if tx.paid_at is not None:
            info["transactionTimestamp"] = tx.paid_at.isoformat(timespec="milliseconds")
            info["paymentMethod"] = "CREDITCARD"
            info["paymentMethodDetail"] = "Sandbox"
        return {"paymentInformation": info, "paymentRequest": tx.request}

    def page(status: int, tx: Transaction | None, **context: Any) -> HTMLResponse:
        view = None
        if tx is not None:
            view = {
                "amount": tx.amount,
                "currency": tx.currency,
                "description": tx.description,
                "status": tx.page_status,
                "return_url": tx.return_url,
            }
        html = templates.get_template("payment_checkout.html").render(payment=view, **context)
        return HTMLResponse(
            html,
            status_code=status,
            headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
        )

    def guard(authorization: str | None, version: str | None, *ids: str) -> JSONResponse | None:
        if not authorised(authorization):
            return problem(403, "Forbidden", "Die Authentifizierung ist fehlgeschlagen",
                           "FORBIDDEN")  # fmt: skip
        if version is not None and not version.startswith("1."):
            return problem(400, "Bad Request", "Version nicht unterstuetzt", "VALIDATION_ERROR")
        if not all(_ID.match(value) for value in ids):
            return problem(404, "Not found", "Zu diesen Parametern ist kein Mandant vorhanden",
                           "NO_VALID_ORIGINATOR_OR_ENDPOINT")  # fmt: skip
        return None

    @router.post("/api/v1/paymenttransaction/{originator_id}/{endpoint_id}")
    async def initiate(
        originator_id: str,
        endpoint_id: str,
        request: Request,
        authorization: str | None = Header(None),
        version: str | None = Header(None, alias="X-XBezahldienste-Version"),
    ) -> Response:
        refused = guard(authorization, version, originator_id, endpoint_id)
        if refused is not None:
            return refused
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return problem(400, "Bad Request", "Anfrage zu gross", "VALIDATION_ERROR")
        try:
            body = await request.json()
        except ValueError:
            return problem(400, "Bad Request", "Kein JSON", "VALIDATION_ERROR")
        refusal = _refusal(body)
        if refusal is not None:
            return refusal
        key = (originator_id, endpoint_id, body["requestId"])
        with store.lock:
            known = store.by_request.get(key)
            if known is not None:
                return JSONResponse(transaction_json(store.by_id[known]))
            tx = Transaction(str(uuid.uuid4()), originator_id, endpoint_id, body)
            store.by_id[tx.id] = tx
            store.by_request[key] = tx.id
        return JSONResponse(transaction_json(tx))

    @router.get("/api/v1/paymenttransaction/{originator_id}/{endpoint_id}/{transaction_id}")
    async def show(
        originator_id: str,
        endpoint_id: str,
        transaction_id: str,
        authorization: str | None = Header(None),
        version: str | None = Header(None, alias="X-XBezahldienste-Version"),
    ) -> Response:
        refused = guard(authorization, version, originator_id, endpoint_id, transaction_id)
        if refused is not None:
            return refused
        tx = store.by_id.get(transaction_id)
        if tx is None or (tx.originator, tx.endpoint) != (originator_id, endpoint_id):
            return problem(404, "Not found", "Transaktion unbekannt", "UNSPECIFIED")
        return JSONResponse(transaction_json(tx))

    @router.get("/api/v1/status")
    async def status(authorization: str | None = Header(None)) -> Response:
        if not authorised(authorization):
            return problem(403, "Forbidden", "Die Authentifizierung ist fehlgeschlagen",
                           "FORBIDDEN")  # fmt: skip
        return JSONResponse(
            {
                "type": f"{_DOCS}#200healthy",
                "status": 200,
                "title": "OK",
                "detail": "Everything is up and running",
            },
            media_type="application/problem+json",
        )

    @router.get("/paypage/{transaction_id}")
    async def paypage(transaction_id: str) -> Response:
        tx = store.by_id.get(transaction_id)
        if tx is None:
            return page(404, None, message="Diese Zahlung gibt es nicht.")
        token = secrets.token_urlsafe(24)
        response = page(200, tx, csrf_token=token, action=f"{base}/paypage/{tx.id}")
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=base.startswith("https://"),
            path=cookie_path,
            max_age=1800,
        )
        return response

    @router.post("/paypage/{transaction_id}")
    async def pay(transaction_id: str, request: Request) -> Response:
        tx = store.by_id.get(transaction_id)
        if tx is None:
            return page(404, None, message="Diese Zahlung gibt es nicht.")
        form = await request.form()
        sent = form.get("csrf_token")
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not isinstance(sent, str) or not cookie or not hmac.compare_digest(sent, cookie):
            return page(
                403, tx, message="Das Formular ist abgelaufen. Bitte öffnen Sie die Seite neu."
            )
        with store.lock:
            if tx.status == "INITIAL":
                tx.status, tx.paid_at = "PAYED", datetime.now(UTC)
        # The standard's notification: the browser returns; the online service must ask (GET).
        response = RedirectResponse(tx.return_url, status_code=303)
        response.delete_cookie(CSRF_COOKIE, path=cookie_path)
        return response

    return router
