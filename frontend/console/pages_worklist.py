"""The worklist page and its CSV export."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.console import followup
from backend.console.bulk import ACTIONS as BULK_ACTIONS
from backend.console.bulk import BulkResult, run_bulk
from backend.console.clerks import colleagues
from backend.console.models import ClerkAbsence, SavedFilter
from backend.console.saved_filters import delete_filter, save_filter, saved_filters
from backend.console.worklist import (
    REASONS,
    WorklistFilter,
    WorklistPage,
    worklist,
    worklist_csv,
)
from backend.department.access import department_services
from backend.department.identity import Permission
from backend.department.models import ConsoleClerk
from backend.errors import Conflict, Forbidden, InvalidInput
from frontend.console import labels
from frontend.console.common import render, require_clerk
from frontend.web import checked_form, ctx_of, texts


def build() -> APIRouter:
    router = APIRouter()

    async def show(
        request: Request,
        *,
        bulk_error: str | None = None,
        bulk_result: BulkResult | None = None,
        filter_error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        clerk = await require_clerk(request)
        clerk.require(Permission.VIEW)
        ctx = ctx_of(request)
        params = dict(request.query_params)
        error = None
        try:
            flt = WorklistFilter.parse(params)
        except InvalidInput as exc:
            flt, error = WorklistFilter(), exc.message

        def load() -> tuple[
            WorklistPage, list[ConsoleClerk], list[ClerkAbsence], list[SavedFilter]
        ]:
            with Session(ctx.engine) as session:
                return (
                    worklist(session, clerk, flt),
                    colleagues(session, clerk.department),
                    followup.represented(session, clerk) if flt.assignee == "me" else [],
                    saved_filters(session, clerk),
                )

        page, staff, represented, saved = await run_in_threadpool(load)
        query = {k: v for k, v in params.items() if k not in ("page", "done") and v}
        services = department_services(ctx, clerk.department)
        return render(
            request,
            "console/worklist.html",
            {
                "page": page,
                "flt": flt,
                "error": error,
                "services": services,
                "service_titles": {s.id: s.title for s in services},
                "staff": staff,
                "represented": represented,
                "reasons": REASONS,
                "labels": labels,
                "query": query,
                "bulk_error": bulk_error,
                "bulk_result": bulk_result,
                "bulk_actions": BULK_ACTIONS,
                "saved": saved,
                "filter_error": filter_error,
                "done": request.query_params.get("done") == "filter_saved",
            },
            status_code=422 if error else status_code,
        )

    @router.get("/console/worklist")
    async def worklist_page(request: Request) -> Response:
        return await show(request)

    @router.post("/console/worklist")
    async def worklist_bulk(request: Request) -> Response:
        """Bulk action on the selected rows; the page shows what happened to each case."""
        clerk = await require_clerk(request)
        form = await checked_form(request, request.state.portal_session)
        fields = texts(form)
        selected = [v for v in form.getlist("case") if isinstance(v, str)]
        try:
            result = await run_in_threadpool(
                run_bulk, ctx_of(request), clerk, fields.get("bulk_action"), selected, fields
            )
        except (InvalidInput, Forbidden) as exc:
            return await show(request, bulk_error=exc.message, status_code=exc.status_code)
        return await show(request, bulk_result=result)

    @router.post("/console/worklist/filters")
    async def keep_filter(request: Request) -> Response:
        """Save the filter in the URL under the name typed; the page opens with it."""
        clerk = await require_clerk(request)
        form = await checked_form(request, request.state.portal_session)
        params = dict(request.query_params)
        try:
            query = await run_in_threadpool(
                save_filter, ctx_of(request).engine, clerk, texts(form).get("name", ""), params
            )
        except (InvalidInput, Conflict) as exc:
            return await show(request, filter_error=exc.message, status_code=exc.status_code)
        target = (
            f"/console/worklist?{query}&done=filter_saved"
            if query
            else ("/console/worklist?done=filter_saved")
        )
        return RedirectResponse(target, status_code=303)

    @router.post("/console/worklist/filters/{filter_id}/delete")
    async def drop_filter(request: Request, filter_id: str) -> Response:
        clerk = await require_clerk(request)
        await checked_form(request, request.state.portal_session)
        await run_in_threadpool(delete_filter, ctx_of(request).engine, clerk, filter_id)
        return RedirectResponse("/console/worklist", status_code=303)

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
