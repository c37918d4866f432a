"""The department's hand-overs to the E-Akte (xdomea 0605): their receipts, the failed ones,
and the clerk's batch action for every closed case not yet filed (backend/cases/eakte.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.cases import eakte
from backend.department.identity import Permission
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.records.models import EAkteHandover
from frontend.console import labels
from frontend.console.common import clerk_form, render, require_clerk
from frontend.web import ctx_of

DONE = ("eakte_batch",)


def build() -> APIRouter:
    router = APIRouter()

    async def show(
        request: Request, *, error: str | None = None, status_code: int = 200
    ) -> Response:
        clerk = await require_clerk(request)
        clerk.require(Permission.VIEW)
        ctx = ctx_of(request)

        def load() -> tuple[list[EAkteHandover], int]:
            with Session(ctx.engine) as session:
                rows = eakte.department_handovers(session, clerk.department)
                return rows, eakte.waiting_count(session, clerk.department)

        rows, waiting = await run_in_threadpool(load)
        done = request.query_params.get("done")
        return render(
            request,
            "console/eakte.html",
            {
                "rows": rows,
                "waiting": waiting,
                "configured": eakte.configured(ctx.settings),
                "done": done if done in labels.DONE else None,
                "labels": labels,
                "error": error,
            },
            status_code=status_code,
        )

    @router.get("/console/eakte")
    async def page(request: Request) -> Response:
        return await show(request)

    @router.post("/console/eakte/handover")
    async def hand_over_all(request: Request) -> Response:
        clerk, _fields = await clerk_form(request)
        try:
            await run_in_threadpool(eakte.clerk_hand_over_all, ctx_of(request), clerk)
        except (InvalidInput, Conflict, Forbidden) as exc:
            return await show(request, error=exc.message, status_code=exc.status_code)
        return RedirectResponse("/console/eakte?done=eakte_batch", status_code=303)

    @router.post("/console/eakte/cases/{case_id}")
    async def hand_over_one(request: Request, case_id: str) -> Response:
        clerk, _fields = await clerk_form(request)
        try:
            await run_in_threadpool(eakte.clerk_hand_over, ctx_of(request), clerk, case_id)
        except (InvalidInput, Conflict, Forbidden, NotFound) as exc:
            return await show(request, error=exc.message, status_code=exc.status_code)
        return RedirectResponse("/console/eakte?done=eakte_batch", status_code=303)

    return router
