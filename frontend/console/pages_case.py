"""The case file page and the clerk's actions on it; every action is a CSRF-checked post
that needs a reason, and answers with a redirect back to the file (post/redirect/get)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.cases import incidents
from backend.console import decisions, work
from backend.console.access import PURPOSES
from backend.console.casefile import CaseFile, case_document, case_file
from backend.console.clerks import colleagues
from backend.console.identity import ClerkIdentity
from backend.context import AppContext
from backend.errors import Conflict, Forbidden, InvalidInput
from backend.models_console import ConsoleClerk
from frontend.console import labels
from frontend.console.common import clerk_form, render, require_clerk
from frontend.web import ctx_of

ACTIONS = (
    "assign",
    "decide",
    "ask",
    "rerun",
    "objection",
    "cancel",
    "pending",
    "incident-retry",
    "incident-takeover",
)


def _run(
    ctx: AppContext, clerk: ClerkIdentity, case_id: str, action: str, f: dict[str, str]
) -> str:
    """One action; returns the 'done' code the file page confirms."""
    if action == "assign":
        work.assign(ctx, clerk, case_id, f.get("assignee") or None, f.get("reason"))
        return "assigned"
    if action == "decide":
        result = decisions.decide_case(ctx, clerk, case_id, f.get("outcome"), f.get("reason"))
        return "proposed" if result.pending_id else "decided"
    if action == "ask":
        work.ask_citizen(ctx, clerk, case_id, f.get("question"))
        return "asked"
    if action == "rerun":
        work.rerun_automation(
            ctx, clerk, case_id, f.get("reason"), registry_checked=f.get("registry_checked") == "1"
        )
        return "rerun"
    if action == "objection":
        if f.get("action") == "remedy" and not f.get("outcome"):
            # The form preselects nothing, so a remedy must name its new outcome explicitly.
            raise InvalidInput(
                "Bitte wählen Sie die neue Entscheidung. (Choose the new outcome.)",
                details=[{"field": "outcome", "message": "approved or rejected"}],
            )
        result = decisions.decide_objection(
            ctx, clerk, case_id, f.get("action"), f.get("reason"), f.get("outcome") or None
        )
        if result.pending_id:
            return "proposed"
        return "forwarded" if f.get("action") == "forward" else "decided"
    if action == "incident-retry":
        incidents.retry_incident(ctx, clerk, f.get("incident") or "")
        return "incident_retried"
    if action == "incident-takeover":
        incidents.take_over(ctx, clerk, f.get("incident") or "", f.get("note"))
        return "incident_taken_over"
    if action == "cancel":
        work.cancel(ctx, clerk, case_id, f.get("reason"))
        return "cancelled"
    confirm = f.get("confirm") == "1"
    decisions.confirm_pending(ctx, clerk, case_id, confirm, f.get("reason"))
    return "confirmed" if confirm else "refused"


def build() -> APIRouter:
    router = APIRouter()

    async def show(
        request: Request,
        case_id: str,
        *,
        purpose: str,
        error: str | None = None,
        error_action: str | None = None,
        status_code: int = 200,
    ) -> Response:
        clerk = await require_clerk(request)
        ctx = ctx_of(request)

        def load() -> tuple[CaseFile, list[ConsoleClerk], list[incidents.IncidentView]]:
            file = case_file(ctx, clerk, case_id, purpose)
            with Session(ctx.engine) as session:
                found = incidents.case_incidents(session, file.id)
                return file, colleagues(session, clerk.department), found

        file, staff, found = await run_in_threadpool(load)
        done = request.query_params.get("done")
        return render(
            request,
            "console/case.html",
            {
                "file": file,
                "staff": staff,
                "incidents": found,
                "labels": labels,
                "purposes": PURPOSES,
                "purpose": purpose,
                "done": done if done in labels.DONE else None,
                "error": error,
                "error_action": error_action,
            },
            status_code=status_code,
        )

    @router.get("/console/cases/{case_id}")
    async def case_page(request: Request, case_id: str, purpose: str = "bearbeitung") -> Response:
        if purpose not in PURPOSES:
            purpose = "bearbeitung"
        return await show(request, case_id, purpose=purpose)

    @router.get("/console/cases/{case_id}/documents/{document_id}")
    async def document(request: Request, case_id: str, document_id: str) -> Response:
        clerk = await require_clerk(request)
        doc = await run_in_threadpool(case_document, ctx_of(request), clerk, case_id, document_id)
        return Response(
            doc.content,
            media_type=doc.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{doc.filename}"',
                "Cache-Control": "no-store",
            },
        )

    @router.post("/console/cases/{case_id}/{action}")
    async def act(request: Request, case_id: str, action: str) -> Response:
        clerk, fields = await clerk_form(request)
        if action not in ACTIONS:
            return await show(
                request,
                case_id,
                purpose="bearbeitung",
                error="Unbekannte Aktion. (Unknown action.)",
                status_code=404,
            )
        runner: Callable[[], str] = lambda: _run(ctx_of(request), clerk, case_id, action, fields)  # noqa: E731
        try:
            done = await run_in_threadpool(runner)
        except (InvalidInput, Conflict, Forbidden) as exc:
            return await show(
                request,
                case_id,
                purpose="bearbeitung",
                error=exc.message,
                error_action=action,
                status_code=exc.status_code,
            )
        if fields.get("back") == "worklist":
            return RedirectResponse("/console/worklist?assignee=me", status_code=303)
        return RedirectResponse(f"/console/cases/{case_id}?done={done}", status_code=303)

    return router
