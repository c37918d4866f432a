"""JSON API for what a citizen does with a submitted case: review, objection, withdrawal,
answer, and the fee to pay. Thin: every route calls one service function."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from backend.api.deps import CitizenDep, ContextDep
from backend.cases import queries, review
from backend.cases.queries import citizen_payment
from backend.columns import aware
from backend.console.followup import INTERNAL_EVENTS
from backend.errors import NotFound
from backend.records.models import CaseEvent

router = APIRouter(prefix="/api/v1/cases", tags=["case actions"])

IdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Random id (32 hex digits)")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    404: {"description": "Not found (or not yours)"},
    409: {"description": "Not possible in the case's current state; the message says why"},
    422: {"description": "Invalid input, with field-level details"},
}


# What review._statement accepts after str.strip(): at least one character Python does not
# count as whitespace. Written with \u escapes, which Python, Rust (pydantic) and ECMA regexes
# all read alike, so the OpenAPI schema promises exactly what the service takes.
NON_BLANK = (
    r"[^\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680"
    r"\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


class Statement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    statement: str | None = Field(None, max_length=review.MAX_STATEMENT)


class ObjectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    statement: str = Field(
        max_length=review.MAX_STATEMENT, pattern=NON_BLANK, description="Why you object"
    )


class WithdrawBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=review.MAX_STATEMENT)


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(max_length=review.MAX_STATEMENT, pattern=NON_BLANK)


class TaskOut(BaseModel):
    id: str
    kind: str
    status: str
    created_at: str
    due_on: date | None


class ActionOut(BaseModel):
    status: str
    task: TaskOut | None
    created: bool


class RemedyOut(BaseModel):
    """The remedy the service's regime gives against the decision (backend/domain/remedy.py)."""

    kind: str = Field(description="widerspruch, einspruch, klage or none")
    legal_basis: str
    in_portal: bool = Field(description="Whether POST /objection takes it (never for a Klage)")
    lodge_with: str | None = Field(description="Authority or court it is lodged with")
    text: dict[str, list[str]] = Field(description="The Rechtsbehelfsbelehrung, de and en")


class ActionsOut(BaseModel):
    status: str
    can_withdraw: bool
    can_request_review: bool
    can_object: bool
    can_answer_question: bool
    objection_deadline: date | None
    tasks: list[TaskOut]
    remedy: RemedyOut | None = None


class PaymentItemOut(BaseModel):
    id: str
    label: dict[str, str]
    amount: str
    legal_reference: str


class PaymentOut(BaseModel):
    status: str
    amount: str
    currency: str
    items: list[PaymentItemOut]
    pay_url: str | None
    kassenzeichen: str | None = None
    """The cash office's reference: the Verwendungszweck of a bank transfer."""
    due_at: datetime
    reminded_at: datetime | None
    paid_at: datetime | None


class TimelineEntry(BaseModel):
    at: datetime
    type: str
    actor: str


CREATED_OR_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    201: {"description": "A new task was opened", "model": ActionOut},
}
"""200 when the same request was already made (idempotent), 201 when it opened a task."""


def _action(result: review.ActionResult, response: Response) -> ActionOut:
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    task = TaskOut(**result.task.__dict__) if result.task else None
    return ActionOut(status=result.status, task=task, created=result.created)


@router.get("/{case_id}/actions", response_model=ActionsOut, responses=ERRORS)
def actions(ctx: ContextDep, citizen: CitizenDep, case_id: IdPath) -> ActionsOut:
    """Which one-click actions are open now, and until when an objection is possible."""
    found = review.case_actions(ctx, citizen, case_id)
    return ActionsOut(
        status=found.status,
        can_withdraw=found.options.withdraw,
        can_request_review=found.options.request_review,
        can_object=found.options.object,
        can_answer_question=found.options.answer_question,
        objection_deadline=found.options.objection_deadline,
        tasks=[TaskOut(**t.__dict__) for t in found.tasks],
        remedy=(
            RemedyOut(
                kind=found.remedy.kind,
                legal_basis=found.remedy.legal_basis,
                in_portal=found.remedy.in_portal,
                lodge_with=found.remedy.lodge_with.name if found.remedy.lodge_with else None,
                text={"de": list(found.remedy.text_de), "en": list(found.remedy.text_en)},
            )
            if found.remedy
            else None
        ),
    )


@router.post("/{case_id}/review", response_model=ActionOut, responses=CREATED_OR_ERRORS)
def request_review(
    ctx: ContextDep, citizen: CitizenDep, case_id: IdPath, body: Statement, response: Response
) -> ActionOut:
    """Ask for a person to review an automated decision (GDPR Art. 22(3))."""
    return _action(review.request_review(ctx, citizen, case_id, body.statement), response)


@router.post("/{case_id}/objection", response_model=ActionOut, responses=CREATED_OR_ERRORS)
def lodge_objection(
    ctx: ContextDep,
    citizen: CitizenDep,
    case_id: IdPath,
    body: ObjectionBody,
    response: Response,
) -> ActionOut:
    """Lodge a Widerspruch against the notice, within one month of its announcement."""
    return _action(review.lodge_objection(ctx, citizen, case_id, body.statement), response)


@router.post("/{case_id}/withdraw", response_model=ActionOut, responses=ERRORS)
def withdraw(
    ctx: ContextDep, citizen: CitizenDep, case_id: IdPath, body: WithdrawBody
) -> ActionOut:
    """Take the application back before it is decided (an open fee payment is cancelled)."""
    case = review.withdraw(ctx, citizen, case_id, body.reason)
    return ActionOut(status=case.status, task=None, created=False)


@router.post("/{case_id}/answer", response_model=ActionOut, responses=CREATED_OR_ERRORS)
def answer(
    ctx: ContextDep, citizen: CitizenDep, case_id: IdPath, body: AnswerBody, response: Response
) -> ActionOut:
    """Answer the department's question; the case goes back to the clerk."""
    return _action(review.answer_question(ctx, citizen, case_id, body.answer), response)


@router.get("/{case_id}/payment", response_model=PaymentOut, responses=ERRORS)
def payment(ctx: ContextDep, citizen: CitizenDep, case_id: IdPath) -> PaymentOut:
    """The fee of the case and where to pay it (the provider's hosted page)."""
    with Session(ctx.engine) as session:
        found = citizen_payment(session, citizen, case_id)
    if found is None:
        raise NotFound("Für diesen Vorgang ist keine Gebühr zu zahlen. (No fee for this case.)")
    return PaymentOut(
        status=found.status,
        amount=found.amount,
        currency=found.currency,
        items=[PaymentItemOut(**item) for item in found.items],
        pay_url=found.pay_url if found.status == "open" else None,
        kassenzeichen=found.kassenzeichen,
        due_at=aware(found.due_at),
        reminded_at=aware(found.reminded_at) if found.reminded_at else None,
        paid_at=aware(found.paid_at) if found.paid_at else None,
    )


@router.get("/{case_id}/timeline", response_model=list[TimelineEntry], responses=ERRORS)
def timeline(ctx: ContextDep, citizen: CitizenDep, case_id: IdPath) -> list[TimelineEntry]:
    """The case log as the citizen may see it: what happened when, and by whom (no clerk ids)."""
    with Session(ctx.engine) as session:
        case = queries.get_case(session, citizen, case_id)
        events = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.seq))
        ).all()
    # Internal notes and follow-ups are the department's working papers, not the citizen's.
    return [
        TimelineEntry(at=aware(e.at), type=e.type, actor=e.actor.partition(":")[0])
        for e in events
        if e.type not in INTERNAL_EVENTS
    ]
