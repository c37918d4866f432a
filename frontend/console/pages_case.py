"""The case file page and the clerk's actions on it; every action is a CSRF-checked post
that needs a reason, and answers with a redirect back to the file (post/redirect/get)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.cases import eakte, incidents
from backend.cases.deadlines import clock_of
from backend.columns import utcnow
from backend.console import decisions, followup, reread, values, work
from backend.console.casefile import case_document, case_file
from backend.console.casefile_rows import CaseFile
from backend.console.clerks import colleagues
from backend.console.withdrawal import WithdrawalTerms
from backend.context import AppContext
from backend.definitions.constraints import local_day
from backend.department.access import PURPOSES
from backend.department.identity import ClerkIdentity
from backend.department.models import ConsoleClerk
from backend.errors import Conflict, Forbidden, InvalidInput
from backend.records.models import Case
from frontend.console import labels
from frontend.console.common import clerk_form, render, require_clerk
from frontend.web import ctx_of

ACTIONS = (
    "assign",
    "decide",
    "ask",
    "rerun",
    "reread",
    "confirm-value",
    "correct-value",
    "objection",
    "cancel",
    "pending",
    "incident-retry",
    "incident-takeover",
    "note",
    "follow-up",
    "eakte",
)


def _terms(f: dict[str, str]) -> WithdrawalTerms:
    """The withdrawal fields of the decision forms (empty unless an approval is taken back)."""
    return WithdrawalTerms(f.get("withdrawal") or None, f.get("hearing_dispensable") or None)


def _done(result: decisions.DecisionResult) -> str:
    if result.hearing_until is not None:
        return "hearing"
    return "proposed" if result.pending_id else "decided"


def _run(
    ctx: AppContext, clerk: ClerkIdentity, case_id: str, action: str, f: dict[str, str]
) -> str:
    """One action; returns the 'done' code the file page confirms."""
    if action == "assign":
        work.assign(ctx, clerk, case_id, f.get("assignee") or None, f.get("reason"))
        return "assigned"
    if action == "decide":
        result = decisions.decide_case(
            ctx, clerk, case_id, f.get("outcome"), f.get("reason"), _terms(f)
        )
        return _done(result)
    if action == "confirm-value":
        values.confirm_value(
            ctx, clerk, case_id, f.get("field"), f.get("evidence"), f.get("note") or None
        )
        return "value_confirmed"
    if action == "correct-value":
        values.correct_value(ctx, clerk, case_id, f.get("field"), f.get("value"), f.get("reason"))
        return "value_corrected"
    if action == "ask":
        work.ask_citizen(ctx, clerk, case_id, f.get("question"))
        return "asked"
    if action == "objection":
        if f.get("action") == "remedy" and not f.get("outcome"):
            # The form preselects nothing, so a remedy must name its new outcome explicitly.
            raise InvalidInput(
                "Bitte wählen Sie die neue Entscheidung. (Choose the new outcome.)",
                details=[{"field": "outcome", "message": "approved or rejected"}],
            )
        result = decisions.decide_objection(
            ctx,
            clerk,
            case_id,
            f.get("action"),
            f.get("reason"),
            f.get("outcome") or None,
            _terms(f),
        )
        if result.pending_id or result.hearing_until:
            return _done(result)
        return "forwarded" if f.get("action") == "forward" else "decided"
    if action == "incident-retry":
        incidents.retry_incident(ctx, clerk, f.get("incident") or "")
        return "incident_retried"
    if action == "incident-takeover":
        incidents.take_over(ctx, clerk, f.get("incident") or "", f.get("note"))
        return "incident_taken_over"
    if action == "eakte":
        handed = eakte.clerk_hand_over(ctx, clerk, case_id)
        if handed.status != eakte.ACKNOWLEDGED:
            raise Conflict(
                "Die E-Akte hat die Übernahme nicht bestätigt; den Grund zeigt die Seite "
                "E-Akte. (The E-Akte did not acknowledge the hand-over; see the E-Akte page.)"
            )
        return "eakte_filed"
    if action == "cancel":
        work.cancel(ctx, clerk, case_id, f.get("reason"))
        return "cancelled"
    if action == "note":
        followup.add_note(ctx, clerk, case_id, f.get("note"))
        return "noted"
    if action == "follow-up":
        if f.get("clear") == "1":
            followup.clear_follow_up(ctx, clerk, case_id)
            return "follow_up_cleared"
        followup.set_follow_up(ctx, clerk, case_id, f.get("due_on"), f.get("note"))
        return "follow_up_set"
    confirm = f.get("confirm") == "1"
    decisions.confirm_pending(ctx, clerk, case_id, confirm, f.get("reason"))
    return "confirmed" if confirm else "refused"


async def _read_again(
    ctx: AppContext, clerk: ClerkIdentity, case_id: str, action: str, f: dict[str, str]
) -> str:
    """Re-read the register (and, for a re-run, let the machine decide again)."""
    if action == "rerun":
        await reread.rerun_with_reread(ctx, clerk, case_id, f.get("reason"))
        return "rerun"
    await reread.reread_register(ctx, clerk, case_id, f.get("reason"))
    return "reread"


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

        def load() -> tuple[
            CaseFile, list[ConsoleClerk], list[incidents.IncidentView], dict[str, Any]
        ]:
            file = case_file(ctx, clerk, case_id, purpose)
            with Session(ctx.engine) as session:
                found = incidents.case_incidents(session, file.id)
                follow = followup.follow_up_of(session, file.id)
                extra: dict[str, Any] = {
                    "notes": followup.notes_of(session, file.id),
                    "follow_up": follow,
                    "follow_up_due": follow is not None and follow.due_on <= followup.today(),
                    "overdue": file.decided_at is None
                    and local_day(file.submitted_at)
                    <= followup.untaetigkeit_mark(followup.today()),
                }
                row = session.get(Case, file.id)
                extra["clock"] = clock_of(row, utcnow()) if row is not None else None
                return file, colleagues(session, clerk.department), found, extra

        file, staff, found, extra = await run_in_threadpool(load)
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
                **extra,
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
            if action in ("rerun", "reread"):
                # Both read the register over the app's HTTP client, on this event loop.
                done = await _read_again(ctx_of(request), clerk, case_id, action, fields)
            else:
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
