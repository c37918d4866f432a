"""The dashboard's precomputed decision facts (issue 17, item 9) agree with a full recount
from the case logs after every path that decides a case or changes who decided it; a database
without facts (before migration 0015) gives the same figures, and the backfill writes them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlmodel import Session, col, select

from backend.cases import review
from backend.cases.completion import complete_now
from backend.columns import utcnow
from backend.console import decisions, kpis
from backend.context import AppContext
from backend.db import unit_of_work
from backend.domain.case_state import Actor, CaseStatus
from backend.records import kpi_facts
from backend.records.audit import record_event
from backend.records.models import Case, KpiDecision
from backend.rules.evaluate import decide
from tests.conftest import Platform
from tests.integration.casekit import (
    context_for,
    decide_in_place,
    identity,
    own_database,
    submit_cases,
)
from tests.integration.test_completion_paths import CLERK, DOG, SERVICE, SUPERVISOR


@pytest.fixture
def own(platform: Platform, database_url: str, tmp_path: Path) -> Iterator[AppContext]:
    services = tmp_path / "services"
    shutil.copytree(platform.settings.services_dir, services)
    with own_database(database_url, tmp_path, "kpifacts") as url:
        context = context_for(platform, url, tmp_path, services_dir=services)
        yield context
        context.close()


def _stored(ctx: AppContext) -> dict[str, tuple[str, str, float, bool]]:
    with Session(ctx.engine) as session:
        return {
            r.case_id: (r.department, r.service, round(r.seconds, 3), r.automated)
            for r in session.exec(select(KpiDecision)).all()
        }


def _recounted(ctx: AppContext) -> dict[str, tuple[str, str, float, bool]]:
    with Session(ctx.engine) as session:
        decided = session.exec(select(Case.id).where(col(Case.decided_at).is_not(None))).all()
        return {
            f.case_id: (f.department, f.service, round(f.seconds, 3), f.automated)
            for f in kpi_facts.recount(session, list(decided))
        }


def _figures(ctx: AppContext) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    with Session(ctx.engine) as session:
        found = kpis.decisions_since(session, "steueramt", utcnow().replace(year=2000))
    return (
        sorted((d.service, round(d.seconds, 3)) for d in found.automated),
        sorted((d.service, round(d.seconds, 3)) for d in found.manual),
    )


def _engine_decides(ctx: AppContext, case_id: str) -> None:
    """The worker's decide step: the decision and the engine's ``decided`` event."""
    assert decide_in_place(ctx, case_id) == "approved"
    with unit_of_work(ctx.engine) as session:
        record_event(
            session, case_id, "decided", actor=Actor.system().label, payload={"outcome": "approved"}
        )


def _clerk_decides(ctx: AppContext, case_id: str, outcome: str, reason: str) -> str:
    result = decisions.decide_case(ctx, CLERK, case_id, outcome, reason)
    if result.pending_id is not None:
        result = decisions.confirm_pending(ctx, SUPERVISOR, case_id, True, "Geprüft")
    return result.status


def test_the_facts_follow_every_deciding_path_and_match_a_full_recount(
    own: AppContext,
) -> None:
    who = identity("erika")
    # The machine decides and the platform completes: automated.
    [machine] = submit_cases(own, SERVICE, [{**DOG, "hundename": "Aki"}], who=who)
    _engine_decides(own, machine)
    assert complete_now(own, machine) == "notified"
    # The machine's approval, then a review overturned by a clerk: manual from then on.
    [reviewed] = submit_cases(own, SERVICE, [{**DOG, "hundename": "Bo"}], who=who)
    _engine_decides(own, reviewed)
    assert complete_now(own, reviewed) == "notified"
    assert _stored(own)[reviewed][3] is True
    review.request_review(own, who, reviewed, "Bo lebt nicht bei mir.")
    reason = "Bo wird nicht im Haushalt gehalten; keine Steuerpflicht."
    assert _clerk_decides(own, reviewed, "rejected", reason) == "notified"
    # A referred case a clerk decides: manual, timed until the notice.
    [referred] = submit_cases(own, SERVICE, [{**DOG, "hundename": "Cleo"}], who=who)
    with Session(own.engine) as session:
        case = session.get(Case, referred)
        assert case is not None
        machine_says = decide(
            own.catalogue.get(SERVICE), dict(case.data["values"]), case.reference_date
        )
        case.decision = machine_says.refer("qa_sample").to_json()
        case.status, case.outcome = CaseStatus.REFERRED, "referred"
        session.add(case)
        session.commit()
    assert _clerk_decides(own, referred, "approved", "Angaben geprüft.") == "notified"
    # Submitted, not decided: no fact.
    [open_case] = submit_cases(own, SERVICE, [{**DOG, "hundename": "Dax"}], who=who)

    stored = _stored(own)
    assert stored == _recounted(own)
    assert set(stored) == {machine, reviewed, referred} and open_case not in stored
    assert [stored[c][3] for c in (machine, reviewed, referred)] == [True, False, False]
    automated, manual = _figures(own)
    assert len(automated) == 1 and len(manual) == 2


def test_a_database_without_facts_counts_the_same_and_the_backfill_writes_them(
    own: AppContext,
) -> None:
    who = identity("jonas")
    cases = submit_cases(
        own, SERVICE, [{**DOG, "hundename": n} for n in ("Ede", "Fips", "Gina")], who=who
    )
    for case_id in cases:
        _engine_decides(own, case_id)
        assert complete_now(own, case_id) == "notified"
    before, stored = _figures(own), _stored(own)
    assert len(stored) == 3
    with Session(own.engine) as session:  # as a database decided before migration 0015
        session.execute(delete(KpiDecision))
        session.commit()
    assert _figures(own) == before, "cases without a fact are recounted, never left out"
    assert kpi_facts.backfill(own.engine) == 3
    assert _stored(own) == stored
    assert kpi_facts.backfill(own.engine) == 0
