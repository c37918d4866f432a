"""JSON API of the citizen's mailbox and of the optional notification mail address."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from backend.api.deps import CitizenDep, ContextDep
from backend.columns import aware
from backend.db import unit_of_work
from backend.notifications import service
from backend.notifications.models import MailboxMessage

router = APIRouter(prefix="/api/v1", tags=["mailbox"])

IdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Random id (32 hex digits)")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    404: {"description": "Not found (or not yours)"},
    422: {"description": "Invalid input, with field-level details"},
}


class MessageOut(BaseModel):
    id: str
    case_id: str
    kind: str
    subject: dict[str, str]
    body: dict[str, str]
    created_at: datetime
    read_at: datetime | None


class MailboxOut(BaseModel):
    unread: int
    messages: list[MessageOut]


# Python's whitespace (what str.strip and \s remove in the service) spelled out: \s means
# different sets in Python, Rust (pydantic) and ECMA (JSON Schema) regular expressions.
_SPACE = r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The schema states what notifications.service.set_address accepts, so clients (and the
    # API fuzz test) learn the rule from /openapi.json instead of from a 422.
    email: str = Field(
        min_length=3,
        max_length=254,
        pattern=rf"^[^@{_SPACE}]{{1,64}}@[^@{_SPACE}]+\.[^@{_SPACE}]+$",
        examples=["name@example.org"],
    )


class AddressOut(BaseModel):
    email: str | None
    """Mails say only that there is news, with a link here; never what the news is."""


def _message(m: MailboxMessage) -> MessageOut:
    return MessageOut(
        id=m.id,
        case_id=m.case_id,
        kind=m.kind,
        subject={"de": m.subject_de, "en": m.subject_en},
        body={"de": m.body_de, "en": m.body_en},
        created_at=aware(m.created_at),
        read_at=aware(m.read_at) if m.read_at else None,
    )


@router.get("/mailbox", response_model=MailboxOut, responses=ERRORS)
def mailbox(ctx: ContextDep, citizen: CitizenDep) -> MailboxOut:
    """Messages about my cases, newest first, with the number not yet read."""
    with Session(ctx.engine) as session:
        return MailboxOut(
            unread=service.unread_count(session, citizen),
            messages=[_message(m) for m in service.list_messages(session, citizen)],
        )


@router.post("/mailbox/{message_id}/read", response_model=MessageOut, responses=ERRORS)
def mark_read(ctx: ContextDep, citizen: CitizenDep, message_id: IdPath) -> MessageOut:
    with unit_of_work(ctx.engine) as session:
        return _message(service.mark_read(session, citizen, message_id))


@router.get("/me/notification-email", response_model=AddressOut, responses=ERRORS)
def get_address(ctx: ContextDep, citizen: CitizenDep) -> AddressOut:
    with Session(ctx.engine) as session:
        address = service.get_address(session, citizen)
    return AddressOut(email=address.email if address else None)


@router.put("/me/notification-email", response_model=AddressOut, responses=ERRORS)
def set_address(ctx: ContextDep, citizen: CitizenDep, body: AddressIn) -> AddressOut:
    """Where to send 'you have a new message' mails (they carry no case content)."""
    with unit_of_work(ctx.engine) as session:
        return AddressOut(email=service.set_address(session, citizen, body.email).email)


@router.delete("/me/notification-email", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def remove_address(ctx: ContextDep, citizen: CitizenDep) -> Response:
    with unit_of_work(ctx.engine) as session:
        service.remove_address(session, citizen)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
