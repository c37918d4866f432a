"""Find any case: the search box on every console page and its result list (issue 17, item 2)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from backend.console import search
from backend.db import unit_of_work
from backend.department.access import PURPOSES, department_services
from backend.department.identity import Permission
from backend.errors import InvalidInput
from frontend.console import labels
from frontend.console.common import render, require_clerk
from frontend.web import ctx_of


def build() -> APIRouter:
    router = APIRouter()

    @router.get("/console/search")
    async def search_page(request: Request) -> Response:
        clerk = await require_clerk(request)
        clerk.require(Permission.VIEW)
        ctx = ctx_of(request)
        params = request.query_params
        purpose = params.get("purpose") or "bearbeitung"
        error = None
        hits: list[search.Hit] = []
        try:
            query = search.Query.parse(params.get("q"), params.get("service"), params.get("status"))
            searched = bool(query.text or query.service or query.status)

            def run() -> list[search.Hit]:
                with unit_of_work(ctx.engine) as session:
                    return search.search(session, clerk, query, purpose)

            hits = await run_in_threadpool(run) if searched else []
        except InvalidInput as exc:
            query, searched, error = search.Query(""), False, exc.message
        services = department_services(ctx, clerk.department)
        return render(
            request,
            "console/search.html",
            {
                "query": query,
                "searched": searched,
                "hits": hits,
                "error": error,
                "purpose": purpose if purpose in PURPOSES else "bearbeitung",
                "services": services,
                "service_titles": {s.id: s.title for s in services},
                "labels": labels,
                "limit": search.MAX_RESULTS,
            },
            status_code=422 if error else 200,
        )

    return router
