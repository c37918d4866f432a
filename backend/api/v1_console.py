"""Console JSON API (/api/v1/console): the department's worklist, case files and actions.

Thin: each route calls one service function of backend/console. A clerk token is required
(claims ``department`` and ``roles``); another department's case is 404, as if it did not
exist. Every action needs a reason and is recorded in the case log with the clerk as actor.
"""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from importlib.util import find_spec
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from backend.api.console_deps import ClerkDep
from backend.api.deps import ContextDep
from backend.api.v1_case_actions import NON_BLANK
from backend.console import automation, decisions, qa, work
from backend.console.access import department_services
from backend.console.casefile import CaseFile, case_document, case_file
from backend.console.identity import Permission
from backend.console.reasons import MAX_REASON
from backend.console.worklist import WorklistFilter, worklist, worklist_csv

router = APIRouter(prefix="/api/v1/console", tags=["console"])

IdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Random id (32 hex digits)")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    403: {"description": "Not a clerk, or the role lacks the permission"},
    404: {"description": "Not found (or another department's)"},
    409: {"description": "Not possible in the case's current state; the message says why"},
    422: {"description": "Invalid input, with field-level details"},
}
# pattern: at least one non-whitespace character, as console.reasons.required_reason demands,
# so /openapi.json states the rule (tests/security/test_api_fuzz.py).
Reason = Annotated[
    str, Field(max_length=MAX_REASON, pattern=NON_BLANK, description="Why (required)")
]

OPTIONAL_API = (
    "v1_console_kpis",
    "v1_console_impact",
    "v1_console_assisted",
    "v1_console_incidents",
)
"""Console API modules other areas contribute; each exposes ``router``."""


class Me(BaseModel):
    sub: str
    name: str
    department: str
    roles: list[str]
    permissions: list[str]


class ServiceState(BaseModel):
    id: str
    title: dict[str, str]
    automated: bool
    paused: bool
    since: datetime | None
    reason: str | None
    by: str | None


class SwitchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paused: bool
    reason: Reason


class WorkItemOut(BaseModel):
    case_id: str
    reference: str
    service: str
    status: str
    reasons: list[str]
    referral_reasons: list[str]
    submitted_at: datetime
    waiting_since: datetime
    age_days: int
    assignee: str | None
    assignee_name: str | None


class WorklistOut(BaseModel):
    items: list[WorkItemOut]
    total: int
    page: int
    pages: int


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str | None = Field(None, max_length=128, description="Colleague's sub; none: me")
    reason: str | None = Field(None, max_length=MAX_REASON)


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["approved", "rejected"] = Field(description="approved or rejected")
    reason: Reason


class QuestionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: Reason


class RerunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason
    registry_checked: bool = False


class ObjectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["remedy", "forward"] = Field(
        description="remedy (Abhilfe, § 72 VwGO) or forward (§ 73 VwGO)"
    )
    outcome: str | None = None
    reason: Reason


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class PendingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: bool
    reason: Reason


class ActionOut(BaseModel):
    status: str
    pending_id: str | None = None


class QaOut(BaseModel):
    reviewed: int
    overturned: int
    rate: float | None
    alert: bool
    threshold: float


@router.get("/me", response_model=Me, responses=ERRORS)
def me(clerk: ClerkDep) -> Me:
    return Me(
        sub=clerk.sub,
        name=clerk.name,
        department=clerk.department,
        roles=list(clerk.roles),
        permissions=sorted(clerk.permissions),
    )


@router.get("/services", response_model=list[ServiceState], responses=ERRORS)
def services(ctx: ContextDep, clerk: ClerkDep) -> list[ServiceState]:
    """The department's services and whether their automation runs."""
    with Session(ctx.engine) as session:
        states = automation.switch_states(session, department_services(ctx, clerk.department))
    return [
        ServiceState(
            id=s.service.id,
            title={"de": s.service.title.de, "en": s.service.title.en},
            automated=s.automated,
            paused=s.paused,
            since=s.since,
            reason=s.reason,
            by=s.by,
        )
        for s in states
    ]


@router.post("/services/{service}/automation", response_model=ServiceState, responses=ERRORS)
def switch(
    ctx: ContextDep, clerk: ClerkDep, body: SwitchBody, service: Annotated[str, Path(max_length=64)]
) -> ServiceState:
    """Pause or resume automated decisions for a service (supervisors)."""
    row = automation.set_paused(ctx, clerk, service, paused=body.paused, reason=body.reason)
    definition = ctx.catalogue.get(service)
    return ServiceState(
        id=service,
        title={"de": definition.title.de, "en": definition.title.en},
        automated=bool(definition.automation.legal_basis),
        paused=row.paused,
        since=row.at,
        reason=row.reason,
        by=row.actor_name,
    )


def _filter(request: Request) -> WorklistFilter:
    return WorklistFilter.parse(dict(request.query_params))


