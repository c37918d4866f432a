"""Status callbacks from a Fachverfahren: signed with HMAC-SHA512 over timestamp and body.

As in FIT-Connect, the signature covers ``<timestamp>.<body>`` and travels in the header
``callback-authentication`` (hex), the Unix timestamp in ``callback-timestamp``. A callback
older than five minutes is rejected, so a captured one cannot be replayed later; a replay within
the window is recognised by its event id and changes nothing.

Every verified callback enters the handover's event log once, numbered in the order received.
Whether it changes anything is for the state machine in ``backend.domain.handover_state`` to
say: a callback it does not allow (a rejection after the acceptance, an event sent before the
one already applied) is logged as ignored with its reason and answered 200 ``ignored``, so the
sender stops retrying and the case is never moved back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.cases.lifecycle import move_case
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.domain.case_state import Actor, CaseStatus
from backend.domain.handover_state import advance
from backend.errors import Conflict, NotFound, Unauthorized
from backend.handover.credentials import delivers_to_own_sandbox, sandbox_fitconnect
from backend.handover.models import Handover, HandoverCallback
from backend.records.audit import record_event
from backend.records.models import Case
from backend.secret_files import create_once
from backend.settings import Settings

SIGNATURE_HEADER = "callback-authentication"
TIMESTAMP_HEADER = "callback-timestamp"
MAX_AGE_S = 300
MAX_CLOCK_SKEW_S = 60
SECRET_FILE = "handover-callback-secret"

CallbackStatus = Literal["accepted", "rejected"]


class StatusCallback(BaseModel):
    """What a Fachverfahren reports about a submission it received."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(alias="eventId", pattern=r"^[A-Za-z0-9-]{8,64}$")
    submission_id: str = Field(alias="submissionId", pattern=r"^[0-9a-f]{32}$")
    status: CallbackStatus
    reason: str | None = Field(None, max_length=500)


def callback_secret(settings: Settings) -> str:
    """The secret callbacks must be signed with: configured, the in-process sandbox's, or one
    generated once into the data directory (mode 0600)."""
    if settings.handover_callback_secret:
        return settings.handover_callback_secret
    if delivers_to_own_sandbox(settings):
        return sandbox_fitconnect(settings).callback_secret
    made = create_once(settings.data_dir / SECRET_FILE, lambda: secrets.token_hex(32).encode())
    return made.decode("ascii").strip()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA512 over ``timestamp.body``, hex-encoded."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha512).hexdigest()


def verify_signature(
    secret: str,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    *,
    now: float | None = None,
) -> None:
    """Raise Unauthorized unless the callback is signed with our secret and fresh."""
    if not signature or not timestamp:
        raise Unauthorized(
            f"Signatur fehlt (headers {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} required)."
        )
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise Unauthorized("Zeitstempel ungültig. (Invalid callback timestamp.)") from None
    age = (time.time() if now is None else now) - sent_at
    if age > MAX_AGE_S:
        raise Unauthorized(
            "Rückmeldung ist älter als fünf Minuten. (Callback older than five minutes.)"
        )
    if age < -MAX_CLOCK_SKEW_S:
        raise Unauthorized("Zeitstempel liegt in der Zukunft. (Callback timestamp in the future.)")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.lower()):
        raise Unauthorized("Signatur ungültig. (Invalid callback signature.)")


@dataclass(frozen=True)
class CallbackOutcome:
    """What became of one callback: applied, a replay, or logged but ignored (and why)."""

    status: Literal["recorded", "duplicate", "ignored"]
    reason: str | None = None
    handover_status: str | None = None


def record_callback(ctx: AppContext, callback: StatusCallback, sent_at: int) -> CallbackOutcome:
    """Log a verified callback in its handover's event log and apply it if the state allows."""
    for _ in range(5):
        try:
            return _record(ctx, callback, datetime.fromtimestamp(sent_at, UTC))
        except (IntegrityError, _Raced):
            # Two writers raced: the same event twice (the first one counts), two events of one
            # submission taking the same sequence number, or the delivery moving the handover
            # meanwhile. Nothing was written; decide again on what is there now.
            with Session(ctx.engine) as session:
                if _seen(session, callback.event_id):
                    return CallbackOutcome("duplicate")
    raise Conflict("Rückmeldung bitte erneut senden. (Concurrent callbacks; retry.)")


