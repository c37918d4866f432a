"""XBezahldienste 1.2.0: fees paid through a payment platform of the administration.

The standard (OpenAPI 3.0.3, KoSIT/FITKO) knows three calls we use: ``POST
/paymenttransaction/{originatorId}/{endPointId}`` opens a PaymentTransaction from our
PaymentRequest (Kassenzeichen as ``purpose``, Haushaltsstelle / Sachkonto as the items'
``bookingData``), the answer carries the paypage (``transactionRedirectUrl``); ``GET
.../{transactionId}`` tells the state (INITIAL · PAYED · FAILED · CANCELED). The platform's
only notification is the citizen's return to our ``redirectUrl``; the spec says the state
"muss über die Statusabfrage (GET) abgefragt werden", so a return is never believed by itself:
it makes us ask (backend/payments/service.py ``confirm_return``). There are no webhooks and no
cancel call in the standard. Every request we build is checked against the spec's constraints
before it is sent (``check_payment_request``); a broken one is refused and never leaves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from backend.payments.provider import (
    PaymentOrder,
    ProviderPayment,
    ProviderStatus,
    ProviderUnavailable,
    WebhookEvent,
    WebhookRejected,
)

VERSION = "1.2.0"
VERSION_HEADER = "X-XBezahldienste-Version"
_ID = re.compile(r"^[\w-]+$")
_PURPOSE = re.compile(r"^[\w\s-]+$")
_BOOKING_VALUE = re.compile(r"^[\w\s\-,\.\u00C0-\u017F]+$")
_MAX_AMOUNT = Decimal("999999")
_CENT = Decimal("0.01")
_STATUS: dict[str, ProviderStatus] = {
    "INITIAL": "open",
    "PAYED": "paid",
    # Final at the platform: this transaction can no longer be paid.
    "FAILED": "cancelled",
    "CANCELED": "cancelled",
}
_REQUEST_KEYS = frozenset(
    {"requestId", "requestTimestamp", "currency", "grossAmount", "purpose", "description",
     "redirectUrl", "items", "requestor"}
)  # fmt: skip
_ITEM_KEYS = frozenset(
    {"id", "reference", "description", "taxRate", "quantity", "totalNetAmount",
     "totalTaxAmount", "singleNetAmount", "singleTaxAmount", "bookingData"}
)  # fmt: skip
_ITEM_REQUIRED = _ITEM_KEYS - {"description", "bookingData"}


class RequestRefused(Exception):
    """Our own check found the PaymentRequest broken: it was not sent (a defect to fix)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "XBezahldienste PaymentRequest refused before sending: " + "; ".join(problems)
        )
        self.problems = problems


def _money(value: Decimal) -> float:
    """A JSON number for an amount in cents; exact enough for any two-decimal amount."""
    return float(value.quantize(_CENT))


def payment_request(order: PaymentOrder, *, now: datetime) -> dict[str, Any]:
    """The PaymentRequest for an order: one item per fee, Kassenzeichen as the purpose."""
    kassenzeichen = order.kassenzeichen or order.reference
    items: list[dict[str, Any]] = []
    for number, fee in enumerate(order.items, start=1):
        booking = {key: value for key, value in fee.booking.items() if value}
        booking["kassenzeichen"] = kassenzeichen
        items.append(
            {
                "id": f"{number:02d}",
                "reference": fee.id,
                "description": fee.label[:250],
                # Administrative fees carry no VAT (§ 2b UStG: sovereign activity).
                "taxRate": 0,
                "quantity": 1,
                "totalNetAmount": _money(fee.amount),
                "totalTaxAmount": 0,
                "singleNetAmount": _money(fee.amount),
                "singleTaxAmount": 0,
                "bookingData": booking,
            }
        )
    return {
        "requestId": order.payment_id,
        "requestTimestamp": now.astimezone(UTC).isoformat(timespec="milliseconds"),
        "currency": order.currency,
        "grossAmount": _money(order.amount),
        "purpose": kassenzeichen,
        "description": order.description[:250],
        "redirectUrl": order.status_return_url or order.return_url,
        "items": items,
    }


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _text(problems: list[str], where: str, value: Any, *, pattern: re.Pattern[str] | None,
          longest: int, shortest: int = 1) -> None:  # fmt: skip
    if not isinstance(value, str) or not shortest <= len(value) <= longest:
        problems.append(f"{where}: text of {shortest} to {longest} characters expected")
    elif pattern is not None and not pattern.match(value):
        problems.append(f"{where}: characters outside {pattern.pattern}")


