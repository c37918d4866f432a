"""The handover to a Fachverfahren as an explicit state machine: plain Python, no I/O.

As in FIT-Connect, the destination answers a submission once, with ``accepted`` or ``rejected``,
and that answer is final. Our own delivery reports ``delivered`` or ``failed``. An event the
table does not allow from the current state is not applied: the caller logs it as ignored with
the reason this module gives, so an accepted case is never moved back by a late rejection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class HandoverStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class HandoverEvent(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


H = HandoverStatus
E = HandoverEvent

TRANSITIONS: dict[tuple[HandoverStatus, HandoverEvent], HandoverStatus] = {
    (H.PENDING, E.DELIVERED): H.DELIVERED,
    (H.PENDING, E.FAILED): H.FAILED,
    # A later attempt (a recovered workflow, a clerk's retry) got through after all.
    (H.FAILED, E.DELIVERED): H.DELIVERED,
    (H.FAILED, E.FAILED): H.FAILED,
    (H.DELIVERED, E.ACCEPTED): H.ACCEPTED,
    (H.DELIVERED, E.REJECTED): H.REJECTED,
    # The destination may answer before the sender has recorded its own delivery, or after the
    # sender gave up on a delivery whose response was lost: the destination's answer counts.
    (H.PENDING, E.ACCEPTED): H.ACCEPTED,
    (H.PENDING, E.REJECTED): H.REJECTED,
    (H.FAILED, E.ACCEPTED): H.ACCEPTED,
    (H.FAILED, E.REJECTED): H.REJECTED,
}
"""Every allowed move; anything not listed is ignored and logged, never applied."""

FINAL = frozenset({H.ACCEPTED, H.REJECTED})
"""The destination has answered; nothing changes the handover any more."""

ANSWERED_OR_DELIVERED = frozenset({H.DELIVERED, H.ACCEPTED, H.REJECTED})
"""States in which the submission is at the destination: delivering again sends nothing."""


class IgnoredReason(StrEnum):
    """Why an event was logged but not applied (stored in the handover's event log)."""

    OUT_OF_ORDER = "out_of_order"
    ALREADY_FINAL = "already_final"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class Step:
    """The outcome of one event: the status afterwards, and why nothing changed if it did not."""

    applied: bool
    status: HandoverStatus
    ignored: IgnoredReason | None = None
    explanation: str | None = None


def advance(
    current: str,
    event: str,
    *,
    sent_at: datetime | None = None,
    last_applied_sent_at: datetime | None = None,
) -> Step:
    """Apply ``event`` to a handover in ``current`` or say why it must be ignored.

    ``sent_at`` is the sender's time of the event and ``last_applied_sent_at`` that of the
    newest event applied so far: an event sent before it arrives out of order and cannot
    supersede it.
    """
    src, what = HandoverStatus(current), HandoverEvent(event)
    if sent_at is not None and last_applied_sent_at is not None and sent_at < last_applied_sent_at:
        return Step(
            False,
            src,
            IgnoredReason.OUT_OF_ORDER,
            f"{what} was sent before the event already applied ({src})",
        )
    target = TRANSITIONS.get((src, what))
    if target is not None:
        return Step(True, target)
    if src in FINAL:
        return Step(
            False,
            src,
            IgnoredReason.ALREADY_FINAL,
            f"the handover is already {src}; {what} came late",
        )
    if str(src) == str(what):
        return Step(False, src, IgnoredReason.NOT_ALLOWED, f"the handover is already {src}")
    return Step(False, src, IgnoredReason.NOT_ALLOWED, f"a handover cannot go from {src} on {what}")
