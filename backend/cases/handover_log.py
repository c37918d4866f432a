"""A handover's answer taken from the case's FIT-Connect event log: on the API's callback, and
on a schedule for a callback that was lost.

The Submission API's callback to a sender (``new-events``) carries no answer, only the news
that a case's log changed; both triggers therefore read and verify the same signed log.

A handover delivered some minutes ago that still has no accept or reject has its event log read
and every Security Event Token verified; an accept or reject found there is applied exactly as
the signed callback would be (``record_callback``, keyed by the token's ``jti``, so a replay
changes nothing). A log that fails verification goes to a person once and is not read again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from backend.cases.handover_callbacks import StatusCallback, record_callback
from backend.cases.lifecycle import refer_or_note
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.errors import Conflict, NotFound
from backend.handover.delivery import EventLogUnavailable, read_event_log
from backend.handover.fitconnect_events import EventLogInvalid
from backend.handover.models import Handover
from backend.periodic import Periodic

log = logging.getLogger("knopfdruck.handover")

EVENT_LOG_AFTER_S = 180
"""How long a delivered handover waits for its callback before the event log is read."""
EVENT_LOG_INTERVAL_S = 60
LOG_REFUSED = "Ereignisprotokoll abgelehnt"
"""Prefix of ``last_error`` once a log failed verification: that handover is not read again."""
BATCH = 50


NEW_EVENTS = "https://schema.fitko.de/fit-connect/submission-api/callbacks/new-events"


class SubmissionNews(BaseModel):
    """One submission whose case log has new events (OpenAPI SubmissionForNewEvents)."""

    destination_id: uuid.UUID = Field(alias="destinationId")
    submission_id: uuid.UUID = Field(alias="submissionId")
    case_id: uuid.UUID = Field(alias="caseId")


class NewEventsCallback(BaseModel):
    """The Submission API's callback to a sender: only a nudge; the answer is in the signed log."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["https://schema.fitko.de/fit-connect/submission-api/callbacks/new-events"]
    submissions: list[SubmissionNews] = Field(default_factory=list, max_length=BATCH)
    submission_ids: list[uuid.UUID] = Field(
        default_factory=list, alias="submissionIds", max_length=BATCH
    )
    """Deprecated in the API, still accepted."""

    def named(self) -> list[str]:
        """Every submission the callback names, in our spelling (32 hex digits)."""
        return sorted(
            {s.submission_id.hex for s in self.submissions} | {s.hex for s in self.submission_ids}
        )


@dataclass
class Reconciled:
    """What one run did: answers applied, logs refused, logs that could not be read."""

    applied: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


def _waiting() -> Any:
    """Handovers delivered and still without an answer whose log may be read."""
    return select(Handover).where(
        col(Handover.status) == "delivered",
        col(Handover.announced_at).is_not(None),
        or_(
            col(Handover.last_error).is_(None),
            ~col(Handover.last_error).startswith(LOG_REFUSED),
        ),
    )


def reconcile_handovers(ctx: AppContext, *, older_than_s: float = EVENT_LOG_AFTER_S) -> Reconciled:
    """Read the event log of every handover still waiting for an answer, and apply what it says."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with Session(ctx.engine) as session:
        waiting = session.exec(
            _waiting()
            .where(col(Handover.delivered_at) <= cutoff)
            # Least recently looked at first: a batch of long-silent destinations must not
            # starve the newer handovers behind them (a read with no answer touches updated_at).
            .order_by(col(Handover.updated_at), col(Handover.id))
            .limit(BATCH)
        ).all()
    return _reconcile(ctx, list(waiting))


def reconcile_submissions(ctx: AppContext, submission_ids: list[str]) -> Reconciled:
    """The Submission API's new-events callback named these submissions: read their logs now."""
    wanted = sorted(set(submission_ids))[:BATCH]
    with Session(ctx.engine) as session:
        waiting = session.exec(
            # Not only "delivered": the destination may answer before the sender has recorded
            # its own delivery (still pending), or after it gave up (failed); the answer counts.
            select(Handover)
            .where(
                col(Handover.submission_id).in_(wanted),
                col(Handover.status).in_(("pending", "delivered", "failed")),
                or_(
                    col(Handover.last_error).is_(None),
                    ~col(Handover.last_error).startswith(LOG_REFUSED),
                ),
            )
            .order_by(col(Handover.id))
        ).all()
    return _reconcile(ctx, list(waiting))


def _reconcile(ctx: AppContext, waiting: list[Handover]) -> Reconciled:
    """Read, verify and apply the event log of each handover; one code path for both triggers."""
    result = Reconciled()
    for handover in waiting:
        _looked_at(ctx, handover)
        try:
            events = read_event_log(ctx, handover.case_id)
        except EventLogUnavailable:
            result.unavailable.append(handover.case_id)  # asked again on the next run
            continue
        except EventLogInvalid as refused:
            _surface(ctx, handover, str(refused))
            result.refused.append(handover.case_id)
            continue
        for event in events:
            if event.submission_id != handover.submission_id or event.event == "submitted":
                continue
            callback = StatusCallback.model_validate(
                {
                    "eventId": event.event_id,
                    "submissionId": handover.submission_id,
                    "status": event.event,
                    "reason": "; ".join(event.problems)[:500] or None,
                }
            )
            try:
                outcome = record_callback(ctx, callback, event.issued_at)
            except (Conflict, NotFound):
                continue
            if outcome.status == "recorded":
                result.applied.append(handover.case_id)
    return result


def _looked_at(ctx: AppContext, handover: Handover) -> None:
    """Move this handover to the back of the queue of logs to read."""
    with unit_of_work(ctx.engine) as session:
        session.execute(
            update(Handover)
            .where(col(Handover.id) == handover.id, col(Handover.status) == "delivered")
            .values(updated_at=utcnow())
        )


def _surface(ctx: AppContext, handover: Handover, reason: str) -> None:
    """A log that must not be believed: a person looks at the case; this log is read no more."""
    with unit_of_work(ctx.engine) as session:
        session.execute(
            update(Handover)
            .where(col(Handover.id) == handover.id)
            .values(last_error=f"{LOG_REFUSED}: {reason}"[:500], updated_at=utcnow())
        )
    log.warning("event log of a handover failed verification; the case goes to a person")
    refer_or_note(
        ctx,
        handover.case_id,
        f"{LOG_REFUSED}: {reason}"[:500],
        {
            "referral_reasons": ["handover_event_log_invalid"],
            "submission_id": handover.submission_id,
        },
        f"Sachbearbeitung: Ereignisprotokoll des Zustelldienstes ungültig ({reason})"[:200],
        f"handover-event-log:{handover.submission_id}",
    )


def event_log_schedule(ctx: AppContext) -> Periodic:
    """The worker's schedule that recovers lost callbacks from the event log."""
    return Periodic("handover-event-log", EVENT_LOG_INTERVAL_S, lambda: reconcile_handovers(ctx))
