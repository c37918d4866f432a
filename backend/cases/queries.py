"""Read side for citizens: their cases and documents, never anyone else's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from backend.auth.tokens import Identity
from backend.cases.subjects import subject_subs
from backend.cases.uploads import StoredFile, application_uploads
from backend.cases.views import (
    CaseView,
    Text,
    TimelineEntry,
    UploadView,
    case_view,
    timeline_view,
)
from backend.columns import aware
from backend.context import AppContext
from backend.db import unit_of_work
from backend.errors import NotFound
from backend.notifications import service as mailbox
from backend.notifications.models import MailboxMessage
from backend.payments.models import Payment
from backend.payments.service import payment_of
from backend.records.models import Case, CaseEvent, Document, RegistryAccess


def get_case(session: Session, identity: Identity, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None or case.citizen_sub != identity.sub:
        raise NotFound("Diesen Vorgang gibt es nicht. (Case not found.)")
    return case


def list_cases(session: Session, identity: Identity) -> list[Case]:
    return list(
        session.exec(
            select(Case)
            .where(Case.citizen_sub == identity.sub)
            .order_by(col(Case.submitted_at).desc())
        ).all()
    )


def case_documents(session: Session, case_id: str) -> list[Document]:
    """The case's documents without their content: lists show titles and sizes, and a PDF is
    read only when it is downloaded (get_document)."""
    return list(
        session.exec(
            select(Document)
            .where(Document.case_id == case_id)
            .options(defer(Document.content))  # type: ignore[arg-type]
            .order_by(col(Document.created_at))
        ).all()
    )


def get_document(session: Session, identity: Identity, case_id: str, document_id: str) -> Document:
    case = get_case(session, identity, case_id)
    document = session.get(Document, document_id)
    if document is None or document.case_id != case.id:
        raise NotFound("Dieses Dokument gibt es nicht. (Document not found.)")
    return document


def my_data_accesses(
    session: Session, identity: Identity, limit: int = 200
) -> list[RegistryAccess]:
    return list(
        session.exec(
            select(RegistryAccess)
            .where(col(RegistryAccess.subject_sub).in_(subject_subs(identity)))
            .order_by(col(RegistryAccess.at).desc())
            .limit(limit)
        ).all()
    )


def cases_of_applications(
    session: Session, identity: Identity, application_ids: set[str]
) -> dict[str, str]:
    """Application id → case id for the citizen's submitted applications.

    The access log row is written when the registry is read, before a case exists; it stays
    append-only, and the case it led to is found through the application instead.
    """
    if not application_ids:
        return {}
    rows = session.exec(
        select(Case.application_id, Case.id).where(
            Case.citizen_sub == identity.sub, col(Case.application_id).in_(application_ids)
        )
    ).all()
    return dict(rows)


def case_events(session: Session, case_id: str) -> list[CaseEvent]:
    """The case log in order; callers check ownership first."""
    return list(
        session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
        ).all()
    )


def my_cases(ctx: AppContext, identity: Identity, url_prefix: str = "") -> list[CaseView]:
    """The citizen's cases, newest first, each with its documents."""
    with Session(ctx.engine) as session:
        return [
            case_view(c, case_documents(session, c.id), url_prefix=url_prefix)
            for c in list_cases(session, identity)
        ]


class FeeLine(BaseModel):
    label: Text
    amount: Decimal


class PaymentView(BaseModel):
    """The fee of a case as the citizen pays it: on the provider's page, then back here."""

    status: str
    """open · paid · expired · cancelled"""
    amount: Decimal
    items: list[FeeLine]
    pay_url: str | None
    """The provider's hosted payment page; None until the provider has opened the payment."""
    due_at: datetime
    paid_at: datetime | None


@dataclass(frozen=True)
class CaseDetail:
    """One case as its citizen sees it: status and decision, milestones, documents, own files,
    the fee to pay, and the department's open question."""

    case: CaseView
    timeline: list[TimelineEntry]
    uploads: list[UploadView]
    payment: PaymentView | None
    question: str | None


