"""Services of the department and their automation switch (pause/resume with a reason)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.department import automation
from backend.department.access import department_services
from backend.department.identity import Permission
from backend.department.models import AutomationSwitch
from backend.errors import Conflict, Forbidden, InvalidInput
from frontend.console import labels
from frontend.console.common import clerk_form, render, require_clerk
from frontend.web import ctx_of


def build() -> APIRouter:
    router = APIRouter()

    async def show(
        request: Request,
        *,
        error: str | None = None,
        error_service: str | None = None,
        status_code: int = 200,
    ) -> Response:
        clerk = await require_clerk(request)
        clerk.require(Permission.VIEW)
        ctx = ctx_of(request)

        def load() -> tuple[list[automation.SwitchState], dict[str, list[AutomationSwitch]]]:
            with Session(ctx.engine) as session:
                services = department_services(ctx, clerk.department)
                states = automation.switch_states(session, services)
                history = {
                    s.id: list(automation.switch_history(session, s.id, s.department, 5))
                    for s in services
                }
                return states, history

        states, history = await run_in_threadpool(load)
        done = request.query_params.get("done")
        return render(
            request,
            "console/services.html",
            {
                "states": states,
                "history": history,
                "done": done if done in ("paused", "resumed") else None,
                "labels": labels,
                "error": error,
                "error_service": error_service,
            },
            status_code=status_code,
        )

    @router.get("/console/services")
    async def services_page(request: Request) -> Response:
        return await show(request)

    @router.post("/console/services/{service_id}/automation")
    async def switch(request: Request, service_id: str) -> Response:
        clerk, fields = await clerk_form(request)
        paused = fields.get("paused") == "1"
        try:
            await run_in_threadpool(
                automation.set_paused,
                ctx_of(request),
                clerk,
                service_id,
                paused=paused,
                reason=fields.get("reason"),
            )
        except (InvalidInput, Conflict, Forbidden) as exc:
            return await show(
                request, error=exc.message, error_service=service_id, status_code=exc.status_code
            )
        done = "paused" if paused else "resumed"
        return RedirectResponse(f"/console/services?done={done}", status_code=303)

    return router