def _amount(
    problems: list[str], where: str, value: Any, *, positive: bool, top: Decimal = _MAX_AMOUNT
) -> Decimal:
    amount = _decimal(value)
    if amount is None or amount < 0 or (positive and amount == 0) or amount > top:
        problems.append(f"{where}: number {'above' if positive else 'from'} 0 up to {top} expected")
        return Decimal(0)
    if amount != amount.quantize(_CENT):
        problems.append(f"{where}: at most two decimals")
    return amount


def _check_item(problems: list[str], where: str, item: Any) -> Decimal:
    if not isinstance(item, dict):
        problems.append(f"{where}: object expected")
        return Decimal(0)
    problems += [f"{where}.{key}: not in PaymentItem" for key in sorted(set(item) - _ITEM_KEYS)]
    problems += [f"{where}.{key}: required" for key in sorted(_ITEM_REQUIRED - set(item))]
    _text(problems, f"{where}.id", item.get("id"), pattern=_ID, longest=36)
    _text(problems, f"{where}.reference", item.get("reference"), pattern=_ID, longest=36)
    if "description" in item:
        _text(problems, f"{where}.description", item["description"], pattern=None, longest=250)
    _amount(problems, f"{where}.taxRate", item.get("taxRate"), positive=False, top=Decimal(100))
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 999999:
        problems.append(f"{where}.quantity: whole number from 1 to 999999 expected")
        quantity = 1
    net = _amount(problems, f"{where}.totalNetAmount", item.get("totalNetAmount"), positive=True)
    tax = _amount(problems, f"{where}.totalTaxAmount", item.get("totalTaxAmount"), positive=False)
    single_net = _amount(
        problems, f"{where}.singleNetAmount", item.get("singleNetAmount"), positive=True
    )
    single_tax = _amount(
        problems, f"{where}.singleTaxAmount", item.get("singleTaxAmount"), positive=False
    )
    if single_net * quantity != net or single_tax * quantity != tax:
        problems.append(f"{where}: single amounts times quantity differ from the totals")
    booking = item.get("bookingData", {})
    if not isinstance(booking, dict) or len(booking) > 99:
        problems.append(f"{where}.bookingData: object of at most 99 entries expected")
    else:
        for key, value in booking.items():
            _text(problems, f"{where}.bookingData.{key}", value, pattern=_BOOKING_VALUE,
                  longest=250)  # fmt: skip
    return net + tax


