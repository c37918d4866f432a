"""The handover state machine without I/O: final answers stay final, late events are ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.domain.handover_state import (
    FINAL,
    TRANSITIONS,
    HandoverEvent,
    HandoverStatus,
    IgnoredReason,
    advance,
)

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("final", ["accepted", "rejected"])
@pytest.mark.parametrize("event", list(HandoverEvent))
def test_an_answered_handover_never_changes(final: str, event: HandoverEvent) -> None:
    step = advance(final, event)
    assert not step.applied and step.status == final
    assert step.ignored is IgnoredReason.ALREADY_FINAL
    assert step.explanation and final in step.explanation


def test_a_late_rejection_does_not_undo_the_acceptance() -> None:
    accepted = advance("delivered", "accepted")
    assert accepted.applied and accepted.status is HandoverStatus.ACCEPTED
    late = advance(accepted.status, "rejected", sent_at=T0 + timedelta(seconds=5))
    assert not late.applied and late.status is HandoverStatus.ACCEPTED


def test_an_event_sent_before_the_applied_one_is_out_of_order() -> None:
    step = advance(
        "accepted", "rejected", sent_at=T0 - timedelta(seconds=1), last_applied_sent_at=T0
    )
    assert not step.applied and step.ignored is IgnoredReason.OUT_OF_ORDER
    # Sent at the same second: the order cannot be told, the transition table decides.
    same = advance("delivered", "accepted", sent_at=T0, last_applied_sent_at=T0)
    assert same.applied


def test_the_destination_may_answer_before_the_delivery_is_recorded_or_after_giving_up() -> None:
    for before in ("pending", "failed"):
        assert advance(before, "accepted").status is HandoverStatus.ACCEPTED
        assert advance(before, "rejected").status is HandoverStatus.REJECTED
    # Our own late "delivered" then changes nothing.
    late = advance("accepted", "delivered")
    assert not late.applied and late.status is HandoverStatus.ACCEPTED


def test_delivery_moves_forward_only() -> None:
    assert advance("pending", "delivered").status is HandoverStatus.DELIVERED
    assert advance("pending", "failed").status is HandoverStatus.FAILED
    assert advance("failed", "delivered").status is HandoverStatus.DELIVERED
    back = advance("delivered", "failed")
    assert not back.applied and back.status is HandoverStatus.DELIVERED
    assert back.ignored is IgnoredReason.NOT_ALLOWED
    again = advance("delivered", "delivered")
    assert not again.applied and again.ignored is IgnoredReason.NOT_ALLOWED


def test_no_transition_leaves_a_final_state_and_unknown_values_are_refused() -> None:
    assert not [edge for edge in TRANSITIONS if edge[0] in FINAL]
    with pytest.raises(ValueError):
        advance("lost", "accepted")
    with pytest.raises(ValueError):
        advance("delivered", "maybe")
