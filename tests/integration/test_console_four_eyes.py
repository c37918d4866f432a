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
from backend.console.identity import ClerkIdentity
from backend.console.qa import qa_overturn_rate
from backend.context import AppContext
from backend.db import unit_of_work
from backend.domain.case_state import CaseStatus
from backend.errors import Conflict, Forbidden, InvalidInput
from backend.models import Case, CaseEvent
from backend.models_console import PendingDecision, QaReview
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


def test_hand_back_after_a_registry_outage(ctx: AppContext) -> None:
    """Referred because a register failed: handing back refers again until the clerk has
    checked the typed values against the register; then the machine decides."""
    sabine = clerk("clerk-buergeramt")
    (case_id,) = submit_cases(ctx, "meldebescheinigung", [{}])
    with unit_of_work(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        machine = decide(
            ctx.catalogue.get(case.service), dict(case.data["values"]), case.reference_date
        )
        case.data = {**case.data, "failed_fields": ["strasse"]}
        case.decision = machine.refer("registry_failure").to_json()
        case.outcome, case.status = "referred", CaseStatus.REFERRED
        session.add(case)
    with pytest.raises(InvalidInput):
        decisions_rerun(ctx, sabine, case_id, "", checked=False)
    assert decisions_rerun(ctx, sabine, case_id, "Register wieder da", checked=False) == "referred"
    done = decisions_rerun(ctx, sabine, case_id, "Werte im Melderegister geprüft", checked=True)
    assert done == "notified"
    events = log(ctx, case_id)
    reruns = [e for e in events if e.type == "automation_rerun"]
    assert [e.payload["registry_checked"] for e in reruns] == [False, True]
    assert all(e.actor == f"clerk:{sabine.sub}" for e in reruns)
    decided = [e for e in events if e.type == "case_decided"]
    assert [e.actor for e in decided] == ["system"]
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.data["registry_checked_by"] == f"clerk:{sabine.sub}"


def decisions_rerun(
    ctx: AppContext, who: ClerkIdentity, case_id: str, reason: str, *, checked: bool
) -> str:
    from backend.console.work import rerun_automation

    return rerun_automation(ctx, who, case_id, reason, registry_checked=checked).status
