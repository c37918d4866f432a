"""The case lifecycle as an explicit state machine: plain Python, no I/O."""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    AWAITING_PAYMENT = "awaiting_payment"
    REFERRED = "referred"
    IN_REVIEW = "in_review"
    AWAITING_CITIZEN = "awaiting_citizen"
    DECIDED = "decided"
    NOTIFIED = "notified"
    OBJECTION = "objection"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


S = CaseStatus
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.SUBMITTED: frozenset({S.PROCESSING, S.REFERRED, S.WITHDRAWN}),
    S.PROCESSING: frozenset({S.AWAITING_PAYMENT, S.DECIDED, S.REFERRED, S.WITHDRAWN}),
    S.AWAITING_PAYMENT: frozenset({S.DECIDED, S.WITHDRAWN, S.CLOSED}),
    S.REFERRED: frozenset({S.IN_REVIEW, S.PROCESSING, S.WITHDRAWN}),
    S.IN_REVIEW: frozenset({S.DECIDED, S.AWAITING_CITIZEN, S.REFERRED, S.WITHDRAWN}),
    S.AWAITING_CITIZEN: frozenset({S.IN_REVIEW, S.WITHDRAWN}),
    S.DECIDED: frozenset({S.NOTIFIED, S.OBJECTION, S.CLOSED}),
    S.NOTIFIED: frozenset({S.OBJECTION, S.IN_REVIEW, S.CLOSED}),
    S.OBJECTION: frozenset({S.IN_REVIEW, S.DECIDED, S.CLOSED}),
    S.WITHDRAWN: frozenset(),
    S.CLOSED: frozenset(),
}

TERMINAL = frozenset({S.WITHDRAWN, S.CLOSED})
"""States after which nothing happens any more."""

SETTLED = frozenset({S.DECIDED, S.NOTIFIED, S.CLOSED, S.WITHDRAWN})
"""States in which the citizen has an answer (a decision or a withdrawal)."""


class InvalidTransition(ValueError):
    """A step tried to move a case along an edge the lifecycle does not have."""


def transition(current: str, target: str) -> CaseStatus:
    """Return the new status, or raise when the lifecycle forbids the move."""
    src, dst = CaseStatus(current), CaseStatus(target)
    if dst not in TRANSITIONS[src]:
        raise InvalidTransition(f"a case cannot go from {src} to {dst}")
    return dst
