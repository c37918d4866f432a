"""Logging in and out (OIDC code flow with PKCE, server-side sessions) and the page language."""

from __future__ import annotations

import re
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.cases import applications as apps
from backend.cases.drafts import my_drafts
from backend.columns import utcnow
from backend.errors import KnopfdruckError
from backend.login import sessions
from backend.ratelimit import check_rate
from frontend.i18n import LANGUAGES
from frontend.rendering import LANG_COOKIE, render
from frontend.web import BINDING_COOKIE, SESSION_COOKIE, checked_form, ctx_of, current, require

_START = re.compile(r"^/services/([a-z][a-z0-9-]{0,62})/start$")


async def _straight_in(request: Request, new: sessions.NewSession) -> str:
    """Issue 21 item 6: "Anmelden und Antrag starten" lands in the application, not on the
    service page again. Only a login this browser began (state, PKCE and binding cookie all
    checked above) gets here, so a forged link cannot start anything unseen; with a draft
    already there, or when the start is refused, the citizen sees the choice or the reason."""
    match = _START.fullmatch(new.return_to)
    if match is None:
        return new.return_to
    ctx = ctx_of(request)
    slug = match.group(1)
    if slug not in ctx.catalogue:
        return new.return_to
    active = await run_in_threadpool(sessions.load_session, ctx, new.token)
    if active is None or active.identity.is_clerk:
        return new.return_to
    drafts = await run_in_threadpool(my_drafts, ctx, active.identity)
    if any(d.service == slug for d in drafts):
        return new.return_to  # GET /services/{slug}/start offers to continue
    try:
        ip = request.client.host if request.client else None
        await run_in_threadpool(
            check_rate, ctx.engine, ctx.settings, "start", account=active.identity.sub, ip=ip
        )
        application = await apps.start_application(ctx, active.identity, slug)
    except KnopfdruckError:
        # Trust level too low, rate limited, a register down for good: the service page says
        # what to do, and its start button gives the reason again.
        return f"/services/{slug}"
    return f"/applications/{application.id}"


def build(secure: bool) -> APIRouter:
    """`secure`: cookies only over HTTPS, everywhere but on loopback."""
    router = APIRouter()

    @router.get("/lang/{code}")
    def switch_language(code: str, next: str = "/") -> Response:
        response = RedirectResponse(sessions.safe_return_path(next), status_code=303)
        if code in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", secure=secure, path="/"
            )
        return response

    @router.get("/login")
    async def login(request: Request, next: str = "/") -> Response:
        start = await run_in_threadpool(sessions.begin_login, ctx_of(request), next)
        response = RedirectResponse(start.redirect_url, status_code=303)
        response.set_cookie(
            BINDING_COOKIE,
            start.browser_binding,
            max_age=600,
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/auth",
        )
        return response

    @router.get("/auth/callback")
    async def callback(
        request: Request, code: str = "", state: str = "", error: str = ""
    ) -> Response:
        if error or not code or not state:
            return render(request, "login_cancelled.html", status_code=400)
        new = await sessions.complete_login(
            ctx_of(request),
            code=code,
            state=state,
            browser_binding=request.cookies.get(BINDING_COOKIE),
        )
        # A fresh token on every login: a session id planted before login is worthless.
        await run_in_threadpool(
            sessions.end_session, ctx_of(request), request.cookies.get(SESSION_COOKIE)
        )
        target = await _straight_in(request, new)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE, new.token, httponly=True, samesite="lax", secure=secure, path="/"
        )
        response.delete_cookie(BINDING_COOKIE, path="/auth")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        active = await require(request)
        form = await checked_form(request, active)
        await run_in_threadpool(
            sessions.end_session, ctx_of(request), request.cookies.get(SESSION_COOKIE)
        )
        # "Log in with a stronger method" logs out first and then starts a new login.
        after = form.get("next")
        target = "/logged-out"
        if isinstance(after, str) and after.startswith("/login"):
            target = sessions.safe_return_path(after)
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.post("/session/extend")
    async def extend_session(request: Request) -> Response:
        """WCAG 2.2.1: the citizen asks for more time; the idle timeout starts again now.
        Answered as JSON to the warning dialog, with a redirect back to a plain form post."""
        active = await require(request)
        form = await checked_form(request, active)
        extended = await run_in_threadpool(
            partial(
                sessions.load_session,
                ctx_of(request),
                request.cookies.get(SESSION_COOKIE),
                extend=True,
            )
        )
        expires_at = extended.expires_at if extended else None
        if "application/json" in request.headers.get("accept", ""):
            left = (expires_at - utcnow()).total_seconds() if expires_at else 0
            return JSONResponse(
                {
                    "expires_at": expires_at.isoformat(timespec="seconds") if expires_at else None,
                    "seconds_left": max(0, int(left)),
                },
                headers={"Cache-Control": "no-store"},
            )
        back = form.get("next")
        return RedirectResponse(
            sessions.safe_return_path(back if isinstance(back, str) else "/"), status_code=303
        )

    @router.get("/logged-out")
    async def logged_out(request: Request) -> Response:
        await current(request)
        return render(request, "logged_out.html")

    return router
