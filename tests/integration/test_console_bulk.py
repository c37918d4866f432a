"""Bulk actions (issue 17, item 6): each selected case is its own audited action; a refused case
does not stop the rest and is named; shared input that is wrong refuses the whole batch before
anything changes; another department's case stays an opaque id."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, col, select

from backend.console.bulk import MAX_BULK, run_bulk
from backend.console.models import CaseAssignment, CaseFollowUp, QaReview
from backend.context import AppContext
from backend.errors import InvalidInput
from backend.records.models import CaseEvent
from tests.conftest import Platform
from tests.integration.casekit import submit_cases
from tests.integration.enginekit import engine, referred_case
from tests.integration.test_console_four_eyes import clerk, ctx, qa_referred
from tests.integration.test_console_isolation import Browser

__all__ = ["ctx"]  # the fixture, imported for this module's tests


def test_qa_confirm_in_bulk_confirms_sampled_cases_and_names_the_others(ctx: AppContext) -> None:
    sampled = qa_referred(ctx, 2)
    [plain] = submit_cases(ctx, "meldebescheinigung", [{}])
    sabine = clerk("clerk-buergeramt")
    result = run_bulk(
        ctx, sabine, "qa_confirm", [*sampled, plain], {"reason": "Stichprobe geprüft: korrekt."}
    )
    assert len(result.done) == 2 and len(result.refused) == 1
    assert "QS-Stichprobe" in result.refused[0][1]
    with Session(ctx.engine) as session:
        reviews = session.exec(select(QaReview).where(col(QaReview.case_id).in_(sampled))).all()
    assert len(reviews) == 2 and not any(r.overturned for r in reviews)


def test_shared_input_that_is_wrong_changes_nothing(ctx: AppContext) -> None:
    case_ids = qa_referred(ctx, 2)
    sabine = clerk("clerk-buergeramt")
    with pytest.raises(InvalidInput):
        run_bulk(ctx, sabine, "follow_up", case_ids, {"due_on": "31.02.2026", "reason": "x"})
    with pytest.raises(InvalidInput):
        run_bulk(ctx, sabine, "qa_confirm", case_ids, {"reason": " "})
    with pytest.raises(InvalidInput):
        run_bulk(ctx, sabine, "delete_all", case_ids, {})
    with pytest.raises(InvalidInput):
        run_bulk(ctx, sabine, "assign_me", [f"{i:032x}" for i in range(51)], {})
    assert MAX_BULK == 50
    with Session(ctx.engine) as session:
        assert not session.exec(
            select(CaseFollowUp).where(col(CaseFollowUp.case_id).in_(case_ids))
        ).all()
        assert not session.exec(
            select(CaseEvent).where(
                col(CaseEvent.case_id).in_(case_ids), CaseEvent.type == "clerk_decision"
            )
        ).all()


def test_a_clerk_assigns_selected_rows_to_herself(platform: Platform) -> None:
    _c1, first = referred_case(platform, "erika")
    _c2, second = referred_case(platform, "jonas")
    foreign = "0" * 32
    sabine = Browser(platform, "clerk-buergeramt")
    page = sabine.get("/console/worklist?reason=referred").text
    assert f'name="case" value="{first}" form="bulk"' in page
    answer = sabine.client.post(
        "/console/worklist?reason=referred",
        data={
            "csrf_token": sabine.csrf,
            "bulk_action": "assign_me",
            "case": [first, second, foreign],
            "reason": "",
        },
    )
    assert answer.status_code == 200, answer.text[:500]
    assert "2 Vorgänge bearbeitet" in answer.text
    assert re.search(rf"<li>{foreign}: ", answer.text)
    with Session(engine(platform)) as session:
        rows = session.exec(
            select(CaseAssignment).where(col(CaseAssignment.case_id).in_([first, second]))
        ).all()
    assert {r.case_id for r in rows} == {first, second}
    assert all(r.assignee_name == "Sabine Krüger" for r in rows)
    # Without a selection: a clear 422 on the same page.
    empty = sabine.client.post(
        "/console/worklist", data={"csrf_token": sabine.csrf, "bulk_action": "assign_me"}
    )
    assert empty.status_code == 422 and "mindestens einen Vorgang" in empty.text
