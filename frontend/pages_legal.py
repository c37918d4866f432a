"""The pages the law requires of a public portal, and the feedback form (issue 21, item 1).

Impressum (§ 5 DDG, § 18 MStV), Datenschutzerklärung (Art. 13 GDPR), Erklärung zur
Barrierefreiheit (BITV 2.0 § 7, EU 2016/2102), Leichte Sprache and DGS (BITV 2.0 § 4), and a
feedback form on every service (OZG service standard). Their content comes from the operator's
config (backend/definitions/portal.py) and from the service definitions, never from a template.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.context import AppContext
from backend.definitions.portal import PortalConfig
from backend.errors import Forbidden, ServiceUnavailable
from backend.legal import feedback
from backend.legal.privacy import controllers
from backend.ratelimit import check_rate
from frontend.rendering import language, render
from frontend.web import TooLarge, ctx_of, current

MAX_FEEDBACK_BYTES = 64 * 1024
FORM_COOKIE = "kd_feedback"
_IDS = re.compile(r"/[0-9a-fA-F]{32}(?=/|$)|/KD-[0-9A-Z-]+(?=/|$)")


def portal_of(ctx: AppContext) -> PortalConfig:
    """The operator's config; build_context always loads it, so its absence is a wiring bug."""
    if ctx.portal is None:
        raise ServiceUnavailable(
            "Diese Seite ist gerade nicht verfügbar. (This page is not available right now.)"
        )
    return ctx.portal


def _same_site_path(request: Request, value: str) -> str:
    """The page a feedback link came from, as a local path only (never an outside address)."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or "\\" in value:
        return ""
    # Ids of applications, cases and messages would tie anonymous feedback to a citizen.
    return _IDS.sub("/{id}", parts.path)[:300]


def build() -> APIRouter:
    router = APIRouter()

    def legal_context(ctx: AppContext) -> dict[str, Any]:
        portal = portal_of(ctx)
        return {
            "portal": portal,
            "controllers": controllers(ctx.catalogue.all(), portal, ctx.connectors, ctx.settings),
        }

    @router.get("/impressum")
    async def imprint(request: Request) -> Response:
        await current(request)
        return render(request, "legal_imprint.html", **legal_context(ctx_of(request)))

    @router.get("/datenschutz")
    async def privacy(request: Request) -> Response:
        await current(request)
        ctx = ctx_of(request)
        return render(
            request,
            "legal_privacy.html",
            session_minutes=ctx.settings.session_idle_minutes,
            feedback_days=feedback.KEEP_DAYS,
            **legal_context(ctx),
        )

    @router.get("/barrierefreiheit")
    async def accessibility(request: Request) -> Response:
        await current(request)
        return render(request, "legal_accessibility.html", **legal_context(ctx_of(request)))

    @router.get("/leichte-sprache")
    async def easy_language(request: Request) -> Response:
        await current(request)
        portal = portal_of(ctx_of(request))
        return render(request, "legal_easy.html", sections=portal.easy_language)

    @router.get("/gebaerdensprache")
    async def sign_language(request: Request) -> Response:
        await current(request)
        portal = portal_of(ctx_of(request))
        return render(
            request,
            "legal_sign.html",
            sections=portal.sign_language,
            videos=portal.sign_language_videos,
        )

    def feedback_page(
        request: Request,
        form: feedback.FeedbackForm,
        status_code: int = 200,
        errors: list[dict[str, str]] | None = None,
    ) -> Response:
        ctx = ctx_of(request)
        service = ctx.catalogue.get(form.service) if form.service in ctx.catalogue else None
        # A logged-in visitor's form carries the session's CSRF token; an anonymous one gets a
        # token in a cookie only this form's post carries back (double submit), so no other
        # site can post feedback in a visitor's name.
        active = getattr(request.state, "portal_session", None)
        token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)
        response = render(
            request,
            "feedback.html",
            status_code=status_code,
            form=form,
            service=service,
            authority=feedback.authority_for(ctx, form.service),
            errors=errors or [],
            error_of={e["field"]: e for e in errors or []},
            max_message=feedback.MAX_MESSAGE,
            form_token=active.csrf_token if active else token,
        )
        if active is None:
            response.set_cookie(
                FORM_COOKIE,
                token,
                max_age=2 * 3600,
                httponly=True,
                samesite="strict",
                secure=not ctx.settings.is_local,
                path="/feedback",
            )
        return response

    def token_ok(request: Request, sent: str) -> bool:
        active = getattr(request.state, "portal_session", None)
        expected = active.csrf_token if active else request.cookies.get(FORM_COOKIE, "")
        return bool(expected) and secrets.compare_digest(sent.encode(), expected.encode())

    @router.get("/feedback")
    async def feedback_form(
        request: Request, topic: str = "portal", service: str = "", page: str = ""
    ) -> Response:
        await current(request)
        ctx = ctx_of(request)
        page = _same_site_path(request, page)
        # The footer's link names only the page: on a service's pages it is about that service.
        on_service = re.match(r"^/services/([a-z][a-z0-9-]*)(/|$)", page)
        if not service and on_service and on_service.group(1) in ctx.catalogue:
            service = on_service.group(1)
            topic = "service" if topic == "portal" else topic
        form = feedback.FeedbackForm(
            topic=topic if topic in feedback.TOPICS else "portal",
            message="",
            service=service if service in ctx.catalogue else "",
            page=page,
        )
        return feedback_page(request, form)

    @router.post("/feedback")
    async def send_feedback(request: Request) -> Response:
        # Anonymous on purpose (no login, no CSRF token to tie it to an account): nothing is
        # changed for anyone, and the sender stays unknown unless they give an address.
        await current(request)
        length = request.headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > MAX_FEEDBACK_BYTES:
            raise TooLarge(
                "Die Nachricht ist zu lang. Bitte kürzen Sie sie. "
                "(The message is too long. Please shorten it.)"
            )
        ctx = ctx_of(request)
        ip = request.client.host if request.client else None
        await run_in_threadpool(
            check_rate, ctx.engine, ctx.settings, "feedback", account=None, ip=ip
        )
        data = await request.form(max_files=0, max_fields=20)

        def text(name: str) -> str:
            value = data.get(name)
            return value if isinstance(value, str) else ""

        if not token_ok(request, text("csrf_token")):
            raise Forbidden(
                "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und senden Sie es noch "
                "einmal. (The form has expired. Reload the page and try again.)"
            )

        form = feedback.FeedbackForm(
            topic=text("topic"),
            message=text("message"),
            service=text("service"),
            reply_to=text("reply_to"),
            rating=text("rating"),
            page=_same_site_path(request, text("page")),
            lang=language(request),
        )
        found = feedback.problems(ctx, form)
        if found:
            errors = [
                {"field": p.field, "href": f"#in-{p.field}", "message_de": p.de, "message": p.en}
                for p in found
            ]
            return feedback_page(request, form, 422, errors)
        await run_in_threadpool(feedback.store, ctx, form)
        target = "/feedback/sent" + (f"?service={form.service}" if form.service else "")
        return RedirectResponse(target, status_code=303)

    @router.get("/feedback/sent")
    async def feedback_sent(request: Request, service: str = "") -> Response:
        await current(request)
        ctx = ctx_of(request)
        return render(
            request,
            "feedback_sent.html",
            service=ctx.catalogue.get(service) if service in ctx.catalogue else None,
            authority=feedback.authority_for(ctx, service),
        )

    return router