@router.get("/worklist", response_model=WorklistOut, responses=ERRORS)
def get_worklist(
    ctx: ContextDep,
    clerk: ClerkDep,
    request: Request,
) -> WorklistOut:
    """Query: service, reason, age (days: 1, 3, 7, 30), assignee (me, none, a sub), sort
    (oldest, newest, waiting, service, status), page."""
    flt = _filter(request)
    with Session(ctx.engine) as session:
        page = worklist(session, clerk, flt)
    return WorklistOut(
        items=[
            WorkItemOut(
                case_id=i.case_id,
                reference=i.reference,
                service=i.service,
                status=i.status,
                reasons=i.reasons,
                referral_reasons=i.referral_reasons,
                submitted_at=i.submitted_at,
                waiting_since=i.waiting_since,
                age_days=i.age_days,
                assignee=i.assignee,
                assignee_name=i.assignee_name,
            )
            for i in page.items
        ],
        total=page.total,
        page=page.page,
        pages=page.pages,
    )


@router.get("/worklist.csv", responses=ERRORS, response_class=Response)
def get_worklist_csv(ctx: ContextDep, clerk: ClerkDep, request: Request) -> Response:
    flt = _filter(request)
    with Session(ctx.engine) as session:
        body = worklist_csv(session, clerk, flt)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="arbeitsliste.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/cases/{case_id}", response_model=CaseFile, responses=ERRORS)
def get_case(
    ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, purpose: str = "bearbeitung"
) -> CaseFile:
    """The case file; the read is logged with the clerk and the purpose."""
    return case_file(ctx, clerk, case_id, purpose)


@router.get("/cases/{case_id}/documents/{document_id}", responses=ERRORS)
def get_document(
    ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, document_id: IdPath
) -> Response:
    document = case_document(ctx, clerk, case_id, document_id)
    return Response(
        document.content,
        media_type=document.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/cases/{case_id}/assign", response_model=ActionOut, responses=ERRORS)
def assign(ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, body: AssignBody) -> ActionOut:
    row = work.assign(ctx, clerk, case_id, body.assignee, body.reason)
    return ActionOut(status=f"assigned:{row.assignee}")


@router.post("/cases/{case_id}/decision", response_model=ActionOut, responses=ERRORS)
def decide(ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, body: DecisionBody) -> ActionOut:
    """Approve or reject; with four-eyes the result may be a pending proposal."""
    result = decisions.decide_case(ctx, clerk, case_id, body.outcome, body.reason)
    return ActionOut(status=result.status, pending_id=result.pending_id)


@router.post("/cases/{case_id}/question", response_model=ActionOut, responses=ERRORS)
def ask(ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, body: QuestionBody) -> ActionOut:
    return ActionOut(status=work.ask_citizen(ctx, clerk, case_id, body.question))


@router.post("/cases/{case_id}/rerun", response_model=ActionOut, responses=ERRORS)
def rerun(ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, body: RerunBody) -> ActionOut:
    result = work.rerun_automation(
        ctx, clerk, case_id, body.reason, registry_checked=body.registry_checked
    )
    return ActionOut(status=result.status)


@router.post("/cases/{case_id}/objection", response_model=ActionOut, responses=ERRORS)
def objection(ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, body: ObjectionBody) -> ActionOut:
    result = decisions.decide_objection(ctx, clerk, case_id, body.action, body.reason, body.outcome)
    return ActionOut(status=result.status, pending_id=result.pending_id)


@router.post("/cases/{case_id}/cancel", response_model=ActionOut, responses=ERRORS)
def cancel(ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, body: CancelBody) -> ActionOut:
    return ActionOut(status=work.cancel(ctx, clerk, case_id, body.reason))


@router.post("/cases/{case_id}/pending", response_model=ActionOut, responses=ERRORS)
def second_person(
    ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, body: PendingBody
) -> ActionOut:
    """Four-eyes: a second person confirms or refuses a colleague's overturning decision."""
    result = decisions.confirm_pending(ctx, clerk, case_id, body.confirm, body.reason)
    return ActionOut(status=result.status, pending_id=result.pending_id)


@router.get("/qa", response_model=QaOut, responses=ERRORS)
def qa_rate(ctx: ContextDep, clerk: ClerkDep, service: str | None = None) -> QaOut:
    clerk.require(Permission.VIEW)
    with Session(ctx.engine) as session:
        rate = qa.qa_overturn_rate(session, clerk.department, service)
    return QaOut(
        reviewed=rate.reviewed,
        overturned=rate.overturned,
        rate=rate.rate,
        alert=rate.alert,
        threshold=qa.QA_ALERT_THRESHOLD,
    )


def build_console_api_router() -> APIRouter:
    """This area's routes plus the optional console API modules present in the tree."""
    combined = APIRouter()
    for name in OPTIONAL_API:
        if find_spec(f"backend.api.{name}") is not None:
            combined.include_router(import_module(f"backend.api.{name}").router)
    combined.include_router(router)
    return combined