class _Raced(Exception):
    """The handover's status changed between reading and writing it."""


def _record(ctx: AppContext, callback: StatusCallback, sent_at: datetime) -> CallbackOutcome:
    with unit_of_work(ctx.engine) as session:
        if _seen(session, callback.event_id):
            return CallbackOutcome("duplicate")
        # The row lock orders concurrent callbacks of one submission on PostgreSQL.
        handover = session.exec(
            select(Handover)
            .where(Handover.submission_id == callback.submission_id)
            .with_for_update()
        ).first()
        if handover is None:
            raise NotFound("Diese Übermittlung gibt es nicht. (Unknown submission.)")
        log = session.exec(
            select(HandoverCallback)
            .where(HandoverCallback.submission_id == callback.submission_id)
            .order_by(col(HandoverCallback.sequence))
        ).all()
        applied = [_aware(e.sent_at) for e in log if e.outcome == "applied"]
        step = advance(
            handover.status,
            callback.status,
            sent_at=sent_at,
            last_applied_sent_at=max(applied) if applied else None,
        )
        session.add(
            HandoverCallback(
                event_id=callback.event_id,
                submission_id=callback.submission_id,
                sequence=(log[-1].sequence + 1) if log else 1,
                status=callback.status,
                reason=callback.reason,
                sent_at=sent_at,
                outcome="applied" if step.applied else "ignored",
                handover_status=handover.status,
                ignored_reason=step.ignored,
            )
        )
        case = session.get(Case, handover.case_id)
        if case is None:
            raise LookupError(f"case {handover.case_id} vanished")
        if not step.applied:
            record_event(
                session,
                case.id,
                "handover_callback_ignored",
                actor="fachverfahren",
                reason=step.explanation,
                payload={
                    "submission_id": callback.submission_id,
                    "event_id": callback.event_id,
                    "status": callback.status,
                    "handover_status": handover.status,
                    "ignored": str(step.ignored),
                },
                idempotency_key=f"handover-callback:{callback.event_id}",
            )
            session.flush()
            return CallbackOutcome("ignored", str(step.ignored), handover.status)
        # Compare-and-set: SQLite takes no row lock, so the status read above must still hold.
        moved = session.execute(
            update(Handover)
            .where(col(Handover.id) == handover.id, col(Handover.status) == handover.status)
            .values(status=step.status, updated_at=utcnow())
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise _Raced
        _apply_to_case(ctx, session, case, callback)
        session.flush()
        return CallbackOutcome("recorded")


def _aware(at: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _seen(session: Session, event_id: str) -> bool:
    found = session.exec(
        select(HandoverCallback.id).where(HandoverCallback.event_id == event_id)
    ).first()
    return found is not None


def _apply_to_case(ctx: AppContext, session: Session, case: Case, callback: StatusCallback) -> None:
    key = f"handover-callback:{callback.event_id}"
    payload = {"submission_id": callback.submission_id}
    if callback.status == "accepted":
        record_event(
            session,
            case.id,
            "handover_accepted",
            actor="fachverfahren",
            payload=payload,
            idempotency_key=key,
        )
        return
    reason = callback.reason or "ohne Begründung"
    waiting = f"Sachbearbeitung: Fachverfahren hat die Übermittlung abgelehnt ({reason})"[:200]
    record_event(
        session,
        case.id,
        "handover_rejected",
        actor="fachverfahren",
        reason=reason,
        payload=payload,
        idempotency_key=key,
    )
    if case.status == CaseStatus.PROCESSING:
        # The destination refused the delivery: a person decides how the case goes on.
        move_case(
            ctx,
            session,
            case,
            CaseStatus.REFERRED,
            actor=Actor.system(),
            event_type="referred",
            reason=reason,
            payload={"referral_reasons": ["handover_rejected"], **payload},
            idempotency_key=f"{key}:referred",
            waiting_for=waiting,
        )
        return
    case.waiting_for = waiting
    case.updated_at = utcnow()
    session.add(case)
