"""Logging in and out (OIDC code flow with PKCE, server-side sessions) and the page language."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.auth import sessions
from frontend.i18n import LANGUAGES
from frontend.rendering import LANG_COOKIE, render
from frontend.web import BINDING_COOKIE, SESSION_COOKIE, checked_form, ctx_of, current, require


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
        response = RedirectResponse(new.return_to, status_code=303)
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

    @router.get("/logged-out")
    async def logged_out(request: Request) -> Response:
        await current(request)
        return render(request, "logged_out.html")

    return router
