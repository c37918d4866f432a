"""Who may talk to whom at the handover edge: the sender's OAuth2 client and callback trust.

The sandbox FIT-Connect has its own client credentials and its own callback secret. The platform
uses them only when its deliveries go to the sandbox mounted in this very process; otherwise it
trusts exactly what the operator configured, so the sandbox can never sign a callback the
platform would accept for a real Fachverfahren.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backend.payments.provider import local_secret
from backend.settings import Settings

SANDBOX_PATH = "/sandbox/fitconnect"
SANDBOX_CLIENT_SECRET_FILE = "sandbox-fitconnect-client-secret"
SANDBOX_CALLBACK_SECRET_FILE = "sandbox-fitconnect-callback-secret"
SANDBOX_CA_FILE = "fitconnect-ca.pem"
"""Where the sandbox FIT-Connect (sandbox/fitconnect.py) keeps its root certificate."""


@dataclass(frozen=True)
class ClientCredentials:
    """An OAuth2 client (client credentials grant) at a token endpoint."""

    token_url: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class SandboxFitConnect:
    """What the sandbox destination accepts and how it signs: never the platform's secret."""

    client_id: str
    client_secret: str
    callback_secret: str


def sandbox_fitconnect(settings: Settings) -> SandboxFitConnect:
    """The sandbox's own credentials: configured, or generated once into data_dir."""
    return SandboxFitConnect(
        client_id=settings.sandbox_fitconnect_client_id,
        client_secret=settings.sandbox_fitconnect_client_secret
        or local_secret(settings.data_dir, SANDBOX_CLIENT_SECRET_FILE),
        callback_secret=settings.sandbox_fitconnect_callback_secret
        or local_secret(settings.data_dir, SANDBOX_CALLBACK_SECRET_FILE),
    )


def delivers_to_own_sandbox(settings: Settings) -> bool:
    """True when the sandbox is on and deliveries go to the one mounted in this process."""
    own = settings.base_url.rstrip("/") + SANDBOX_PATH
    return settings.sandbox and settings.handover_base_url.rstrip("/") == own


def token_url(settings: Settings) -> str:
    return settings.handover_token_url or f"{settings.handover_base_url.rstrip('/')}/token"


def sender_credentials(settings: Settings) -> ClientCredentials | None:
    """The platform's client at the submission API; None when none is configured."""
    if settings.handover_client_id:
        return ClientCredentials(
            token_url(settings), settings.handover_client_id, settings.handover_client_secret
        )
    if delivers_to_own_sandbox(settings):
        sandbox = sandbox_fitconnect(settings)
        return ClientCredentials(token_url(settings), sandbox.client_id, sandbox.client_secret)
    return None


def trust_anchor_file(settings: Settings) -> Path | None:
    """The roots a destination's key chain must end in; None when none is configured."""
    if settings.handover_trust_anchors:
        return Path(settings.handover_trust_anchors)
    if delivers_to_own_sandbox(settings):
        return settings.data_dir / SANDBOX_CA_FILE
    return None
