"""Absences and substitutes (issue 17, item 5): a clerk marks an absence and names a colleague,
who then sees the absent clerk's cases under "Meine Vorgänge"."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.console import followup
from backend.console.clerks import colleagues
from backend.department.identity import Permission
from backend.errors import InvalidInput, NotFound
from frontend.console.common import clerk_form, render, require_clerk
from frontend.web import ctx_of


def build() -> APIRouter:
    router = APIRouter()

    async def show(request: Request, error: str | None = None, status_code: int = 200) -> Response:
        clerk = await require_clerk(request)
        clerk.require(Permission.VIEW)
        ctx = ctx_of(request)

        def load() -> dict[str, object]:
            with Session(ctx.engine) as session:
                return {
                    "absences": followup.absences(session, clerk.department),
                    "staff": [
                        c for c in colleagues(session, clerk.department) if c.sub != clerk.sub
                    ],
                    "represented": followup.represented(session, clerk),
                }

        data = await run_in_threadpool(load)
        done = request.query_params.get("done")
        return render(
            request,
            "console/absence.html",
            {**data, "error": error, "done": done if done in ("recorded", "ended") else None},
            status_code=status_code,
        )

    @router.get("/console/absence")
    async def absence_page(request: Request) -> Response:
        return await show(request)

    @router.post("/console/absence")
    async def record(request: Request) -> Response:
        clerk, fields = await clerk_form(request)
        try:
            await run_in_threadpool(
                followup.record_absence,
                ctx_of(request),
                clerk,
                fields.get("starts_on"),
                fields.get("ends_on"),
                fields.get("substitute"),
            )
        except InvalidInput as exc:
            return await show(request, exc.message, exc.status_code)
        return RedirectResponse("/console/absence?done=recorded", status_code=303)

    @router.post("/console/absence/{absence_id}/end")
    async def end(request: Request, absence_id: str) -> Response:
        clerk, _fields = await clerk_form(request)
        try:
            await run_in_threadpool(followup.end_absence, ctx_of(request), clerk, absence_id[:32])
        except NotFound as exc:
            return await show(request, exc.message, exc.status_code)
        return RedirectResponse("/console/absence?done=ended", status_code=303)

    return router
