"""The case lifecycle as an explicit state machine: plain Python, no I/O.

Every edge names who may take it. The service layer asks this module before it moves a
case, and records the move (actor, reason, time) as an event in the hash-chained case log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
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


class ActorKind(StrEnum):
    SYSTEM = "system"
    CITIZEN = "citizen"
    CLERK = "clerk"


@dataclass(frozen=True)
class Actor:
    """Who moved a case; stored in the case log as 'system', 'citizen' or 'clerk:<id>'."""

    kind: ActorKind
    id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM)

    @classmethod
    def citizen(cls) -> Actor:
        # The case belongs to exactly one citizen, so the log needs no citizen id.
        return cls(ActorKind.CITIZEN)

    @classmethod
    def clerk(cls, clerk_id: str) -> Actor:
        if not clerk_id:
            raise ValueError("a clerk actor needs the clerk's id")
        return cls(ActorKind.CLERK, clerk_id)

    @classmethod
    def parse(cls, label: str) -> Actor:
        """Read back what ``label`` wrote into the case log."""
        kind, _, ident = label.partition(":")
        actor_kind = ActorKind(kind)
        if actor_kind is ActorKind.CLERK:
            return cls.clerk(ident)
        if ident:
            raise ValueError(f"actor {label!r}: only clerks carry an id")
        return cls(actor_kind)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}" if self.kind is ActorKind.CLERK else str(self.kind)


S = CaseStatus
_SYS = frozenset({ActorKind.SYSTEM})
_CIT = frozenset({ActorKind.CITIZEN})
_CLK = frozenset({ActorKind.CLERK})
_CIT_SYS = _CIT | _SYS
_CLK_SYS = _CLK | _SYS
_CLK_CIT = _CLK | _CIT

EDGES: dict[tuple[CaseStatus, CaseStatus], frozenset[ActorKind]] = {
    (S.SUBMITTED, S.PROCESSING): _SYS,
    # A clerk takes over a case whose processing failed for good (an incident).
    (S.SUBMITTED, S.REFERRED): _CLK_SYS,
    (S.SUBMITTED, S.WITHDRAWN): _CIT,
    (S.PROCESSING, S.AWAITING_PAYMENT): _SYS,
    (S.PROCESSING, S.DECIDED): _SYS,
    (S.PROCESSING, S.REFERRED): _CLK_SYS,
    (S.PROCESSING, S.WITHDRAWN): _CIT,
    # Paid: the notice is issued next. Not paid by the deadline: the application counts as
    # withdrawn (cf. § 15 Abs. 2 BGebG: advance payment not made in time).
    (S.AWAITING_PAYMENT, S.DECIDED): _SYS,
    (S.AWAITING_PAYMENT, S.WITHDRAWN): _CIT_SYS,
    # Paid, but the register entry failed for good: a person completes the case; or a clerk
    # takes over after an incident.
    (S.AWAITING_PAYMENT, S.REFERRED): _CLK_SYS,
    (S.REFERRED, S.IN_REVIEW): _CLK,
    # A clerk approves a referred case that costs a fee: it waits for the payment.
    (S.REFERRED, S.AWAITING_PAYMENT): _CLK,
    (S.REFERRED, S.DECIDED): _CLK,
    (S.REFERRED, S.AWAITING_CITIZEN): _CLK,
    (S.REFERRED, S.WITHDRAWN): _CIT,
    # Console: a clerk hands a referred case back to the machine once its cause is gone (a
    # registry outage, paused automation), or discontinues proceedings (Einstellung des
    # Verfahrens, e.g. a duplicate application) before anything is decided.
    (S.REFERRED, S.PROCESSING): _CLK,
    (S.REFERRED, S.CLOSED): _CLK,
    (S.IN_REVIEW, S.CLOSED): _CLK,
    (S.AWAITING_CITIZEN, S.CLOSED): _CLK,
    (S.IN_REVIEW, S.DECIDED): _CLK,
    (S.IN_REVIEW, S.AWAITING_PAYMENT): _CLK,
    (S.IN_REVIEW, S.AWAITING_CITIZEN): _CLK,
    (S.IN_REVIEW, S.REFERRED): _CLK,
    # The objection period keeps running while a person reviews a decision (Art. 22(3) GDPR
    # does not suspend § 70 VwGO), so the citizen may still object.
    (S.IN_REVIEW, S.OBJECTION): _CIT,
    (S.IN_REVIEW, S.WITHDRAWN): _CIT,
    (S.AWAITING_CITIZEN, S.IN_REVIEW): _CLK_CIT,
    (S.AWAITING_CITIZEN, S.WITHDRAWN): _CIT,
    (S.DECIDED, S.NOTIFIED): _SYS,
    (S.DECIDED, S.IN_REVIEW): _CIT,
    (S.DECIDED, S.OBJECTION): _CIT,
    (S.DECIDED, S.CLOSED): _CLK_SYS,
    (S.NOTIFIED, S.IN_REVIEW): _CIT,
    (S.NOTIFIED, S.OBJECTION): _CIT,
    (S.NOTIFIED, S.CLOSED): _CLK_SYS,
    (S.OBJECTION, S.IN_REVIEW): _CLK,
    (S.OBJECTION, S.DECIDED): _CLK,
    (S.OBJECTION, S.CLOSED): _CLK_CIT,
}
"""Every allowed move and who may make it; anything not listed is refused."""

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    status: frozenset(dst for (src, dst) in EDGES if src == status) for status in CaseStatus
}

TERMINAL = frozenset({S.WITHDRAWN, S.CLOSED})
"""States after which nothing happens any more."""

SETTLED = frozenset({S.DECIDED, S.NOTIFIED, S.CLOSED, S.WITHDRAWN})
"""States in which the citizen has an answer (a decision or a withdrawal)."""

WITH_DECISION = frozenset({S.DECIDED, S.NOTIFIED, S.CLOSED})
"""States in which a decision has been issued and stands."""

BEFORE_DECISION = frozenset(
    {S.SUBMITTED, S.PROCESSING, S.AWAITING_PAYMENT, S.REFERRED, S.IN_REVIEW, S.AWAITING_CITIZEN}
)
"""States of an application not yet decided (in_review only when no decision exists yet)."""

CITIZEN_RELEVANT = frozenset(
    {
        S.AWAITING_PAYMENT,
        S.REFERRED,
        S.IN_REVIEW,
        S.AWAITING_CITIZEN,
        S.NOTIFIED,
        S.OBJECTION,
        S.WITHDRAWN,
    }
)
"""Entering one of these puts a message in the citizen's mailbox. ``decided`` is not on the
list: the notice is announced once, when the case becomes ``notified``; nor is ``closed``,
which only records that the objection period has passed."""


class InvalidTransition(ValueError):
    """A step tried to move a case along an edge the lifecycle does not have."""


def transition(current: str, target: str, actor: Actor | None = None) -> CaseStatus:
    """Return the new status, or raise when the lifecycle forbids the move (for this actor)."""
    src, dst = CaseStatus(current), CaseStatus(target)
    allowed = EDGES.get((src, dst))
    if allowed is None:
        raise InvalidTransition(f"a case cannot go from {src} to {dst}")
    who = actor or Actor.system()
    if who.kind not in allowed:
        raise InvalidTransition(f"{who.kind} may not move a case from {src} to {dst}")
    return dst


@dataclass(frozen=True)
class StatusChange:
    """One move of a case as the case log records it."""

    case_id: str
    source: CaseStatus
    target: CaseStatus
    actor: Actor
    reason: str | None
    at: datetime

    @classmethod
    def plan(
        cls,
        case_id: str,
        current: str,
        target: str,
        *,
        actor: Actor,
        reason: str | None,
        at: datetime,
    ) -> StatusChange:
        """Check the move against the lifecycle and describe it; raises InvalidTransition."""
        dst = transition(current, target, actor)
        return cls(case_id, CaseStatus(current), dst, actor, reason, at)

    @property
    def payload(self) -> dict[str, str]:
        return {"from": str(self.source), "to": str(self.target)}


@dataclass(frozen=True)
class CitizenOptions:
    """What the citizen may do with a case right now, and until when they may object."""

    withdraw: bool
    request_review: bool
    object: bool
    answer_question: bool
    objection_deadline: date | None


def citizen_options(
    status: str,
    *,
    decided: bool,
    automated: bool,
    paid: bool,
    review_requested: bool,
    objection_lodged: bool,
    objection_deadline: date | None,
    today: date,
    objection_in_portal: bool = True,
) -> CitizenOptions:
    """The one-click actions of the case page; the service layer enforces the same rules.

    ``objection_in_portal`` is False where the law gives no objection to the authority (a Klage
    at the court, or no administrative act): the portal must not offer what does not exist.
    """
    current = CaseStatus(status)
    within_deadline = objection_deadline is not None and today <= objection_deadline
    # Once the fee is paid the notice follows within seconds; a withdrawal would only
    # start a refund, so it is offered before payment only.
    withdraw = current in BEFORE_DECISION and not decided and not paid
    review = (
        decided
        and automated
        and not review_requested
        and not objection_lodged
        and current in (S.DECIDED, S.NOTIFIED)
    )
    objection = (
        objection_in_portal
        and decided
        and not objection_lodged
        and within_deadline
        and current in (S.DECIDED, S.NOTIFIED, S.IN_REVIEW)
    )
    return CitizenOptions(
        withdraw=withdraw,
        request_review=review,
        object=objection,
        answer_question=current is S.AWAITING_CITIZEN,
        objection_deadline=objection_deadline if decided else None,
    )
