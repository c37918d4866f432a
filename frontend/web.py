"""What every portal route needs: the app context, the citizen's session, checked form posts."""

from __future__ import annotations

import secrets

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from backend.cases.queries import my_unread_count
from backend.context import AppContext
from backend.errors import Forbidden, KnopfdruckError
from backend.login import sessions
from backend.ratelimit import check_rate

SESSION_COOKIE = "kd_session"
BINDING_COOKIE = "kd_login"
MAX_FORM_BYTES = 256 * 1024
"""Largest form post without files: every text field at its limit fits many times over."""
RATE_LIMITED_FORMS: dict[str, str] = {
    "/services/{slug}/start": "start",
    "/{tenant_id}/services/{slug}/start": "start",
    "/applications/{application_id}/submit": "submit",
}
"""Form posts counted against the account's and the address's limit (backend/ratelimit.py),
by route template, so the same limits hold for the portal as for the JSON API."""


class LoginRequired(KnopfdruckError):
    status_code = 401
    code = "login_required"


class SessionExpired(KnopfdruckError):
    """The browser brought a session cookie we no longer know: idle too long, or logged out."""

    status_code = 401
    code = "session_expired"


class TooLarge(KnopfdruckError):
    status_code = 413
    code = "too_large"


def ctx_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def current(request: Request) -> sessions.ActiveSession | None:
    """The citizen's session, if any; remembers for the error page whether one just expired,
    and for the header how many mailbox messages wait to be read."""
    token = request.cookies.get(SESSION_COOKIE)
    ctx = ctx_of(request)

    def load() -> tuple[sessions.ActiveSession | None, int]:
        active = sessions.load_session(ctx, token)
        if active is None or active.identity.is_clerk:
            return active, 0
        return active, my_unread_count(ctx, active.identity)

    active, unread = await run_in_threadpool(load)
    request.state.portal_session = active
    request.state.session_expired = bool(token) and active is None
    request.state.unread = unread
    return active


async def require(request: Request) -> sessions.ActiveSession:
    """A logged-in citizen; clerks work in the console, not in the citizens' portal."""
    active = await current(request)
    if active is None:
        if request.state.session_expired:
            raise SessionExpired(
                "Sie wurden aus Sicherheitsgründen abgemeldet. (You have been logged out.)"
            )
        raise LoginRequired("Bitte melden Sie sich an. (Please log in.)")
    if active.identity.is_clerk:
        raise Forbidden(
            "Dieses Portal ist für Bürgerinnen und Bürger. Bitte melden Sie sich mit einem "
            "persönlichen Konto an. (This portal is for citizens; log in with a personal account.)"
        )
    return active


async def checked_form(
    request: Request,
    active: sessions.ActiveSession,
    *,
    max_bytes: int = MAX_FORM_BYTES,
    max_files: int = 0,
) -> FormData:
    """The posted form after its CSRF token matched; oversized bodies are refused unread."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > max_bytes:
        raise TooLarge(
            "Die gesendeten Daten sind zu groß. Bitte wählen Sie eine kleinere Datei. "
            "(What you sent is too large. Choose a smaller file.)"
        )
    form = await request.form(max_files=max_files, max_fields=200)
    token = form.get("csrf_token")
    # Compared as bytes: compare_digest refuses non-ASCII str, and a forged token may be any text.
    if not isinstance(token, str) or not secrets.compare_digest(
        token.encode(), active.csrf_token.encode()
    ):
        raise Forbidden(
            "Das Formular ist abgelaufen. Bitte gehen Sie zurück, laden Sie die Seite neu und "
            "senden Sie es noch einmal. (The form has expired. Reload the page and try again.)"
        )
    route = request.scope.get("route")
    action = RATE_LIMITED_FORMS.get(getattr(route, "path", ""))
    if action is not None:
        ctx = ctx_of(request)
        ip = request.client.host if request.client else None
        await run_in_threadpool(
            check_rate, ctx.engine, ctx.settings, action, account=active.identity.sub, ip=ip
        )
    return form


def texts(form: FormData) -> dict[str, str]:
    """The text fields of a form (a name sent twice keeps its last value)."""
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


def files(form: FormData) -> dict[str, UploadFile]:
    """The file fields of a form that carry a chosen file."""
    return {
        key: value
        for key, value in form.multi_items()
        if isinstance(value, UploadFile) and (value.filename or value.size)
    }
