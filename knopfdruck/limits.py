"""Request bodies are limited per route class while they stream in, and API bodies are only read
after the caller has authenticated (issue 14, item 5).

Before, a 400 MB chunked POST to the handover callback (no credentials) was read into memory and a
300 MB JSON body to the API was parsed for 13 s before its 401. Now, in front of every route:

- a declared Content-Length above the class's limit is answered 413 before a byte is read;
- a body without Content-Length (chunked) is counted as it arrives; at the first byte over the
  limit the app is told the client went away, whatever it answered is dropped, and the client gets
  413 instead: at most limit + one chunk is ever held;
- a body-carrying request to the bearer-protected JSON API (everything under /api/v1 except the
  signed payment webhooks) has its token verified before the body is read: no token or a bad one
  is 401 without reading anything.

Classes (settings `KNOPFDRUCK_BODY_LIMIT_*`): webhooks and callbacks (signed notifications,
small), uploads (multipart/form-data, and the sandbox's FIT-Connect destination, which receives
submissions with their attachments), everything else (JSON and HTML forms). The reverse proxy in
compose.yaml enforces the largest of them as a second line.
"""

from __future__ import annotations

import html
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import KnopfdruckError
from backend.settings import Settings

WEBHOOK_PREFIXES = ("/api/v1/payments/webhooks/", "/api/handover/callbacks")
UPLOAD_PREFIXES = ("/sandbox/fitconnect",)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _mib(n: int) -> str:
    return f"{n / 1024:.0f} KiB" if n < 1024 * 1024 else f"{n / (1024 * 1024):.0f} MiB"


class BodyLimits:
    """Pure ASGI middleware: limits, counted while streaming, and authentication before reading."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.webhook = settings.body_limit_webhook_bytes
        self.upload = settings.body_limit_upload_bytes
        self.default = settings.body_limit_bytes

    def limit_for(self, path: str, content_type: str) -> int:
        """The route class decides: signed notifications, uploads, or JSON and forms."""
        if path.startswith(WEBHOOK_PREFIXES):
            return self.webhook
        if content_type.startswith("multipart/form-data") or path.startswith(UPLOAD_PREFIXES):
            return self.upload
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        limit = self.limit_for(path, headers.get("content-type", "").lower())
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await send_error(scope, send, 413, "payload_too_large", _too_large(limit))
            return
        if scope["method"] in BODY_METHODS and _needs_token(path):
            refusal = await _authenticate(scope, headers.get("authorization", ""))
            if refusal is not None:
                await send_error(scope, send, *refusal)
                return
        await self._guarded(scope, receive, send, limit)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True  # the app sees a client that went away; we answer 413
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app says about a cut-off body is replaced by our 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await send_error(scope, send, 413, "payload_too_large", _too_large(limit))


def _too_large(limit: int) -> str:
    return (
        f"Die Anfrage ist zu groß (höchstens {_mib(limit)}). "
        f"(Request body too large: at most {_mib(limit)}.)"
    )


def _needs_token(path: str) -> bool:
    return path.startswith("/api/v1/") and not path.startswith(WEBHOOK_PREFIXES)


async def _authenticate(scope: Scope, authorization: str) -> tuple[int, str, str] | None:
    """Verify the bearer token as the route will, but before its body is read."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return 401, "unauthorized", "Bitte melden Sie sich an. (Authentication required.)"
    ctx = getattr(getattr(scope.get("app"), "state", None), "ctx", None)
    if ctx is None:
        return None
    try:
        await ctx.verifier.verify(token.strip())
    except KnopfdruckError as exc:
        return exc.status_code, exc.code, exc.message
    return None


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
) -> None:
    """The platform's JSON error shape for the API, a short page for the portal."""
    path: str = scope["path"]
    headers: list[tuple[bytes, bytes]] = [(b"connection", b"close")]
    body: bytes
    if path.startswith(("/api/", "/sandbox/")):
        payload: dict[str, Any] = {"error": code, "message": message}
        if details:
            payload["details"] = details
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers.append((b"content-type", b"application/json"))
    else:
        if await _portal_page(scope, send, status, message):
            return
        title = "Die Anfrage ist zu groß" if status == 413 else "Das hat nicht geklappt"
        body = (
            f'<!doctype html><html lang="de"><meta charset="utf-8"><title>{title}</title>'
            f"<h1>{title}</h1><p>{html.escape(message)}</p>"
            '<p><a href="/">Zur Startseite</a></p></html>'
        ).encode()
        headers.append((b"content-type", b"text/html; charset=utf-8"))
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _portal_page(scope: Scope, send: Send, status: int, message: str) -> bool:
    """The portal's own error page (layout, language, way back); False if it cannot be built."""
    from starlette.requests import Request

    from frontend.portal import render_error_page

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    try:
        response = render_error_page(Request(scope), status, message)
    except Exception:  # the plain page below still answers; never a 500 for a refused body
        return False
    response.headers["connection"] = "close"
    await response(scope, no_body, send)
    return True
