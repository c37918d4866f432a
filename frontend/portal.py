"""Citizen portal: catalogue, login, confirm-don't-retype applications, cases, data cockpit.

Every page works without JavaScript; every state-changing form carries a CSRF token; the
pages call the backend's service layer and never the database.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from backend.cases.catalogue_views import ServiceView, service_view
from backend.login.sessions import safe_return_path
from backend.settings import Settings
from frontend import (
    pages_account,
    pages_actions,
    pages_application,
    pages_cases,
    pages_catalogue,
    pages_legal,
    pages_places,
)
from frontend.catalogue import search
from frontend.rendering import is_bilingual, render
from frontend.web import SESSION_COOKIE

STATIC = Path(__file__).parent / "static"


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC)


def _return_path(request: Request) -> str:
    """Where to go after logging in again: this page, or for a form post the page it came from."""
    if request.method == "GET":
        return safe_return_path(request.url.path)
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = referer.netloc in ("", request.url.netloc)
    return safe_return_path(referer.path) if same_site else "/"


def _suggestions(request: Request) -> list[ServiceView]:
    """A way on from a dead link: services whose words match the address's last part."""
    ctx = getattr(request.app.state, "ctx", None)
    if ctx is None:
        return []
    words = re.sub(r"[^\w]+", " ", request.url.path.rstrip("/").rsplit("/", 1)[-1])[:100]
    if len(words.strip()) < 3:
        return []
    views = [service_view(d, ctx.connectors) for d in ctx.catalogue.all()]
    return search(views, words)[:5]


def render_error_page(request: Request, status_code: int, message: str) -> Response:
    """Errors tell the citizen what happened and what to do next; a missing login sends them
    to log in, an expired one explains why they were logged out."""
    expired = bool(getattr(request.state, "session_expired", False))
    # A refused login callback is shown, not answered with a login that would come back to the
    # callback (issue 14, item 12): its error page offers a fresh login to the start page.
    login_step = request.url.path.startswith("/auth/")
    if status_code == 401 and request.method == "GET" and not expired and not login_step:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    response = render(
        request,
        "error.html",
        bilingual=is_bilingual(message),
        suggestions=_suggestions(request) if status_code == 404 else [],
        status_code=status_code,
        status=status_code,
        message=message,
        expired=expired and status_code == 401,
        login_refused=login_step and status_code == 401,
        return_to=_return_path(request),
    )
    if expired:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def build_portal_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    secure = not settings.is_local
    router.include_router(pages_account.build(secure))
    router.include_router(pages_catalogue.build())
    router.include_router(pages_legal.build())
    router.include_router(pages_application.build())
    router.include_router(pages_cases.build())
    # After the case pages: /cases/{id}/{action} must not shadow /cases/{id}/receipt.
    router.include_router(pages_actions.build())
    # Last: /{tenant}/… must not shadow any other top-level page (frontend/pages_places.py).
    router.include_router(pages_places.build())
    return router
