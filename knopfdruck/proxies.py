"""Which address a request comes from: the socket peer, or what trusted proxies vouch for.

Rate limits count per client address (backend/ratelimit.py). Issue 14, item 9 found two ways
that went wrong with uvicorn's `proxy_headers=True` and its default trusted list (127.0.0.1):
behind compose's proxy every citizen shared the proxy's bucket, and directly on loopback any
client could name a fresh address in a forged X-Forwarded-For. So uvicorn's own header handling
is off (UVICORN_OPTIONS, used by `serve`, `sandbox` and the test servers alike) and this
middleware alone decides, from `KNOPFDRUCK_TRUSTED_PROXIES`:

- empty (the default): X-Forwarded-For is ignored; the socket peer is the client.
- set: only when the socket peer is one of the trusted networks, the header is read from the
  right (each proxy appends the address it saw), trusted hops are skipped, and the first
  untrusted address is the client. Entries left of it were written by the client and are never
  believed. An unparsable entry ends the walk at the last address believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UVICORN_OPTIONS: dict[str, Any] = {"proxy_headers": False}
"""uvicorn must not rewrite the client address itself: TrustedProxies is the one place."""


def parse_networks(value: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR networks; a bad entry stops start-up with its text."""
    networks: list[Network] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"KNOPFDRUCK_TRUSTED_PROXIES: {item!r} is no IP address or network"
            ) from exc
    return tuple(networks)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in net for net in networks)


def client_address(peer: str, forwarded_for: Iterable[str], networks: Sequence[Network]) -> str:
    """The client's address as far as trusted proxies vouch for it (walked right to left)."""
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for header in forwarded_for for h in header.split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        if _address(hop) is None:
            break
        client = hop
        if not _trusted(hop, networks):
            break
    return client


class TrustedProxies:
    """Pure ASGI middleware setting scope["client"] from trusted proxies' X-Forwarded-For."""

    def __init__(self, app: ASGIApp, networks: Sequence[Network]) -> None:
        self.app = app
        self.networks = tuple(networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.networks and scope.get("client"):
            peer_host, peer_port = scope["client"]
            headers = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
            host = client_address(peer_host, headers, self.networks)
            if host != peer_host:
                scope = {**scope, "client": (host, peer_port)}
        await self.app(scope, receive, send)
