"""Where Fachverfahren report on submissions: signed, fresh, and applied once per event."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from backend.api.deps import ContextDep
from backend.cases.handover_callbacks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    StatusCallback,
    callback_secret,
    record_callback,
    verify_signature,
)
from backend.cases.handover_log import NEW_EVENTS, NewEventsCallback, reconcile_submissions
from backend.errors import InvalidInput

router = APIRouter(prefix="/api/handover", tags=["handover"])
CALLBACK_PATH = "/api/handover/callbacks"


class CallbackReceipt(BaseModel):
    """recorded: applied; duplicate: this event id was seen before; ignored: logged, not applied."""

    status: Literal["recorded", "duplicate", "ignored"]
    reason: str | None = None
    """Why an ignored callback changed nothing: out_of_order, already_final, not_allowed, or
    no_new_answer (a new-events callback whose logs held no answer for a waiting handover)."""
    handover_status: str | None = None
    """The handover's status that made an ignored callback change nothing."""


def _malformed(exc: ValidationError) -> InvalidInput:
    """A 422 naming the fields, never their values."""
    return InvalidInput(
        "Die Rückmeldung ist ungültig. (Malformed callback.)",
        details=[
            {"field": ".".join(map(str, e["loc"])) or "body", "message": e["msg"]}
            for e in exc.errors(include_url=False)
        ],
    )


@router.post(
    "/callbacks",
    response_model=CallbackReceipt,
    response_model_exclude_none=True,
    responses={
        200: {
            "description": "Received. A callback the handover's state does not allow (a "
            "rejection after the acceptance, an event older than the one applied) is logged "
            "and answered with status 'ignored' and its reason, not with an error, so the "
            "sender does not retry it."
        },
        401: {"description": "Signature missing, invalid, or older than five minutes"},
        404: {"description": "Unknown submission"},
        409: {"description": "Other callbacks of the submission kept racing; send it again"},
        422: {"description": "Malformed callback"},
    },
)
async def status_callback(
    request: Request,
    ctx: ContextDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
) -> CallbackReceipt:
    """A Zustelldienst's news or a Fachverfahren's answer; verified before it is even parsed."""
    body = await request.body()
    verify_signature(callback_secret(ctx.settings), signature, timestamp, body)
    if NEW_EVENTS.encode() in body:
        # The Submission API's own callback: read the named cases' signed logs now.
        try:
            news = NewEventsCallback.model_validate_json(body)
        except ValidationError as exc:
            raise _malformed(exc) from None
        if not news.named():
            raise InvalidInput("Die Rückmeldung nennt keine Einreichung. (No submission named.)")
        done = await run_in_threadpool(reconcile_submissions, ctx, news.named())
        if done.applied:
            return CallbackReceipt(status="recorded")
        return CallbackReceipt(status="ignored", reason="no_new_answer")
    try:
        callback = StatusCallback.model_validate_json(body)
    except ValidationError as exc:
        raise _malformed(exc) from None
    assert timestamp is not None  # verify_signature refused a callback without one
    outcome = await run_in_threadpool(record_callback, ctx, callback, int(timestamp))
    return CallbackReceipt(
        status=outcome.status, reason=outcome.reason, handover_status=outcome.handover_status
    )