def my_case(ctx: AppContext, identity: Identity, case_id: str, url_prefix: str = "") -> CaseDetail:
    with Session(ctx.engine) as session:
        case = get_case(session, identity, case_id)
        events = case_events(session, case.id)
        payment = payment_of(session, case.id)
        asked = [e for e in events if e.type == "question_asked"]
        return CaseDetail(
            case=case_view(case, case_documents(session, case.id), url_prefix=url_prefix),
            timeline=timeline_view(events),
            uploads=application_uploads(session, case.application_id),
            payment=PaymentView(
                status=payment.status,
                amount=Decimal(payment.amount),
                items=[
                    FeeLine(
                        label=Text(
                            de=str(item.get("label", {}).get("de", "")),
                            en=str(item.get("label", {}).get("en", "")),
                        ),
                        amount=Decimal(str(item.get("amount", "0"))),
                    )
                    for item in payment.items
                ],
                pay_url=payment.pay_url,
                due_at=aware(payment.due_at),
                paid_at=aware(payment.paid_at) if payment.paid_at else None,
            )
            if payment is not None
            else None,
            question=str(asked[-1].payload.get("question") or "")
            if asked and case.status == "awaiting_citizen"
            else None,
        )


def my_document(ctx: AppContext, identity: Identity, case_id: str, document_id: str) -> StoredFile:
    """A notice, certificate or receipt of the citizen's own case."""
    with Session(ctx.engine) as session:
        document = get_document(session, identity, case_id, document_id)
        return StoredFile(
            filename=document.filename, media_type=document.media_type, content=document.content
        )


class MessageView(BaseModel):
    """A message from a department in the citizen's mailbox, linked to its case."""

    id: str
    case_id: str
    case_reference: str
    kind: str
    subject: Text
    body: Text
    created_at: datetime
    read_at: datetime | None


def _message_view(message: MailboxMessage, references: dict[str, str]) -> MessageView:
    return MessageView(
        id=message.id,
        case_id=message.case_id,
        case_reference=references.get(message.case_id, ""),
        kind=message.kind,
        subject=Text(de=message.subject_de, en=message.subject_en),
        body=Text(de=message.body_de, en=message.body_en),
        created_at=aware(message.created_at),
        read_at=aware(message.read_at) if message.read_at else None,
    )


def my_mailbox(ctx: AppContext, identity: Identity) -> tuple[int, list[MessageView]]:
    """The unread count and the messages, newest first."""
    with Session(ctx.engine) as session:
        references = {c.id: c.reference for c in list_cases(session, identity)}
        return mailbox.unread_count(session, identity), [
            _message_view(m, references) for m in mailbox.list_messages(session, identity)
        ]


def my_notification_email(ctx: AppContext, identity: Identity) -> str | None:
    """The address 'you have a new message' mails go to, if the citizen gave one."""
    with Session(ctx.engine) as session:
        address = mailbox.get_address(session, identity)
        return address.email if address else None


def change_notification_email(ctx: AppContext, identity: Identity, email: str | None) -> None:
    """Set (or with None remove) the notification address; InvalidInput names a bad one."""
    with unit_of_work(ctx.engine) as session:
        if email is None:
            mailbox.remove_address(session, identity)
        else:
            mailbox.set_address(session, identity, email)


def my_unread_count(ctx: AppContext, identity: Identity) -> int:
    """For the header of every page: how many messages wait to be read."""
    with Session(ctx.engine) as session:
        return mailbox.unread_count(session, identity)


def open_message(ctx: AppContext, identity: Identity, message_id: str) -> MessageView:
    """Show a message and mark it read (the first reading time stays)."""
    with unit_of_work(ctx.engine) as session:
        message = mailbox.mark_read(session, identity, message_id)
        case = session.get(Case, message.case_id)
        return _message_view(message, {case.id: case.reference} if case else {})


def citizen_payment(session: Session, identity: Identity, case_id: str) -> Payment | None:
    """The fee of the citizen's own case (NotFound for anyone else's case)."""
    case = get_case(session, identity, case_id)
    return payment_of(session, case.id)
