"""The case lifecycle: every edge, who may take it, and what the citizen may do when."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest

from backend.domain.case_state import (
    CITIZEN_RELEVANT,
    EDGES,
    TERMINAL,
    TRANSITIONS,
    Actor,
    ActorKind,
    CaseStatus,
    CitizenOptions,
    InvalidTransition,
    StatusChange,
    citizen_options,
    transition,
)

S = CaseStatus
SYSTEM, CITIZEN, CLERK = Actor.system(), Actor.citizen(), Actor.clerk("clerk-buergeramt")


def test_the_automated_path_of_the_issue_is_allowed_for_the_system() -> None:
    path = [S.SUBMITTED, S.PROCESSING, S.AWAITING_PAYMENT, S.DECIDED, S.NOTIFIED, S.CLOSED]
    for src, dst in itertools.pairwise(path):
        assert transition(src, dst, SYSTEM) is dst


def test_the_human_path_is_for_clerks() -> None:
    for src, dst in [(S.REFERRED, S.IN_REVIEW), (S.IN_REVIEW, S.DECIDED)]:
        assert transition(src, dst, CLERK) is dst
        with pytest.raises(InvalidTransition, match="may not"):
            transition(src, dst, SYSTEM)
        with pytest.raises(InvalidTransition, match="may not"):
            transition(src, dst, CITIZEN)


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (S.SUBMITTED, S.WITHDRAWN),
        (S.PROCESSING, S.WITHDRAWN),
        (S.AWAITING_PAYMENT, S.WITHDRAWN),
        (S.NOTIFIED, S.IN_REVIEW),
        (S.NOTIFIED, S.OBJECTION),
        (S.IN_REVIEW, S.OBJECTION),
        (S.AWAITING_CITIZEN, S.IN_REVIEW),
    ],
)
def test_citizen_moves(src: CaseStatus, dst: CaseStatus) -> None:
    assert transition(src, dst, CITIZEN) is dst


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (S.DECIDED, S.WITHDRAWN),  # after the decision, object instead
        (S.SUBMITTED, S.DECIDED),  # nothing is decided without processing
        (S.NOTIFIED, S.PROCESSING),
        (S.WITHDRAWN, S.PROCESSING),
        (S.CLOSED, S.OBJECTION),
    ],
)
def test_edges_that_do_not_exist(src: CaseStatus, dst: CaseStatus) -> None:
    for actor in (SYSTEM, CITIZEN, CLERK):
        with pytest.raises(InvalidTransition, match="cannot go"):
            transition(src, dst, actor)


def test_terminal_states_have_no_way_out_and_every_state_is_reachable() -> None:
    for status in TERMINAL:
        assert TRANSITIONS[status] == frozenset()
    reachable = {dst for (_src, dst) in EDGES} | {S.SUBMITTED}
    assert reachable == set(CaseStatus)
    assert all(who for who in EDGES.values())


def test_unknown_status_is_an_error() -> None:
    with pytest.raises(ValueError):
        transition("lost", "decided")


def test_actor_labels_round_trip() -> None:
    assert SYSTEM.label == "system" and CITIZEN.label == "citizen"
    assert CLERK.label == "clerk:clerk-buergeramt"
    for actor in (SYSTEM, CITIZEN, CLERK):
        assert Actor.parse(actor.label) == actor
    assert Actor.parse("clerk:x").kind is ActorKind.CLERK
    with pytest.raises(ValueError):
        Actor.parse("citizen:abc")
    with pytest.raises(ValueError):
        Actor.clerk("")


def test_status_change_carries_actor_reason_and_time() -> None:
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    change = StatusChange.plan(
        "c1", "notified", "objection", actor=CITIZEN, reason="Widerspruch", at=at
    )
    assert (change.source, change.target, change.actor, change.at) == (
        S.NOTIFIED,
        S.OBJECTION,
        CITIZEN,
        at,
    )
    assert change.payload == {"from": "notified", "to": "objection"}
    with pytest.raises(InvalidTransition):
        StatusChange.plan("c1", "notified", "objection", actor=SYSTEM, reason=None, at=at)


def _options(
    status: str,
    *,
    decided: bool = True,
    automated: bool = True,
    paid: bool = False,
    review_requested: bool = False,
    objection_lodged: bool = False,
    objection_deadline: date | None = date(2026, 3, 2),
    today: date = date(2026, 2, 10),
) -> CitizenOptions:
    return citizen_options(
        status,
        decided=decided,
        automated=automated,
        paid=paid,
        review_requested=review_requested,
        objection_lodged=objection_lodged,
        objection_deadline=objection_deadline,
        today=today,
    )


def test_citizen_options_after_an_automated_decision() -> None:
    options = _options("notified")
    assert options.request_review and options.object
    assert not options.withdraw
    assert options.objection_deadline == date(2026, 3, 2)


def test_no_objection_after_the_deadline_and_no_review_of_a_clerks_decision() -> None:
    late = _options("notified", today=date(2026, 3, 3))
    assert not late.object
    on_the_day = _options("notified", today=date(2026, 3, 2))
    assert on_the_day.object
    by_clerk = _options("notified", automated=False)
    assert not by_clerk.request_review and by_clerk.object


def test_each_one_click_action_once() -> None:
    after_review = _options("in_review", review_requested=True)
    assert not after_review.request_review and after_review.object
    after_objection = _options("objection", objection_lodged=True)
    assert not after_objection.object and not after_objection.request_review


def test_withdrawal_only_before_decision_and_payment() -> None:
    assert _options("processing", decided=False, objection_deadline=None).withdraw
    assert _options("awaiting_payment", decided=False).withdraw
    assert not _options("awaiting_payment", decided=False, paid=True).withdraw
    assert not _options("withdrawn", decided=False).withdraw
    undecided = _options("referred", decided=False)
    assert undecided.objection_deadline is None and not undecided.object


def test_answering_only_when_asked() -> None:
    assert _options("awaiting_citizen", decided=False).answer_question
    assert not _options("in_review", decided=False).answer_question


def test_citizen_relevant_states_include_the_decision_but_not_internal_steps() -> None:
    assert S.NOTIFIED in CITIZEN_RELEVANT and S.AWAITING_PAYMENT in CITIZEN_RELEVANT
    assert S.PROCESSING not in CITIZEN_RELEVANT and S.SUBMITTED not in CITIZEN_RELEVANT


def test_no_one_click_objection_where_the_law_gives_none() -> None:
    """A Klage goes to the court and a certificate has no remedy: no Widerspruch button."""
    options = citizen_options(
        "notified",
        decided=True,
        automated=True,
        paid=False,
        review_requested=False,
        objection_lodged=False,
        objection_deadline=date(2026, 3, 2),
        today=date(2026, 2, 10),
        objection_in_portal=False,
    )
    assert not options.object
    # Art. 22 Abs. 3 DSGVO still holds for an automated decision, and the period is still shown.
    assert options.request_review and options.objection_deadline == date(2026, 3, 2)
