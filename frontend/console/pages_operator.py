"""The data centre's page: every tenant's health, queue and configuration, no personal data."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from backend.console import operator
from frontend.console.common import render, require_clerk
from frontend.web import ctx_of


def build() -> APIRouter:
    router = APIRouter()

    @router.get("/console/operator")
    async def operator_page(request: Request) -> Response:
        clerk = await require_clerk(request)
        overview = await run_in_threadpool(operator.operator_overview, ctx_of(request), clerk)
        return render(request, "console/operator.html", {"overview": overview})

    return router
