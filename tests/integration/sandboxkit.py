"""The sandbox registries on a loopback port, and the purpose headers a direct read needs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from sandbox.population import LazyPopulation
from sandbox.registries import build_registries_app

PURPOSE = {
    "X-Purpose": "Test",
    "X-Legal-Basis": "%C2%A7 1 Test",
    "X-Service": "test",
    "X-Actor": "citizen",
}


@contextmanager
def serve_registries(population: LazyPopulation | None = None) -> Iterator[str]:
    """A fresh registries app under uvicorn on a free loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = build_registries_app(population=population)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("sandbox registries did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{url}/healthz", trust_env=False).json() == {"status": "ok"}
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
