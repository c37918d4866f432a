"""The payment provider the settings name: above the provider interface and its implementations,
so neither imports the other (issue 18)."""

from __future__ import annotations

from backend.payments.provider import PaymentProvider, payment_secrets
from backend.payments.sandbox import SandboxProvider
from backend.settings import Settings


def build_provider(settings: Settings) -> PaymentProvider:
    """The configured provider; an unknown name is a configuration error at first use."""
    if settings.payment_provider == "sandbox":
        keys = payment_secrets(settings)
        return SandboxProvider(
            base_url=settings.payment_base_url,
            api_key=keys.api_key,
            webhook_secret=keys.webhook_secret,
            tolerance_s=settings.payment_webhook_tolerance_s,
        )
    raise ValueError(f"unknown payment provider {settings.payment_provider!r}")
