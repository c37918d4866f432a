"""QA sampling: the overturn rate per service with its alert, and the latest findings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.console import qa
from backend.department.access import department_services
from backend.department.identity import Permission
from frontend.console import labels
from frontend.console.common import render, require_clerk
from frontend.web import ctx_of


def build() -> APIRouter:
    router = APIRouter()

    @router.get("/console/qa")
    async def qa_page(request: Request) -> Response:
        clerk = await require_clerk(request)
        clerk.require(Permission.VIEW)
        ctx = ctx_of(request)

        def load() -> dict[str, Any]:
            services = department_services(ctx, clerk.department)
            with Session(ctx.engine) as session:
                return {
                    "total": qa.qa_overturn_rate(session, clerk.department),
                    "per_service": [
                        (s, qa.qa_overturn_rate(session, clerk.department, s.id)) for s in services
                    ],
                    "findings": qa.recent_findings(session, clerk.department),
                }

        data = await run_in_threadpool(load)
        return render(
            request,
            "console/qa.html",
            {
                **data,
                "service_titles": {
                    s.id: s.title for s in department_services(ctx, clerk.department)
                },
                "threshold": qa.QA_ALERT_THRESHOLD,
                "minimum": qa.QA_MIN_REVIEWED,
                "labels": labels,
            },
        )

    return router
