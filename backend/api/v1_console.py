"""Console JSON API (/api/v1/console): the department's worklist, case files and actions.

Thin: each route calls one service function of backend/console. A clerk token is required
(claims ``department`` and ``roles``); another department's case is 404, as if it did not
exist. Every action needs a reason and is recorded in the case log with the clerk as actor.
"""

from __future__ import annotations

from datetime import date, datetime
from importlib import import_module
from importlib.util import find_spec
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from backend.api.console_deps import ClerkDep
from backend.api.deps import ContextDep
from backend.api.v1_case_actions import NON_BLANK
from backend.console import decisions, qa, reread, values, work
from backend.console.casefile import case_document, case_file
from backend.console.casefile_rows import CaseFile
from backend.console.withdrawal import WithdrawalTerms
from backend.console.worklist import WorklistFilter, target_state, worklist, worklist_csv
from backend.department import automation
from backend.department.access import department_services
from backend.department.identity import Permission
from backend.department.reasons import MAX_REASON

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
    "v1_console_eakte",
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
    target_on: date | None = Field(
        description="The service's target day for the decision (target_days after submission, "
        "moved on by pauses); none once decided"
    )
    target_state: Literal["late", "paused", "running", ""] = Field(
        description="late: the target day has passed; paused: waiting for the citizen's "
        "answer; running; empty once decided"
    )


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
    withdrawal: Literal["ruecknahme", "widerruf"] | None = Field(
        None,
        description="Taking a favourable decision back: Rücknahme (§ 48 VwVfG) or Widerruf "
        "(§ 49 VwVfG); required then, except for a certificate that is no administrative act",
    )
    hearing_dispensable: str | None = Field(
        None,
        max_length=MAX_REASON,
        description="Why the hearing may be dispensed with (§ 28 Abs. 2 VwVfG); without it the "
        "first call sends the hearing letter and the withdrawal waits for its period",
    )

    def terms(self) -> WithdrawalTerms:
        return WithdrawalTerms(self.withdrawal, self.hearing_dispensable)


class QuestionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: Reason


class RerunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


FieldPath = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="A field id of the service")
]


class ConfirmValueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    evidence: Literal["register_record", "id_document", "other_document"] = Field(
        description="What the clerk saw: the register record, an ID document, another document"
    )
    note: str | None = Field(None, max_length=MAX_REASON, description="Required for other")


class CorrectValueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(max_length=2000, description="The corrected value, as the form takes it")
    reason: Reason


class RereadOut(BaseModel):
    asked: list[str] = Field(description="Fields whose register value was asked for again")
    adopted: list[str] = Field(description="Fields the register delivered now")


class ObjectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["remedy", "forward"] = Field(
        description="remedy (Abhilfe, § 72 VwGO) or forward (§ 73 VwGO)"
    )
    outcome: str | None = None
    reason: Reason
    withdrawal: Literal["ruecknahme", "widerruf"] | None = None
    hearing_dispensable: str | None = Field(None, max_length=MAX_REASON)

    def terms(self) -> WithdrawalTerms:
        return WithdrawalTerms(self.withdrawal, self.hearing_dispensable)


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
    hearing_until: date | None = Field(
        None, description="The citizen is heard until then before the withdrawal (§ 28 VwVfG)"
    )


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
    definition = next(d for d in ctx.department_services(clerk.department) if d.id == service)
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
    (deadline — the default, late cases first — oldest, newest, waiting, service, status,
    due), page."""
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
                target_on=i.clock.due_on,
                target_state=target_state(i.clock),
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
    result = decisions.decide_case(ctx, clerk, case_id, body.outcome, body.reason, body.terms())
    return ActionOut(
        status=result.status, pending_id=result.pending_id, hearing_until=result.hearing_until
    )


@router.post("/cases/{case_id}/question", response_model=ActionOut, responses=ERRORS)
def ask(ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, body: QuestionBody) -> ActionOut:
    return ActionOut(status=work.ask_citizen(ctx, clerk, case_id, body.question))


@router.post("/cases/{case_id}/rerun", response_model=ActionOut, responses=ERRORS)
async def rerun(ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, body: RerunBody) -> ActionOut:
    """Re-read what the register did not deliver, then let the machine decide again."""
    result = await reread.rerun_with_reread(ctx, clerk, case_id, body.reason)
    return ActionOut(status=result.status)


@router.post(
    "/cases/{case_id}/values/{field_id}/confirm", response_model=ActionOut, responses=ERRORS
)
def confirm_value(
    ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, field_id: FieldPath, body: ConfirmValueBody
) -> ActionOut:
    """Stand behind a typed value on named evidence; the decision is then a person's."""
    status = values.confirm_value(ctx, clerk, case_id, field_id, body.evidence, body.note)
    return ActionOut(status=status)


@router.post(
    "/cases/{case_id}/values/{field_id}/correct", response_model=ActionOut, responses=ERRORS
)
def correct_value(
    ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, field_id: FieldPath, body: CorrectValueBody
) -> ActionOut:
    """Correct one value with a reason; the machine's proposal is worked out again."""
    status = values.correct_value(ctx, clerk, case_id, field_id, body.value, body.reason)
    return ActionOut(status=status)


@router.post("/cases/{case_id}/reread", response_model=RereadOut, responses=ERRORS)
async def reread_register(
    ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, body: RerunBody
) -> RereadOut:
    """Ask the register again for the values the citizen typed; the file shows its answer."""
    result = await reread.reread_register(ctx, clerk, case_id, body.reason)
    return RereadOut(asked=result.asked, adopted=result.adopted)


@router.post("/cases/{case_id}/objection", response_model=ActionOut, responses=ERRORS)
def objection(ctx: ContextDep, clerk: ClerkDep, case_id: IdPath, body: ObjectionBody) -> ActionOut:
    result = decisions.decide_objection(
        ctx, clerk, case_id, body.action, body.reason, body.outcome, body.terms()
    )
    return ActionOut(
        status=result.status, pending_id=result.pending_id, hearing_until=result.hearing_until
    )


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