def check_payment_request(body: Mapping[str, Any]) -> list[str]:
    """What is wrong with a PaymentRequest under XBezahldienste 1.2.0; empty when it is sound.

    The schema's limits (required keys, no others, patterns, lengths, ranges) and the sum the
    platform checks (CALCULATION_ERROR: grossAmount is the items' net plus tax).
    """
    problems = [f"{key}: not in PaymentRequest" for key in sorted(set(body) - _REQUEST_KEYS)]
    problems += [
        f"{key}: required"
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
    _text(problems, "requestId", body.get("requestId"), pattern=_ID, longest=36)
    stamp = body.get("requestTimestamp")
    try:
        if not isinstance(stamp, str) or datetime.fromisoformat(stamp).tzinfo is None:
            raise ValueError(stamp)
    except ValueError:
        problems.append("requestTimestamp: date-time with offset expected")
    if body.get("currency") != "EUR":
        problems.append("currency: only EUR is provided for in XBezahldienste 1.2.0")
    gross = _amount(problems, "grossAmount", body.get("grossAmount"), positive=True)
    if "purpose" in body:
        _text(problems, "purpose", body["purpose"], pattern=_PURPOSE, longest=27)
    if "description" in body:
        _text(problems, "description", body["description"], pattern=None, longest=250)
    url = body.get("redirectUrl")
    if (
        not isinstance(url, str)
        or len(url) > 2082
        or urlsplit(url).scheme not in ("http", "https")
        or not urlsplit(url).netloc
    ):
        problems.append("redirectUrl: http(s) URL of at most 2082 characters expected")
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= 99:
        problems.append("items: 1 to 99 PaymentItems expected")
        return problems
    total = sum(
        (_check_item(problems, f"items[{i}]", item) for i, item in enumerate(items)), Decimal(0)
    )
    if total != gross:
        problems.append(f"grossAmount: {gross} is not the items' sum {total}")
    return problems


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_transaction(data: Any) -> ProviderPayment:
    """Our view of a PaymentTransaction; anything unexpected makes the platform 'unavailable'."""
    info = data.get("paymentInformation") if isinstance(data, dict) else None
    if not isinstance(info, dict):
        raise ProviderUnavailable("XBezahldienste answer without paymentInformation")
    transaction_id = info.get("transactionId")
    if (
        not isinstance(transaction_id, str)
        or not _ID.match(transaction_id)
        or len(transaction_id) > 36
    ):
        raise ProviderUnavailable("XBezahldienste answer with a malformed transactionId")
    status = _STATUS.get(str(info.get("status")))
    if status is None:
        raise ProviderUnavailable(f"unknown XBezahldienste status {info.get('status')!r}")
    request = data.get("paymentRequest")
    gross = _decimal(request.get("grossAmount")) if isinstance(request, dict) else None
    if gross is None:
        # The spec lets the platform omit it; without it we cannot check what was paid.
        raise ProviderUnavailable("XBezahldienste answer without the paymentRequest's amount")
    redirect = info.get("transactionRedirectUrl")
    return ProviderPayment(
        provider_ref=transaction_id,
        status=status,
        amount=gross.quantize(_CENT),
        currency=str(request.get("currency", ""))[:3] if isinstance(request, dict) else "",
        pay_url=redirect if status == "open" and isinstance(redirect, str) else "",
        paid_at=_time(info.get("transactionTimestamp")) if status == "paid" else None,
    )


REF_SEPARATOR = ":"
"""Our provider_ref is '<endPointId>:<transactionId>' (at most 27 + 1 + 36 characters): the
status query needs the endPointId the transaction was opened under."""


def _with_endpoint(endpoint: str, payment: ProviderPayment) -> ProviderPayment:
    return ProviderPayment(
        provider_ref=f"{endpoint}{REF_SEPARATOR}{payment.provider_ref}",
        status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
        pay_url=payment.pay_url,
        paid_at=payment.paid_at,
    )


class XBezahldiensteProvider:
    """A payment platform speaking XBezahldienste 1.2.0 (ePayBL, pmPayment, the sandbox...)."""

    name = "xbezahldienste"

    def __init__(
        self, *, base_url: str, api_key: str, originator_id: str, endpoint_id: str
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.originator_id = originator_id
        self.endpoint_id = endpoint_id

    def _path(self, endpoint_id: str, transaction_id: str | None = None) -> str:
        path = f"/paymenttransaction/{quote(self.originator_id)}/{quote(endpoint_id)}"
        return path if transaction_id is None else f"{path}/{quote(transaction_id)}"

    def _call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        # The standard leaves authentication to the implementation (security: []): a bearer key.
        headers = {
            VERSION_HEADER: VERSION,
            "Accept": "application/json, application/problem+json",
            "Authorization": f"Bearer {self._api_key}",
        }
        try:
            with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
                return client.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"XBezahldienste platform unreachable: {type(exc).__name__}"
            ) from exc

    @staticmethod
    def _functional_code(response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return ""
        return str(data.get("functionalCode", "")) if isinstance(data, dict) else ""

    def _read(self, response: httpx.Response) -> ProviderPayment:
        if response.status_code != 200:
            code = self._functional_code(response)
            raise ProviderUnavailable(
                f"XBezahldienste platform answered {response.status_code} {code}".rstrip()
            )
        try:
            return read_transaction(response.json())
        except ValueError as exc:
            raise ProviderUnavailable("XBezahldienste platform sent no JSON") from exc

    def create(self, order: PaymentOrder) -> ProviderPayment:
        body = payment_request(order, now=datetime.now(UTC))
        problems = check_payment_request(body)
        if problems:
            raise RequestRefused(problems)
        endpoint = order.endpoint_id or self.endpoint_id
        response = self._call("POST", self._path(endpoint), body)
        if response.status_code == 400 and self._functional_code(response) == "PAYMENT_EXISTS":
            # A retry after a lost answer: a platform that keeps the requestId as transactionId
            # (the spec allows it) tells us the state; any other cannot be asked.
            response = self._call("GET", self._path(endpoint, order.payment_id))
        return _with_endpoint(endpoint, self._read(response))

    def fetch(self, provider_ref: str) -> ProviderPayment:
        endpoint, _, transaction_id = provider_ref.rpartition(REF_SEPARATOR)
        endpoint = endpoint or self.endpoint_id
        found = self._read(self._call("GET", self._path(endpoint, transaction_id)))
        return _with_endpoint(endpoint, found)

    def cancel(self, provider_ref: str) -> ProviderPayment:
        """The standard has no cancel call: we stop waiting, unless the fee was paid meanwhile.

        A payment made at the platform afterwards is recorded as late and refunded.
        """
        current = self.fetch(provider_ref)
        if current.status == "paid":
            return current
        return ProviderPayment(
            provider_ref=current.provider_ref,
            status="cancelled",
            amount=current.amount,
            currency=current.currency,
            pay_url="",
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, *, now: float) -> WebhookEvent:
        raise WebhookRejected(
            "XBezahldienste sendet keine Benachrichtigungen; der Stand wird abgefragt. "
            "(XBezahldienste has no webhooks; the state is queried.)"
        )
