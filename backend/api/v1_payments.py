"""Payment provider webhooks: no bearer token, the body's signature is the authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from backend.api.deps import ContextDep
from backend.errors import InvalidInput
from backend.payments.service import confirm_return
from backend.payments.webhooks import MAX_BODY, handle_webhook

router = APIRouter(prefix="/api/v1/payments", tags=["payments"])


class WebhookAck(BaseModel):
    event: str
    result: str


@router.post(
    "/webhooks/{provider}",
    response_model=WebhookAck,
    responses={
        400: {"description": "Signature wrong or too old: nothing was changed"},
        404: {"description": "Unknown provider"},
        413: {"description": "Body over KNOPFDRUCK_BODY_LIMIT_WEBHOOK_BYTES (64 KiB)"},
    },
)
async def webhook(
    ctx: ContextDep,
    request: Request,
    provider: Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,31}$")],
) -> WebhookAck:
    """Verified, deduplicated by event id, applied once; a replay is answered 'duplicate'."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise InvalidInput("Die Benachrichtigung ist zu groß. (Webhook body too large.)")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidInput("Die Benachrichtigung ist zu groß. (Webhook body too large.)")
    result = await run_in_threadpool(handle_webhook, ctx, provider, dict(request.headers), body)
    return WebhookAck(event=result.event_id, result=result.result)


@router.get(
    "/return/{payment_id}",
    response_class=RedirectResponse,
    status_code=303,
    responses={404: {"description": "Unknown payment"}},
)
async def payment_return(
    ctx: ContextDep, payment_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
) -> RedirectResponse:
    """Where a payment platform without webhooks (XBezahldienste) sends the citizen back: the
    state is asked from the platform, never taken from the return, then the case is shown."""
    case_id = await run_in_threadpool(confirm_return, ctx, payment_id)
    return RedirectResponse(f"{ctx.settings.base_url}/cases/{case_id}", status_code=303)
