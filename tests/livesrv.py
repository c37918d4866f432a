"""A real uvicorn server on a free loopback port, in a background thread, for tests."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from backend.crypto import configured_key_ring
from knopfdruck.proxies import UVICORN_OPTIONS

TEST_SETTINGS: dict[str, Any] = {
    "sandbox": True,
    "db_pool_size": 3,
    "db_max_overflow": 2,
    # The shipped services sample 5 % of cases by a hash of the random case id: tests that
    # expect the machine to decide would fail now and then. QA tests refer with qa_sample.
    "qa_sampling": False,
    # Tests read the staff directory when they mean to (test_staff_directory.py); a background
    # read 30 s after start would race the ones that change the staff.
    "staff_directory_interval_s": 0,
    "work_mail_interval_s": 0,  # test_work_mail.py runs the pass itself
    # The suite starts dozens of short-lived workers on a 2-core machine: they lay out in their
    # threads. The render processes have their own tests (test_render_pool.py, the topology).
    "render_processes": 0,
}
"""What every platform a test starts sets explicitly: the sandbox (off by default since issue 14,
item 7) for its test identities and registries, and small pools, because the suite's many
servers and workers share one PostgreSQL's max_connections (100 in CI)."""


def process_env(**variables: str) -> dict[str, str]:
    """The environment of a platform process a test starts: TEST_SETTINGS over the caller's."""
    own = {f"KNOPFDRUCK_{key.upper()}": str(value).lower() for key, value in TEST_SETTINGS.items()}
    # The field-encryption key ring is process-wide (backend/crypto.py): a child process must
    # read what this one sealed and seal what this one can read, so it gets the same ring.
    ring = configured_key_ring()
    if ring:
        own["KNOPFDRUCK_FIELD_ENCRYPTION_KEYS"] = ",".join(k.decode("ascii") for k in ring)
    return {**os.environ, **own, **variables}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: Any, port: int, health_path: str = "/healthz") -> Iterator[str]:
    """Start the app, wait until it answers, yield its base URL, and stop it afterwards."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **UVICORN_OPTIONS
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if not thread.is_alive():
            raise RuntimeError("test server stopped during start-up")
        try:
            if httpx.get(base + health_path, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start within 30 s")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)
