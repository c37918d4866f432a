"""Citizen portal pages: login, catalogue, confirm-don't-retype, check answers, case status, PDF.

Every page works without JavaScript; every state-changing form carries a CSRF token.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.auth import sessions
from backend.cases import applications as apps
from backend.cases import queries
from backend.cases.views import application_view, case_view
from backend.context import AppContext
from backend.domain.case_state import SETTLED
from backend.errors import Forbidden, InvalidInput, KnopfdruckError
from backend.settings import Settings
from frontend.i18n import LANGUAGES, pick_language, translations

TEMPLATES = Path(__file__).parent / "templates"
BERLIN = ZoneInfo("Europe/Berlin")
STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "kd_session"
BINDING_COOKIE = "kd_login"
LANG_COOKIE = "kd_lang"


class LoginRequired(KnopfdruckError):
    status_code = 401
    code = "login_required"


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC)


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


_ENV = _env()


def _lang(request: Request) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE))


def _fmt_date(value: Any, lang: str) -> str:
    if isinstance(value, str):
        text = value
        try:
            value = date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime):
        return format_datetime(
            value,
            "dd.MM.yyyy, HH:mm" if lang == "de" else "d MMM yyyy, HH:mm",
            tzinfo=BERLIN,
            locale=lang,
        )
    if isinstance(value, date):
        return format_date(value, "dd.MM.yyyy" if lang == "de" else "d MMMM yyyy", locale=lang)
    return "" if value is None else str(value)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    trans = translations(lang)
    tpl = _ENV.get_template(template)
    active: sessions.ActiveSession | None = getattr(request.state, "portal_session", None)
    html = tpl.render(
        _=trans.gettext,
        gettext=trans.gettext,
        ngettext=trans.ngettext,
        lang=lang,
        other_lang="en" if lang == "de" else "de",
        t=lambda text: getattr(text, lang) if hasattr(text, lang) else (text or {}).get(lang, ""),
        fmt_date=lambda v: _fmt_date(v, lang),
        fmt_money=lambda v: format_currency(
            Decimal(str(v)), "EUR", locale="de_DE" if lang == "de" else "en_GB"
        ),
        path=request.url.path,
        quote=quote,
        user=active.identity if active else None,
        csrf_token=active.csrf_token if active else "",
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def render_error_page(request: Request, status_code: int, message: str) -> Response:
    """Errors tell the citizen what to do next; a missing login sends them to log in."""
    if status_code == 401 and request.method == "GET":
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return render(
        request, "error.html", status_code=status_code, status=status_code, message=message
    )


def build_portal_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    secure = not settings.is_local

    def ctx_of(request: Request) -> AppContext:
        ctx: AppContext = request.app.state.ctx
        return ctx

    async def current(request: Request) -> sessions.ActiveSession | None:
        active = await run_in_threadpool(
            sessions.load_session, ctx_of(request), request.cookies.get(SESSION_COOKIE)
        )
        request.state.portal_session = active
        return active

    async def require(request: Request) -> sessions.ActiveSession:
        active = await current(request)
        if active is None:
            raise LoginRequired("Bitte melden Sie sich an.")
        if active.identity.is_clerk:
            raise Forbidden(
                "Dieses Portal ist für Bürgerinnen und Bürger. Bitte melden Sie sich mit einem "
                "persönlichen Konto an."
            )
        return active

    async def form_with_csrf(request: Request, active: sessions.ActiveSession) -> dict[str, str]:
        form = await request.form()
        data = {k: v for k, v in form.items() if isinstance(v, str)}
        if not secrets.compare_digest(data.get("csrf_token", ""), active.csrf_token):
            raise Forbidden(
                "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und versuchen Sie es "
                "noch einmal."
            )
        return data

    @router.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> Response:
        await current(request)
        return render(request, "index.html", services=ctx_of(request).catalogue.all())

    @router.get("/lang/{code}")
    def switch_language(code: str, next: str = "/") -> Response:
        response = RedirectResponse(sessions.safe_return_path(next), status_code=303)
        if code in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", secure=secure
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
            return render(
                request,
                "error.html",
                status_code=400,
                status=400,
                message="Die Anmeldung wurde abgebrochen. Sie können es noch einmal versuchen.",
            )
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
        response.set_cookie(SESSION_COOKIE, new.token, httponly=True, samesite="lax", secure=secure)
        response.delete_cookie(BINDING_COOKIE, path="/auth")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        active = await require(request)
        await form_with_csrf(request, active)
        await run_in_threadpool(
            sessions.end_session, ctx_of(request), request.cookies.get(SESSION_COOKIE)
        )
        response = RedirectResponse("/?logged_out=1", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.post("/services/{slug}/start")
    async def start(request: Request, slug: str) -> Response:
        active = await require(request)
        await form_with_csrf(request, active)
        application = await apps.start_application(ctx_of(request), active.identity, slug)
        return RedirectResponse(f"/applications/{application.id}", status_code=303)

    @router.get("/services/{slug}")
    async def service_page(request: Request, slug: str) -> Response:
        await current(request)
        definition = ctx_of(request).catalogue.get(slug)
        return render(request, "service.html", service=definition)

    def _application_page(
        request: Request,
        active: sessions.ActiveSession,
        application_id: str,
        template: str,
        status_code: int = 200,
        **extra: Any,
    ) -> Response:
        ctx = ctx_of(request)
        with Session(ctx.engine) as session:
            application = apps.get_application(session, active.identity, application_id)
        if application.status != "draft":
            with Session(ctx.engine) as session:
                case = apps._case_of(session, application.id)
            return RedirectResponse(f"/cases/{case.id}", status_code=303)
        definition = ctx.catalogue.get(application.service)
        view = application_view(definition, application)
        return render(
            request,
            template,
            status_code=status_code,
            service=definition,
            app=view,
            held=[f for f in view.fields if f.origin == "registry"],
            to_enter=[f for f in view.fields if f.origin == "citizen"],
            **extra,
        )

    @router.get("/applications/{application_id}")
    async def application_page(request: Request, application_id: str) -> Response:
        active = await require(request)
        return await run_in_threadpool(
            _application_page, request, active, application_id, "application.html"
        )

    @router.post("/applications/{application_id}")
    async def save_application(request: Request, application_id: str) -> Response:
        active = await require(request)
        data = await form_with_csrf(request, active)
        answers = {
            k.removeprefix("answer__"): v for k, v in data.items() if k.startswith("answer__")
        }
        disputes: dict[str, str | None] = {
            k.removeprefix("dispute__"): (v or None)
            for k, v in data.items()
            if k.startswith("dispute__")
        }
        try:
            await run_in_threadpool(
                lambda: apps.update_application(
                    ctx_of(request),
                    active.identity,
                    application_id,
                    answers=answers,
                    disputes=disputes,
                    remark=data.get("remark", ""),
                ),
            )
        except InvalidInput as exc:
            return await run_in_threadpool(
                _application_page,
                request,
                active,
                application_id,
                "application.html",
                422,
                errors=exc.details,
                submitted=data,
            )
        return RedirectResponse(f"/applications/{application_id}/check", status_code=303)

    @router.get("/applications/{application_id}/check")
    async def check_page(request: Request, application_id: str) -> Response:
        active = await require(request)
        return await run_in_threadpool(
            _application_page, request, active, application_id, "check.html"
        )

    @router.post("/applications/{application_id}/submit")
    async def submit(request: Request, application_id: str) -> Response:
        active = await require(request)
        await form_with_csrf(request, active)
        try:
            case = await run_in_threadpool(
                apps.submit_application, ctx_of(request), active.identity, application_id
            )
        except InvalidInput as exc:
            return await run_in_threadpool(
                _application_page,
                request,
                active,
                application_id,
                "application.html",
                422,
                errors=exc.details,
                submitted={},
            )
        return RedirectResponse(f"/cases/{case.id}", status_code=303)

    @router.get("/cases")
    async def cases_page(request: Request) -> Response:
        active = await require(request)
        ctx = ctx_of(request)

        def load() -> list[Any]:
            with Session(ctx.engine) as session:
                return [
                    case_view(c, queries.case_documents(session, c.id), url_prefix="")
                    for c in queries.list_cases(session, active.identity)
                ]

        cases = await run_in_threadpool(load)
        return render(request, "cases.html", cases=cases, catalogue=ctx.catalogue)

    @router.get("/cases/{case_id}")
    async def case_page(request: Request, case_id: str) -> Response:
        active = await require(request)
        ctx = ctx_of(request)

        def load() -> Any:
            with Session(ctx.engine) as session:
                case = queries.get_case(session, active.identity, case_id)
                return case_view(case, queries.case_documents(session, case.id), url_prefix="")

        view = await run_in_threadpool(load)
        return render(
            request,
            "case.html",
            case=view,
            service=ctx.catalogue.get(view.service),
            pending=view.status not in SETTLED and view.status != "referred",
        )

    @router.get("/cases/{case_id}/documents/{document_id}")
    async def document(request: Request, case_id: str, document_id: str) -> Response:
        active = await require(request)
        ctx = ctx_of(request)

        def load() -> Any:
            with Session(ctx.engine) as session:
                return queries.get_document(session, active.identity, case_id, document_id)

        doc = await run_in_threadpool(load)
        return Response(
            doc.content,
            media_type=doc.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{doc.filename}"',
                "Cache-Control": "private, no-store",
            },
        )

    return router
