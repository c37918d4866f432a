"""Issue 14, item 9: rate limits count the real client, behind a proxy and without one.

Two web processes of the platform's installation with a login limit of 3 per address: one as
shipped (no trusted proxies), one behind a proxy on loopback (KNOPFDRUCK_TRUSTED_PROXIES). Both
run under the same uvicorn options as `knopfdruck serve` (tests/livesrv.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from backend.settings import Settings
from knopfdruck.proxies import client_address, parse_networks
from tests.conftest import Platform
from tests.livesrv import free_port, serve_in_thread

LIMIT = 3


def _server(platform: Platform, window_s: int, trusted: str) -> Iterator[str]:
    """A second web process with a small per-address login limit in its own window."""
    from knopfdruck.app import create_app

    port = free_port()
    settings = platform.settings.model_copy(
        update={
            "base_url": f"http://127.0.0.1:{port}",
            "worker_in_process": False,
            "sandbox": False,
            "rate_limit_window_s": window_s,  # counters are per window: no other test counts
            "rate_limit_login_per_ip": LIMIT,
            "rate_limit_login_per_account": 1000,
            "trusted_proxies": trusted,
        }
    )
    with serve_in_thread(create_app(settings), port) as base:
        yield base


@pytest.fixture(scope="module")
def direct(platform: Platform) -> Iterator[str]:
    yield from _server(platform, 3597, "")


@pytest.fixture(scope="module")
def proxied(platform: Platform) -> Iterator[str]:
    """Compose's proxy is not on 127.0.0.1 (uvicorn's default trust): here it connects from
    127.0.0.2, which only KNOPFDRUCK_TRUSTED_PROXIES makes trusted."""
    yield from _server(platform, 3596, PROXY)


PROXY = "127.0.0.2"


def _login_start(base: str, forwarded_for: str | None, source: str = "127.0.0.1") -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.get(f"{base}/login", headers=headers).status_code


def test_without_trusted_proxies_a_forged_header_gets_no_fresh_bucket(direct: str) -> None:
    """On loopback (uvicorn's default trusted list) a new X-Forwarded-For each time was a new
    address each time, so the per-address limit never struck."""
    answers = [_login_start(direct, f"198.51.100.{i}") for i in range(1, LIMIT + 2)]
    assert answers[:LIMIT] == [303] * LIMIT
    assert answers[LIMIT] == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(proxied: str) -> None:
    """Behind compose's proxy every citizen used to share the proxy's one bucket."""
    first = [_login_start(proxied, "203.0.113.10", PROXY) for _ in range(LIMIT + 1)]
    assert first == [303] * LIMIT + [429]
    # Another citizen behind the same proxy is not locked out by the first.
    assert _login_start(proxied, "203.0.113.20", PROXY) == 303
    # The proxy appends what it saw; a client-written entry on the left changes nothing.
    assert _login_start(proxied, "192.0.2.99, 203.0.113.10", PROXY) == 429
    # A client connecting directly (not through the proxy) is not believed either.
    assert _login_start(proxied, "203.0.113.30") == 303


def test_the_walk_believes_only_trusted_hops() -> None:
    nets = parse_networks("10.0.0.0/8, 127.0.0.1")
    assert client_address("127.0.0.1", [], nets) == "127.0.0.1"
    assert client_address("127.0.0.1", ["1.2.3.4, 10.1.1.1"], nets) == "1.2.3.4"
    assert client_address("127.0.0.1", ["1.2.3.4, 203.0.113.5, 10.1.1.1"], nets) == "203.0.113.5"
    assert client_address("127.0.0.1", ["1.2.3.4", "203.0.113.5"], nets) == "203.0.113.5"
    assert client_address("192.0.2.1", ["203.0.113.5"], nets) == "192.0.2.1"  # untrusted peer
    assert client_address("127.0.0.1", ["garbage, 203.0.113.5"], nets) == "203.0.113.5"
    assert client_address("127.0.0.1", ["203.0.113.5, garbage"], nets) == "127.0.0.1"
    assert client_address("127.0.0.1", ["203.0.113.5"], ()) == "127.0.0.1"  # nothing trusted
    assert ipaddress.ip_address("::1") in parse_networks("::1")[0]


def test_a_bad_proxy_list_stops_start_up() -> None:
    with pytest.raises(ValueError, match="no IP address"):
        Settings(trusted_proxies="10.0.0.0/8, proxy.internal")
    with pytest.raises(ValueError, match="no IP address"):
        parse_networks("10.0.0.0/33")
