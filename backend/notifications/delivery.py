"""Sending a notification mail is a DBOS workflow step: enqueued with the message, sent once.

The outbox row is the source of truth. A step that starts sending first commits
``status=sending``; a retried step that finds that state does not send again. So a crash in
the middle of the SMTP conversation can lose a mail (the mailbox message is still there,
which is the binding channel) but can never send two.
"""

from __future__ import annotations

import logging

from dbos import DBOS, DBOSClient, EnqueueOptions
from sqlalchemy import update
from sqlmodel import Session, col

from backend.columns import utcnow
from backend.db import unit_of_work
from backend.engine import APP_VERSION, worker_context
from backend.notifications.email import (
    MailNotSent,
    MailOutcomeUnknown,
    build_message,
    mail_enabled,
    send_mail,
)
from backend.notifications.models import EmailOutbox

log = logging.getLogger("knopfdruck.notifications")

QUEUE = "notifications"
WORKFLOW = "knopfdruck.deliver_email"
MAX_ATTEMPTS = 6


def register_queue(client: DBOSClient) -> None:
    """Mail gets its own queue, so a slow SMTP server never holds up case processing."""
    client.register_queue(
        QUEUE, worker_concurrency=4, polling_interval_sec=0.5, on_conflict="always_update"
    )


def enqueue_delivery(client: DBOSClient, session: Session, outbox_id: str) -> None:
    """Add the send job inside the caller's transaction: message and job commit together."""
    options: EnqueueOptions = {
        "queue_name": QUEUE,
        "workflow_name": WORKFLOW,
        "workflow_id": f"email-{outbox_id}",
        "app_version": APP_VERSION,
    }
    client.enqueue_in_transaction(session, options, outbox_id)


class MailRetry(Exception):
    """The server did not take the mail this time; DBOS runs the step again after a pause."""


def _claim(engine_session: Session, outbox_id: str) -> EmailOutbox | None:
    """Move pending → sending in one statement; only the winner sends."""
    claimed = engine_session.execute(
        update(EmailOutbox)
        .where(col(EmailOutbox.id) == outbox_id, col(EmailOutbox.status) == "pending")
        .values(status="sending", attempts=EmailOutbox.attempts + 1)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return engine_session.get(EmailOutbox, outbox_id)


def _settle(outbox_id: str, status: str, error: str | None = None) -> None:
    with unit_of_work(worker_context().engine) as session:
        row = session.get(EmailOutbox, outbox_id)
        if row is None:
            return
        row.status = status
        row.last_error = error[:500] if error else None
        if status == "sent":
            row.sent_at = utcnow()
        session.add(row)


@DBOS.step(name="knopfdruck.send_email", retries_allowed=True, max_attempts=MAX_ATTEMPTS,
           interval_seconds=2.0, backoff_rate=2.0)  # fmt: skip
def send_email_step(outbox_id: str) -> str:
    """Send one outbox mail, or report why not; never twice."""
    ctx = worker_context()
    if not mail_enabled(ctx.settings):
        _settle(outbox_id, "failed", "SMTP is not configured in this worker")
        return "failed"
    with unit_of_work(ctx.engine) as session:
        row = _claim(session, outbox_id)
        if row is None:
            current = session.get(EmailOutbox, outbox_id)
            return current.status if current else "missing"
        message = build_message(
            ctx.settings, to=row.to_address, subject=row.subject, body=row.body, key=row.id
        )
        attempts = row.attempts
    try:
        send_mail(ctx.settings, message)
    except MailNotSent as exc:
        if exc.permanent or attempts >= MAX_ATTEMPTS:
            _settle(outbox_id, "failed", str(exc))
            log.warning("notification mail %s not sent: %s", outbox_id, exc)
            return "failed"
        _settle(outbox_id, "pending", str(exc))
        raise MailRetry(str(exc)) from exc
    except MailOutcomeUnknown as exc:
        _settle(outbox_id, "uncertain", str(exc))
        log.warning("notification mail %s may or may not have been sent: %s", outbox_id, exc)
        return "uncertain"
    _settle(outbox_id, "sent")
    return "sent"


@DBOS.workflow(name=WORKFLOW)
def deliver_email(outbox_id: str) -> str:
    """One notification mail; the workflow id email-<outbox id> makes it exist once."""
    return send_email_step(outbox_id)
