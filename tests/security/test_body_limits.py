"""Issue 14, item 5: bodies are limited per route class while they stream in, and the API's
caller is authenticated before a body is read. Raw sockets, so nothing buffers on our side."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx

from tests.conftest import Platform

CHUNK = 64 * 1024


def _connect(platform: Platform) -> socket.socket:
    url = urlsplit(platform.base_url)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10)
    return sock


def _read_status(sock: socket.socket, timeout_s: float) -> int | None:
    """The status code of the answer, or None if none came within the time."""
    sock.settimeout(timeout_s)
    data = b""
    try:
        while b"\r\n" not in data:
            part = sock.recv(4096)
            if not part:
                break
            data += part
    except (TimeoutError, ConnectionResetError):
        pass
    if not data.startswith(b"HTTP/1.1 "):
        return None
    return int(data.split(b" ", 2)[1])


def _chunked_upload(
    platform: Platform, path: str, total: int, headers: str = ""
) -> tuple[int, int]:
    """POST `total` bytes in chunks without Content-Length; returns (status, bytes sent)."""
    sock = _connect(platform)
    try:
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: {urlsplit(platform.base_url).netloc}\r\n"
                f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n{headers}\r\n"
            ).encode()
        )
        sent = 0
        sock.settimeout(5)
        piece = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
        try:
            while sent < total:
                sock.sendall(piece)
                sent += CHUNK
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: what we measure
        status = _read_status(sock, 10)
        assert status is not None, f"no answer after {sent} bytes"
        return status, sent
    finally:
        sock.close()


def test_a_huge_chunked_callback_without_credentials_is_cut_off(platform: Platform) -> None:
    """400 MB to the handover callback used to be read whole into memory before its 401."""
    total = 200 * 1024 * 1024
    status, sent = _chunked_upload(platform, "/api/handover/callbacks", total)
    assert status == 413
    assert sent < total // 4  # the server stopped reading long before the end


def test_a_declared_oversize_body_is_refused_before_reading(platform: Platform) -> None:
    with _connect(platform) as sock:
        sock.sendall(
            b"POST /api/v1/applications HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 314572800\r\n\r\n"
        )
        # Not one byte of the declared 300 MB is sent: the answer must come anyway.
        assert _read_status(sock, 5) == 413


def test_the_api_refuses_an_unauthenticated_body_before_reading_it(platform: Platform) -> None:
    """Headers only, the body never follows: the 401 must not wait for it (it used to be read
    and parsed first, 13 s for 300 MB)."""
    for auth in ("", "Authorization: Bearer not-a-token\r\n"):
        with _connect(platform) as sock:
            sock.sendall(
                (
                    "POST /api/v1/applications HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/json\r\nContent-Length: 500000\r\n"
                    f"{auth}\r\n"
                ).encode()
            )
            started = time.monotonic()
            assert _read_status(sock, 5) == 401
            assert time.monotonic() - started < 5


def test_a_chunked_webhook_over_its_limit_is_413(platform: Platform) -> None:
    """The payment webhook checked its size only when Content-Length was present."""
    status, _sent = _chunked_upload(platform, "/api/v1/payments/webhooks/sandbox", 1024 * 1024)
    assert status == 413


def test_a_signed_in_citizen_over_the_json_limit_gets_413_and_the_error_shape(
    platform: Platform,
) -> None:
    with platform.api("erika") as api:
        big = api.post(
            "/applications",
            content=b'{"service": "' + b"x" * (2 * 1024 * 1024) + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert big.status_code == 413
        assert big.json()["error"] == "payload_too_large"
        # Under the limit the same route works as before.
        ok = api.post("/applications", json={"service": "meldebescheinigung"})
        assert ok.status_code == 201, ok.text


def test_a_portal_form_over_the_limit_gets_a_page_not_a_500(platform: Platform) -> None:
    response = httpx.post(
        f"{platform.base_url}/verify",
        content=b"a=" + b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert response.status_code == 413
    assert "zu groß" in response.text
