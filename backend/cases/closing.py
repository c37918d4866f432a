"""Closing decided cases once the objection period has passed and the notice is final."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, col, select

from backend.cases.lifecycle import CaseChanged, deadline_for, load_case, move_case
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.domain.case_state import Actor, CaseStatus
from backend.records.models import Case

# No objection period is shorter than a month plus the days until announcement, so older
# decisions are the only candidates; the exact deadline is checked per case.
_EARLIEST = timedelta(days=28)


def close_lapsed_cases(ctx: AppContext, today: date, *, limit: int = 500) -> list[str]:
    """Close (once) every decided case whose objection deadline lies before ``today``.

    A case under review or objection is not in 'decided'/'notified' and stays open: the
    department closes it when it has answered.
    """
    with Session(ctx.engine) as session:
        candidates = session.exec(
            select(Case)
            .where(
                col(Case.status).in_([str(CaseStatus.DECIDED), str(CaseStatus.NOTIFIED)]),
                col(Case.decided_at) < utcnow() - _EARLIEST,
            )
            .order_by(col(Case.decided_at))
            .limit(limit)
        ).all()
        due = [c.id for c in candidates if (d := deadline_for(ctx, c)) is not None and d < today]
    closed: list[str] = []
    for case_id in due:
        try:
            with unit_of_work(ctx.engine) as session:
                case = load_case(session, case_id)
                if case.status not in (CaseStatus.DECIDED, CaseStatus.NOTIFIED):
                    continue
                move_case(
                    ctx,
                    session,
                    case,
                    CaseStatus.CLOSED,
                    actor=Actor.system(),
                    event_type="closed",
                    reason="Widerspruchsfrist abgelaufen; der Bescheid ist bestandskräftig",
                    idempotency_key="closed",
                )
                closed.append(case_id)
        except CaseChanged:
            continue  # the citizen objected at this very moment: the case stays open
    return closed
