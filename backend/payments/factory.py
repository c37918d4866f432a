"""The payment provider the settings name: above the provider interface and its implementations,
so neither imports the other (issue 18)."""

from __future__ import annotations

from typing import get_args

from backend.payments.provider import PaymentProvider, payment_secrets
from backend.payments.sandbox import SandboxProvider
from backend.payments.xbezahldienste import XBezahldiensteProvider
from backend.settings import PaymentProviderName, Settings

PROVIDERS = frozenset(get_args(PaymentProviderName))


def build_provider(settings: Settings, name: str | None = None) -> PaymentProvider:
    """The provider a payment was opened at (default: configured), so a switch strands none."""
    chosen = name or settings.payment_provider
    keys = payment_secrets(settings)
    if chosen == "sandbox":
        return SandboxProvider(
            base_url=settings.payment_base_url,
            api_key=keys.api_key,
            webhook_secret=keys.webhook_secret,
            tolerance_s=settings.payment_webhook_tolerance_s,
        )
    if chosen == "xbezahldienste":
        return XBezahldiensteProvider(
            base_url=settings.xbezahldienste_base_url,
            api_key=keys.api_key,
            originator_id=settings.xbezahldienste_originator_id,
            endpoint_id=settings.xbezahldienste_endpoint_id,
        )
    raise ValueError(f"unknown payment provider {chosen!r}")
