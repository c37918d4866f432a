"""The payment-provider interface: what the engine needs from any provider, nothing more."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal, Protocol

from backend.errors import KnopfdruckError
from backend.secret_files import create_once
from backend.settings import Settings

ProviderStatus = Literal["open", "paid", "cancelled", "expired"]


@dataclass(frozen=True)
class OrderItem:
    """One fee of the order, with where the cash office books it."""

    id: str
    label: str
    amount: Decimal
    booking: Mapping[str, str]


@dataclass(frozen=True)
class PaymentOrder:
    """What we ask the provider to collect; ``payment_id`` doubles as the idempotency key."""

    payment_id: str
    amount: Decimal
    currency: str
    description: str
    reference: str
    return_url: str
    webhook_url: str
    kassenzeichen: str | None = None
    items: tuple[OrderItem, ...] = ()
    status_return_url: str = ""
    """Where a provider without webhooks sends the citizen back: we then ask it for the state."""
    endpoint_id: str | None = None
    """The cash office's XBezahldienste endPointId, when the fee names one."""


@dataclass(frozen=True)
class ProviderPayment:
    """The provider's view of one payment."""

    provider_ref: str
    status: ProviderStatus
    amount: Decimal
    currency: str
    pay_url: str
    paid_at: datetime | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook: the signature and its age have been checked."""

    event_id: str
    type: str
    provider_ref: str
    status: ProviderStatus
    amount: Decimal
    currency: str
    occurred_at: datetime


class ProviderUnavailable(Exception):
    """The provider did not answer usefully; the step that asked is retried."""


class WebhookRejected(KnopfdruckError):
    """A webhook whose signature, age or shape is wrong: nothing in it is believed."""

    status_code = 400
    code = "webhook_rejected"


class PaymentProvider(Protocol):
    """A hosted-payment-page provider (sandbox, or a real one such as an ePayBL adapter)."""

    name: str

    def create(self, order: PaymentOrder) -> ProviderPayment:
        """Open a payment; the same order (payment_id) twice gives the same payment."""
        ...

    def fetch(self, provider_ref: str) -> ProviderPayment:
        """The current state, for reconciliation when a webhook got lost."""
        ...

    def cancel(self, provider_ref: str) -> ProviderPayment:
        """Stop accepting the payment; a payment already made stays ``paid``."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, *, now: float) -> WebhookEvent:
        """Verify and read a webhook; raises WebhookRejected."""
        ...


def local_secret(data_dir: Path, name: str) -> str:
    """A random secret made once into data_dir, for the embedded default (one machine)."""
    path = data_dir / name
    value = create_once(path, lambda: secrets.token_urlsafe(32).encode()).decode("ascii").strip()
    if len(value) < 32:
        raise ValueError(f"{path} holds no usable secret")
    return value


@dataclass(frozen=True)
class PaymentSecrets:
    api_key: str
    webhook_secret: str


def payment_secrets(settings: Settings) -> PaymentSecrets:
    """Configured secrets, or ones generated into data_dir (shared with the in-process sandbox)."""
    return PaymentSecrets(
        api_key=settings.payment_api_key or local_secret(settings.data_dir, "payment-api-key"),
        webhook_secret=settings.payment_webhook_secret
        or local_secret(settings.data_dir, "payment-webhook-secret"),
    )
