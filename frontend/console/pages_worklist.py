"""The worklist page and its CSV export."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.console.access import department_services
from backend.console.clerks import colleagues
from backend.console.identity import Permission
from backend.console.worklist import (
    REASONS,
    WorklistFilter,
    WorklistPage,
    worklist,
    worklist_csv,
)
from backend.errors import InvalidInput
from backend.models_console import ConsoleClerk
from frontend.console import labels
from frontend.console.common import render, require_clerk
from frontend.web import ctx_of


def build() -> APIRouter:
    router = APIRouter()

    @router.get("/console/worklist")
    async def worklist_page(request: Request) -> Response:
        clerk = await require_clerk(request)
        clerk.require(Permission.VIEW)
        ctx = ctx_of(request)
        params = dict(request.query_params)
        error = None
        try:
            flt = WorklistFilter.parse(params)
        except InvalidInput as exc:
            flt, error = WorklistFilter(), exc.message

        def load() -> tuple[WorklistPage, list[ConsoleClerk]]:
            with Session(ctx.engine) as session:
                return worklist(session, clerk, flt), colleagues(session, clerk.department)

        page, staff = await run_in_threadpool(load)
        query = {k: v for k, v in params.items() if k != "page" and v}
        return render(
            request,
            "console/worklist.html",
            {
                "page": page,
                "flt": flt,
                "error": error,
                "services": department_services(ctx, clerk.department),
                "staff": staff,
                "reasons": REASONS,
                "labels": labels,
                "query": query,
            },
            status_code=422 if error else 200,
        )

    @router.get("/console/worklist.csv")
    async def worklist_export(request: Request) -> Response:
        clerk = await require_clerk(request)
        clerk.require(Permission.VIEW)
        ctx = ctx_of(request)
        flt = WorklistFilter.parse(dict(request.query_params))

        def load() -> str:
            with Session(ctx.engine) as session:
                return worklist_csv(session, clerk, flt)

        body = await run_in_threadpool(load)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="arbeitsliste.csv"',
                "Cache-Control": "no-store",
            },
        )

    return router
