"""The clerk's own settings: whether and when to get a mail about new work (issue 17, item 7)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.console import workmail
from backend.department.models import ConsoleClerk
from backend.errors import InvalidInput
from backend.notifications.email import mail_enabled
from frontend.console.common import clerk_form, render, require_clerk
from frontend.web import ctx_of


def build() -> APIRouter:
    router = APIRouter()

    async def show(request: Request, error: str | None = None, status_code: int = 200) -> Response:
        clerk = await require_clerk(request)
        ctx = ctx_of(request)

        def load() -> ConsoleClerk | None:
            with Session(ctx.engine) as session:
                return session.get(ConsoleClerk, clerk.sub)

        row = await run_in_threadpool(load)
        return render(
            request,
            "console/settings.html",
            {
                "me": row,
                "error": error,
                "saved": request.query_params.get("done") == "saved",
                "mail_on": mail_enabled(ctx.settings),
            },
            status_code=status_code,
        )

    @router.get("/console/settings")
    async def settings_page(request: Request) -> Response:
        return await show(request)

    @router.post("/console/settings")
    async def save(request: Request) -> Response:
        clerk, fields = await clerk_form(request)
        try:
            await run_in_threadpool(
                workmail.set_choice, ctx_of(request), clerk, fields.get("work_mail")
            )
        except InvalidInput as exc:
            return await show(request, exc.message, exc.status_code)
        return RedirectResponse("/console/settings?done=saved", status_code=303)

    return router
