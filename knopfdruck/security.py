"""Security headers on every response (a strict CSP, no framing) and the login rate limit."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from backend.ratelimit import RateLimited, check_rate
from frontend.portal import render_error_page

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


class SecurityHeaders(BaseHTTPMiddleware):
    """Adds CSP and friends; HSTS only when the platform is served over HTTPS."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        super().__init__(app)
        self.hsts = hsts

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if self.hsts:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


LOGIN_PATHS = frozenset({"/login", "/auth/callback"})
"""Each login start writes a row (PKCE verifier, nonce) and each callback calls the IdP."""


class LoginRateLimit(BaseHTTPMiddleware):
    """Counts login starts and callbacks per IP address (backend/ratelimit.py, action "login").

    The account is not known before the IdP answers; sessions.complete_login counts it then.
    A middleware, because the login routes are the portal's: this keeps the limit in one place.
    """

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path in LOGIN_PATHS and request.method == "GET":
            ctx = request.app.state.ctx
            ip = request.client.host if request.client else None
            try:
                await run_in_threadpool(
                    check_rate, ctx.engine, ctx.settings, "login", account=None, ip=ip
                )
            except RateLimited as exc:
                response = render_error_page(request, exc.status_code, exc.message)
                response.headers["Retry-After"] = str(exc.retry_after_s)
                return response
        return await call_next(request)
