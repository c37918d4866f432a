"""Mounts every console page: this area's own, and the optional pages other areas contribute
(frontend/console/dashboard.py, impact.py, assisted.py), each a module with ``build()``."""

from __future__ import annotations

from importlib import import_module

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.login import sessions
from backend.settings import Settings
from frontend.console import (
    pages_absence,
    pages_automation,
    pages_case,
    pages_eakte,
    pages_operator,
    pages_payments,
    pages_qa,
    pages_search,
    pages_settings,
    pages_worklist,
)
from frontend.console.common import OPTIONAL_PAGES, clerk_form, has_page
from frontend.web import SESSION_COOKIE, ctx_of


def _session_routes() -> APIRouter:
    router = APIRouter()

    @router.get("/console/login")
    def console_login(next: str = "/console/") -> Response:
        """The console logs in through the same OIDC provider as the portal."""
        target = sessions.safe_return_path(next)
        if not target.startswith("/console"):
            target = "/console/"
        return RedirectResponse(f"/login?next={target}", status_code=303)

    @router.post("/console/logout")
    async def console_logout(request: Request) -> Response:
        await clerk_form(request)
        await run_in_threadpool(
            sessions.end_session, ctx_of(request), request.cookies.get(SESSION_COOKIE)
        )
        response = RedirectResponse("/logged-out", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    if not has_page("dashboard"):

        @router.get("/console/")
        @router.get("/console")
        def console_home() -> Response:
            """Until the dashboard exists, the worklist is the console's start page."""
            return RedirectResponse("/console/worklist", status_code=303)

    return router


def build_console_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.include_router(_session_routes())
    for name in OPTIONAL_PAGES:
        if has_page(name):
            router.include_router(import_module(f"frontend.console.{name}").build())
    router.include_router(pages_worklist.build())
    router.include_router(pages_case.build())
    router.include_router(pages_automation.build())
    router.include_router(pages_qa.build())
    router.include_router(pages_search.build())
    router.include_router(pages_absence.build())
    router.include_router(pages_settings.build())
    router.include_router(pages_eakte.build())
    router.include_router(pages_payments.build())
    router.include_router(pages_operator.build())
    return router
