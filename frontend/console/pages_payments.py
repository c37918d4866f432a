"""Transfers from the bank statement that did not pay a fee by themselves (camt.053 import,
backend/payments/camt.py): the department sees them and settles them by hand."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.department.identity import Permission
from backend.payments.camt import Discrepancy, department_discrepancies
from frontend.console import labels
from frontend.console.common import render, require_clerk
from frontend.web import ctx_of


def build() -> APIRouter:
    router = APIRouter()

    @router.get("/console/payments")
    async def page(request: Request) -> Response:
        clerk = await require_clerk(request)
        clerk.require(Permission.VIEW)
        ctx = ctx_of(request)

        # Those who may assign others' work lead the department: they also see what no case claims.
        unclaimed = clerk.can(Permission.ASSIGN_OTHERS)

        def load() -> list[Discrepancy]:
            with Session(ctx.engine) as session:
                return department_discrepancies(session, clerk.department, unclaimed=unclaimed)

        rows = await run_in_threadpool(load)
        return render(
            request,
            "console/payments.html",
            {"rows": rows, "labels": labels, "unclaimed": unclaimed},
        )

    return router
