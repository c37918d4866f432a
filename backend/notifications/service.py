"""The citizen's mailbox and notification mails, posted in the transaction that changes the case."""

from __future__ import annotations

import re

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from backend.auth.tokens import Identity
from backend.columns import utcnow
from backend.context import AppContext
from backend.errors import InvalidInput, NotFound
from backend.notifications.delivery import enqueue_delivery
from backend.notifications.email import mail_enabled
from backend.notifications.messages import MessageText, notification_mail
from backend.notifications.models import EmailOutbox, MailboxMessage, NotificationAddress
from backend.records.models import Case

# Deliberately simple: one @, no spaces, a dot in the domain. The mailbox is the binding
# channel; a mistyped address only loses a nudge.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 254


def post_message(ctx: AppContext, session: Session, case: Case, key: str, text: MessageText) -> str:
    """Put a message in the case's mailbox (once per key) and queue the notification mail."""
    existing = session.exec(
        select(MailboxMessage).where(MailboxMessage.case_id == case.id, MailboxMessage.key == key)
    ).first()
    if existing is not None:
        return existing.id
    # Signed by the authority that writes: the case's tenant's office (issue 13, item 5).
    try:
        sender = ctx.case_definition(case).authority or ctx.settings.authority_name
    except NotFound:
        sender = ctx.settings.authority_name
    message = MailboxMessage(
        citizen_sub=case.citizen_sub,
        case_id=case.id,
        key=key,
        kind=text.kind,
        subject_de=text.subject.de[:200],
        subject_en=text.subject.en[:200],
        body_de=f"{text.body.de}\n\n{sender}",
        body_en=f"{text.body.en}\n\n{sender}",
    )
    session.add(message)
    session.flush()
    if mail_enabled(ctx.settings):
        address = session.get(NotificationAddress, case.citizen_sub)
        if address is not None:
            name = str((case.data.get("addressee") or {}).get("name") or "")
            mail = notification_mail(name, f"{ctx.settings.base_url}/mailbox")
            outbox = EmailOutbox(
                message_id=message.id,
                to_address=address.email,
                subject=mail.subject,
                body=mail.body,
            )
            session.add(outbox)
            session.flush()
            enqueue_delivery(ctx.dbos_client, session, outbox.id)
    return message.id


def list_messages(
    session: Session, identity: Identity, *, limit: int = 100
) -> list[MailboxMessage]:
    return list(
        session.exec(
            select(MailboxMessage)
            .where(MailboxMessage.citizen_sub == identity.sub)
            .order_by(col(MailboxMessage.created_at).desc(), col(MailboxMessage.id))
            .limit(limit)
        ).all()
    )


def unread_count(session: Session, identity: Identity) -> int:
    return int(
        session.exec(
            select(func.count()).where(
                MailboxMessage.citizen_sub == identity.sub,
                col(MailboxMessage.read_at).is_(None),
            )
        ).one()
    )


def get_message(session: Session, identity: Identity, message_id: str) -> MailboxMessage:
    message = session.get(MailboxMessage, message_id)
    if message is None or message.citizen_sub != identity.sub:
        raise NotFound("Diese Nachricht gibt es nicht. (Message not found.)")
    return message


def mark_read(session: Session, identity: Identity, message_id: str) -> MailboxMessage:
    """Idempotent: the first reading time stays."""
    message = get_message(session, identity, message_id)
    session.execute(
        update(MailboxMessage)
        .where(col(MailboxMessage.id) == message.id, col(MailboxMessage.read_at).is_(None))
        .values(read_at=utcnow())
    )
    session.refresh(message)
    return message


def get_address(session: Session, identity: Identity) -> NotificationAddress | None:
    return session.get(NotificationAddress, identity.sub)


def set_address(session: Session, identity: Identity, email: str) -> NotificationAddress:
    """Where to send 'you have a new message' mails; the mails never carry case content."""
    value = email.strip()
    if len(value) > MAX_EMAIL or not _EMAIL.match(value):
        raise InvalidInput(
            "Bitte geben Sie eine E-Mail-Adresse wie name@example.org an. "
            "(Enter an email address like name@example.org.)",
            details=[{"field": "email", "message": "invalid email address"}],
        )
    address = session.get(NotificationAddress, identity.sub)
    if address is None:
        address = NotificationAddress(citizen_sub=identity.sub, email=value)
    else:
        address.email = value
        address.updated_at = utcnow()
    session.add(address)
    session.flush()
    return address


def remove_address(session: Session, identity: Identity) -> None:
    address = session.get(NotificationAddress, identity.sub)
    if address is not None:
        session.delete(address)
