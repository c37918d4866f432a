"""Finding a case's destination as FIT-Connect's Routing API does: by LeiKa key and region.

``GET <routing>/v1/routes?leikaKey=<14 digits>&ars=<12 digits>`` answers with the routes of the
authorities responsible for that service in that region; the first route's ``destinationId``
is where the case goes. The region key (Amtlicher Regionalschlüssel) comes from the setting
``handover_region_key`` until tenancy exists. The route signatures (``destinationSignature``)
are not verified yet; docs/standards/fit-connect.md says so.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from backend.handover.credentials import delivers_to_own_sandbox
from backend.settings import Settings

LEIKA_KEY = re.compile(r"^99\d{12}$")
REGION_KEY = re.compile(r"^\d{12}$")
DESTINATION_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class RoutingFailed(Exception):
    """No destination could be found; ``retryable`` when asking again later may help."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


def routing_url(settings: Settings) -> str | None:
    """The Routing API to ask; None when the service's configured destination is used."""
    if settings.handover_routing_url:
        return settings.handover_routing_url.rstrip("/")
    if delivers_to_own_sandbox(settings):
        return settings.handover_base_url.rstrip("/")
    return None


def route_destination(client: httpx.Client, base: str, leika: str, region: str) -> str:
    """The destination id the Routing API names for this service in this region."""
    if not LEIKA_KEY.match(leika):
        raise RoutingFailed(f"LeiKa key {leika!r} is not 14 digits from 99", retryable=False)
    if not REGION_KEY.match(region):
        raise RoutingFailed("handover_region_key is not a 12-digit ARS", retryable=False)
    try:
        response = client.get(f"{base}/v1/routes", params={"leikaKey": leika, "ars": region})
    except httpx.TimeoutException:
        raise RoutingFailed("routing API timed out", retryable=True) from None
    except httpx.HTTPError:
        raise RoutingFailed("routing API unreachable", retryable=True) from None
    if response.status_code >= 500 or response.status_code == 429:
        raise RoutingFailed(f"routing API failed (HTTP {response.status_code})", retryable=True)
    if response.status_code != 200:
        raise RoutingFailed(f"routing API refused (HTTP {response.status_code})", retryable=False)
    try:
        body: Any = response.json()
    except ValueError:
        raise RoutingFailed("routing API answered no JSON", retryable=True) from None
    routes = body.get("routes") if isinstance(body, dict) else None
    if not isinstance(routes, list) or not routes:
        raise RoutingFailed(f"no destination for LeiKa {leika} in region {region}", retryable=False)
    destination = routes[0].get("destinationId") if isinstance(routes[0], dict) else None
    if not isinstance(destination, str) or not DESTINATION_ID.match(destination):
        raise RoutingFailed(
            "routing API answered a route without a usable destinationId", retryable=False
        )
    return destination
