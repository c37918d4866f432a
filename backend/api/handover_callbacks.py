"""Where Fachverfahren report on submissions: signed, fresh, and applied once per event."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from backend.api.deps import ContextDep
from backend.errors import InvalidInput
from backend.handover.callbacks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    StatusCallback,
    callback_secret,
    record_callback,
    verify_signature,
)

router = APIRouter(prefix="/api/handover", tags=["handover"])
CALLBACK_PATH = "/api/handover/callbacks"


class CallbackReceipt(BaseModel):
    status: Literal["recorded", "duplicate"]


@router.post(
    "/callbacks",
    response_model=CallbackReceipt,
    responses={
        401: {"description": "Signature missing, invalid, or older than five minutes"},
        404: {"description": "Unknown submission"},
        422: {"description": "Malformed callback"},
    },
)
async def status_callback(
    request: Request,
    ctx: ContextDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
) -> CallbackReceipt:
    """A Fachverfahren accepted or rejected a submission; verified before it is even parsed."""
    body = await request.body()
    verify_signature(callback_secret(ctx.settings), signature, timestamp, body)
    try:
        callback = StatusCallback.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput(
            "Die Rückmeldung ist ungültig. (Malformed callback.)",
            details=[
                {"field": ".".join(map(str, e["loc"])) or "body", "message": e["msg"]}
                for e in exc.errors(include_url=False)
            ],
        ) from None
    assert timestamp is not None  # verify_signature refused a callback without one
    recorded = await run_in_threadpool(record_callback, ctx, callback, int(timestamp))
    return CallbackReceipt(status="recorded" if recorded else "duplicate")
