"""Four-eyes on overturning the machine, and the QA sample's overturn rate.

Runs on a database of its own with a copy of the services in which the Meldebescheinigung
demands a second person for overturns, so no worker races the cases this test arranges."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from backend.console import decisions
from backend.console.models import PendingDecision, QaReview
from backend.console.qa import qa_overturn_rate
from backend.context import AppContext
from backend.db import unit_of_work
from backend.department.identity import ClerkIdentity
from backend.domain.case_state import CaseStatus
from backend.errors import Conflict, Forbidden, InvalidInput
from backend.records.models import Case, CaseEvent
from backend.rules.evaluate import decide
from sandbox.personas import persona_by_id
from tests.conftest import Platform
from tests.integration.casekit import context_for, own_database, submit_cases


def clerk(persona_id: str) -> ClerkIdentity:
    persona = persona_by_id(persona_id)
    assert persona is not None and persona.department is not None
    return ClerkIdentity(persona.sub, persona.name, persona.department, persona.roles)


@pytest.fixture
def ctx(platform: Platform, database_url: str, tmp_path: Path) -> Iterator[AppContext]:
    services = tmp_path / "services"
    shutil.copytree(platform.settings.services_dir, services)
    with own_database(database_url, tmp_path, "console4eyes") as url:
        context = context_for(platform, url, tmp_path, services_dir=services)
        assert context.catalogue.get("meldebescheinigung").automation.four_eyes_on_overturn
        yield context
        context.close()


def qa_referred(ctx: AppContext, count: int) -> list[str]:
    """Cases as the engine leaves them when the QA sample picks them: referred, with the
    machine's own result kept as the proposal."""
    case_ids = submit_cases(ctx, "meldebescheinigung", [{} for _ in range(count)])
    for case_id in case_ids:
        with unit_of_work(ctx.engine) as session:
            case = session.get(Case, case_id)
            assert case is not None
            machine = decide(
                ctx.catalogue.get(case.service), dict(case.data["values"]), case.reference_date
            )
            assert machine.outcome == "approved"
            case.decision = machine.refer("qa_sample").to_json()
            case.outcome, case.status = "referred", CaseStatus.REFERRED
            session.add(case)
    return case_ids


def log(ctx: AppContext, case_id: str) -> list[CaseEvent]:
    with Session(ctx.engine) as session:
        return list(
            session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
            ).all()
        )


def status(ctx: AppContext, case_id: str) -> str:
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.status


def test_overturning_the_machine_needs_a_second_person(ctx: AppContext) -> None:
    sabine, martin = clerk("clerk-buergeramt"), clerk("supervisor-buergeramt")
    overturned, confirmed, refused = qa_referred(ctx, 3)

    proposal = decisions.decide_case(ctx, sabine, overturned, "rejected", "Anschrift veraltet")
    assert proposal.pending_id is not None and status(ctx, overturned) == "referred"
    assert log(ctx, overturned)[-1].type == "decision_proposed"
    with pytest.raises(Conflict):
        decisions.decide_case(ctx, sabine, overturned, "approved", "doch")
    with pytest.raises(Forbidden):  # a clerk without the supervisor role
        decisions.confirm_pending(ctx, sabine, overturned, True, "passt")
    with pytest.raises(InvalidInput):
        decisions.confirm_pending(ctx, martin, overturned, True, "")
    done = decisions.confirm_pending(ctx, martin, overturned, True, "Geprüft, Anschrift veraltet")
    assert done.status == "notified"
    events = {e.type: e for e in log(ctx, overturned)}
    assert events["decision_confirmed"].actor == f"clerk:{martin.sub}"
    assert events["clerk_decision"].actor == f"clerk:{sabine.sub}"
    assert events["case_decided"].actor == f"clerk:{sabine.sub}"

    # Agreeing with the machine needs nobody else.
    agreed = decisions.decide_case(ctx, sabine, confirmed, "approved", "Stimmt")
    assert agreed.pending_id is None and agreed.status == "notified"

    # The supervisor may refuse: nothing is decided, the case stays with the department.
    decisions.decide_case(ctx, sabine, refused, "rejected", "unsicher")
    decisions.confirm_pending(ctx, martin, refused, False, "Register ist aktuell")
    assert status(ctx, refused) == "referred"
    with Session(ctx.engine) as session:
        rows = session.exec(select(PendingDecision).where(PendingDecision.case_id == refused)).all()
        assert [r.status for r in rows] == ["refused"]
        rate = qa_overturn_rate(session, "buergeramt", "meldebescheinigung")
        assert (rate.reviewed, rate.overturned) == (2, 1)
        assert qa_overturn_rate(session, "ordnungsamt").reviewed == 0
        findings = session.exec(select(QaReview).order_by(col(QaReview.id))).all()
        assert [(f.machine_outcome, f.final_outcome) for f in findings] == [
            ("approved", "rejected"),
            ("approved", "approved"),
        ]


def test_a_proposer_cannot_confirm_their_own_overturn(ctx: AppContext) -> None:
    martin = clerk("supervisor-buergeramt")
    (case_id,) = qa_referred(ctx, 1)
    decisions.decide_case(ctx, martin, case_id, "rejected", "Zweifel an der Anschrift")
    with pytest.raises(Forbidden):
        decisions.confirm_pending(ctx, martin, case_id, True, "selbst bestätigt")
    assert status(ctx, case_id) == "referred"


def test_hand_back_after_a_pause_and_not_after_a_clerk_amended_a_value(ctx: AppContext) -> None:
    """A referred case goes back to the machine (which decides: 'system'); once a clerk has
    confirmed a value on evidence, it does not: the decision is a person's, and with four eyes
    configured their approval waits for a second person."""
    from backend.console import values

    sabine = clerk("clerk-buergeramt")
    first, second = submit_cases(ctx, "meldebescheinigung", [{}, {}])
    for case_id in (first, second):
        with unit_of_work(ctx.engine) as session:
            case = session.get(Case, case_id)
            assert case is not None
            machine = decide(
                ctx.catalogue.get(case.service), dict(case.data["values"]), case.reference_date
            )
            case.decision = machine.refer("automation_paused").to_json()
            case.outcome, case.status = "referred", CaseStatus.REFERRED
            session.add(case)
    with pytest.raises(InvalidInput):
        decisions_rerun(ctx, sabine, first, "")
    assert decisions_rerun(ctx, sabine, first, "Automatisierung läuft wieder") == "notified"
    decided = [e for e in log(ctx, first) if e.type == "case_decided"]
    assert [e.actor for e in decided] == ["system"]

    # Register values need no confirmation; Sabine corrects the birthplace with a reason.
    with pytest.raises(Conflict):
        values.confirm_value(ctx, sabine, second, "geburtsort", "id_document", None)
    values.correct_value(ctx, sabine, second, "geburtsort", "Berlin-Spandau", "Laut Ausweis")
    with pytest.raises(Conflict, match="selbst"):
        decisions_rerun(ctx, sabine, second, "Automatisierung läuft wieder")
    result = decisions.decide_case(ctx, sabine, second, "rejected", "Geburtsort strittig")
    assert result.pending_id is not None  # four eyes
    events = [e.type for e in log(ctx, second)]
    assert "value_corrected" in events and "decision_proposed" in events


def decisions_rerun(ctx: AppContext, who: ClerkIdentity, case_id: str, reason: str) -> str:
    from backend.console.work import rerun_automation

    return rerun_automation(ctx, who, case_id, reason).status
