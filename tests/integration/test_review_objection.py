"""One click each: human review (GDPR Art. 22(3)), objection within the deadline, withdrawal,
and an answer to the department's question. Review and objection land in the department's
task queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.auth.tokens import Identity
from backend.cases import review
from backend.cases.closing import close_lapsed_cases
from backend.columns import utcnow
from backend.console.models import QaReview
from backend.console.qa import qa_overturn_rate
from backend.context import build_context
from backend.db import unit_of_work
from backend.documents.render import local_date
from backend.domain.deadlines import add_months, objection_deadline
from backend.engine import CLOSE_WORKFLOW
from backend.errors import Forbidden
from backend.records.models import Case, CaseTask
from tests.conftest import Platform
from tests.integration.enginekit import (
    engine,
    messages_of,
    notified_case,
    objection_case,
    referred_case,
    timeline,
)
from tests.integration.test_console_isolation import console_api


def _tasks(platform: Platform, case_id: str) -> list[CaseTask]:
    with Session(engine(platform)) as session:
        return list(
            session.exec(
                select(CaseTask).where(CaseTask.case_id == case_id).order_by(col(CaseTask.kind))
            ).all()
        )


def test_review_then_objection_each_create_one_department_task(platform: Platform) -> None:
    api, case_id = objection_case(platform)
    today = local_date(utcnow())
    actions = api.get(f"/cases/{case_id}/actions").json()
    assert actions["can_request_review"] and actions["can_object"]
    assert not actions["can_withdraw"] and not actions["can_answer_question"]
    assert actions["objection_deadline"] == objection_deadline(today).isoformat()

    first = api.post(f"/cases/{case_id}/review", json={"statement": "Bitte prüfen Sie das."})
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "in_review" and first.json()["task"]["kind"] == "human_review"
    again = api.post(f"/cases/{case_id}/review", json={})
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["task"]["id"] == first.json()["task"]["id"]
    # The request, then the system filing its Eingangsbestätigung (issue 20 item 6).
    last, receipt = timeline(api, case_id)[-2:]
    assert (last["type"], last["actor"]) == ("review_requested", "citizen")
    assert (receipt["type"], receipt["actor"]) == ("document_issued", "system")
    assert "review" in [m["kind"] for m in messages_of(api, case_id)]

    actions = api.get(f"/cases/{case_id}/actions").json()
    assert not actions["can_request_review"] and actions["can_object"]
    objection = api.post(
        f"/cases/{case_id}/objection", json={"statement": "Die Anschrift ist veraltet."}
    )
    assert objection.status_code == 201 and objection.json()["status"] == "objection"
    repeat = api.post(f"/cases/{case_id}/objection", json={"statement": "Nochmal."})
    assert repeat.status_code == 200 and repeat.json()["created"] is False
    assert api.get(f"/cases/{case_id}").json()["status"] == "objection"

    tasks = {t.kind: t for t in _tasks(platform, case_id)}
    assert set(tasks) == {"human_review", "objection"}
    assert tasks["human_review"].department == "buergeramt"
    assert tasks["human_review"].legal_basis == "Art. 22 Abs. 3 DSGVO"
    assert tasks["human_review"].statement == "Bitte prüfen Sie das."
    assert tasks["objection"].statement == "Die Anschrift ist veraltet."
    assert tasks["objection"].due_on == add_months(today, 3)
    assert all(t.status == "open" and t.created_by == "citizen" for t in tasks.values())

    jonas = platform.api("jonas")
    for path in ("review", "objection", "withdraw"):
        assert jonas.post(f"/cases/{case_id}/{path}", json={"statement": "x"}).status_code in (
            404,
            422,
        )
    assert jonas.get(f"/cases/{case_id}/actions").status_code == 404


def test_objection_after_the_deadline_is_refused_with_what_to_do(platform: Platform) -> None:
    api, case_id = objection_case(platform)
    with unit_of_work(engine(platform)) as session:
        session.execute(
            update(Case)
            .where(col(Case.id) == case_id)
            .values(decided_at=utcnow() - timedelta(days=60))
        )
    actions = api.get(f"/cases/{case_id}/actions").json()
    assert not actions["can_object"]
    r = api.post(f"/cases/{case_id}/objection", json={"statement": "Zu spät, aber trotzdem."})
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "deadline_passed"
    deadline = actions["objection_deadline"]
    day, month, year = deadline[8:10], deadline[5:7], deadline[:4]
    assert f"am {day}.{month}.{year} abgelaufen" in body["message"]
    assert "Wiedereinsetzung" in body["message"] and "§ 60 VwGO" in body["message"]
    # Where: the authority the definition names, not a platform-wide address.
    assert "bei der Stadt Teststadt, Bürgeramt, Rathausplatz 1, 12345 Teststadt" in body["message"]
    assert _tasks(platform, case_id) == []
    assert api.get(f"/cases/{case_id}").json()["status"] == "notified"


def test_bad_requests_get_clear_errors(platform: Platform) -> None:
    api, case_id = notified_case(platform)
    assert api.post(f"/cases/{case_id}/objection", json={"statement": "  "}).status_code == 422
    assert api.post(f"/cases/{case_id}/objection", json={}).status_code == 422
    too_long = api.post(f"/cases/{case_id}/objection", json={"statement": "x" * 6000})
    assert too_long.status_code == 422
    assert api.post(f"/cases/{case_id}/review", json={"nope": 1}).status_code == 422
    assert api.post("/cases/" + "0" * 32 + "/review", json={}).status_code == 404
    refused = api.post(f"/cases/{case_id}/withdraw", json={})
    assert refused.status_code == 409 and "Widerspruch" in refused.json()["message"]
    assert api.post(f"/cases/{case_id}/answer", json={"answer": "?"}).status_code == 409
    assert api.get(f"/cases/{case_id}/payment").status_code == 404


def test_withdrawal_before_the_decision(platform: Platform) -> None:
    api, case_id = referred_case(platform)
    assert api.get(f"/cases/{case_id}/actions").json()["can_withdraw"]
    r = api.post(f"/cases/{case_id}/withdraw", json={"reason": "Hat sich erledigt."})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert api.post(f"/cases/{case_id}/withdraw", json={}).json()["status"] == "withdrawn"
    events = [e for e in timeline(api, case_id) if e["type"] == "withdrawn"]
    assert len(events) == 1 and events[0]["actor"] == "citizen"
    assert [m["kind"] for m in messages_of(api, case_id)] == ["withdrawn", "referred"]
    review_refused = api.post(f"/cases/{case_id}/review", json={})
    assert review_refused.status_code == 409


def test_department_asks_and_the_citizen_answers(platform: Platform) -> None:
    api, case_id = referred_case(platform)
    ctx = build_context(platform.settings)
    try:
        clerk = Identity(
            sub="clerk-buergeramt", name="Sachbearbeiterin", trust_level="substanziell",
            department="buergeramt", roles=("clerk",),
        )  # fmt: skip
        other = Identity(
            sub="clerk-ordnungsamt", name="Andere", trust_level="substanziell",
            department="ordnungsamt", roles=("clerk",),
        )  # fmt: skip
        with pytest.raises(Forbidden):
            review.ask_citizen(ctx, other, case_id, "Wer sind Sie?")
        case = review.ask_citizen(ctx, clerk, case_id, "Seit wann wohnen Sie in der Domstraße?")
        assert case.status == "awaiting_citizen"
    finally:
        ctx.close()
    asked = [e for e in timeline(api, case_id) if e["type"] == "question_asked"]
    assert asked and asked[0]["actor"] == "clerk"  # the clerk's id stays internal
    question = next(m for m in messages_of(api, case_id) if m["kind"] == "awaiting_citizen")
    assert "Seit wann wohnen Sie in der Domstraße?" in question["body"]["de"]
    assert api.get(f"/cases/{case_id}/actions").json()["can_answer_question"]

    r = api.post(f"/cases/{case_id}/answer", json={"answer": "Seit dem 1. Oktober 2026."})
    assert r.status_code == 201 and r.json()["status"] == "in_review"
    again = api.post(f"/cases/{case_id}/answer", json={"answer": "Seit Oktober."})
    assert again.status_code == 200 and again.json()["created"] is False
    (task,) = _tasks(platform, case_id)
    assert (task.kind, task.statement) == ("answer", "Seit dem 1. Oktober 2026.")


def test_decisions_past_the_objection_period_are_closed_others_stay_open(
    platform: Platform,
) -> None:
    api, lapsed = notified_case(platform)
    _api, reviewed = notified_case(platform)
    assert api.post(f"/cases/{reviewed}/review", json={}).status_code == 201
    _api, fresh = notified_case(platform)
    with unit_of_work(engine(platform)) as session:
        session.execute(
            update(Case)
            .where(col(Case.id).in_([lapsed, reviewed]))
            .values(decided_at=utcnow() - timedelta(days=60))
        )
    ctx = build_context(platform.settings)
    try:
        closed = close_lapsed_cases(ctx, local_date(utcnow()))
        assert close_lapsed_cases(ctx, local_date(utcnow())) == []  # once
        assert ctx.dbos_client.get_schedule(CLOSE_WORKFLOW) is not None  # runs nightly
    finally:
        ctx.close()
    assert lapsed in closed and reviewed not in closed and fresh not in closed
    assert api.get(f"/cases/{lapsed}").json()["status"] == "closed"
    last = timeline(api, lapsed)[-1]
    assert (last["type"], last["actor"]) == ("closed", "system")
    assert api.get(f"/cases/{reviewed}").json()["status"] == "in_review"
    assert api.get(f"/cases/{fresh}").json()["status"] == "notified"
    actions = api.get(f"/cases/{lapsed}/actions").json()
    assert not (actions["can_object"] or actions["can_request_review"] or actions["can_withdraw"])


def test_machine_decisions_overturned_after_review_or_objection_are_qa_findings(
    platform: Platform,
) -> None:
    """The QA error rate must see the machine's errors a citizen found, not only the sample's."""
    clerk = console_api(platform, "clerk-buergeramt")
    supervisor = console_api(platform, "supervisor-buergeramt")
    for path in ("review", "objection"):
        # The objection goes against a Bescheid: a Meldebescheinigung has no remedy.
        api, case_id = (notified_case if path == "review" else objection_case)(platform)
        with Session(engine(platform)) as session:
            machine = session.get(Case, case_id)
            assert machine is not None and machine.outcome == "approved"
            department = machine.department
            before = qa_overturn_rate(session, department)
        lodged = api.post(f"/cases/{case_id}/{path}", json={"statement": "Bitte prüfen."})
        assert lodged.status_code == 201, lodged.text
        reason = f"Nach {path}: Voraussetzungen lagen nicht vor."
        if path == "review":
            done = clerk.post(
                f"/cases/{case_id}/decision", json={"outcome": "rejected", "reason": reason}
            )
        else:
            done = clerk.post(
                f"/cases/{case_id}/objection",
                # Taking the approval back: a Rücknahme (§ 48 VwVfG), the hearing dispensed.
                json={
                    "action": "remedy",
                    "outcome": "rejected",
                    "reason": reason,
                    "withdrawal": "ruecknahme",
                    "hearing_dispensable": "Der Widerspruchsführer hat sich bereits geäußert.",
                },
            )
        assert done.status_code == 200, done.text
        if path == "review":
            # The shipped service needs a second person for an overturn (four eyes).
            assert done.json()["pending_id"], "an overturn waits for a second person"
        if done.json().get("pending_id"):
            confirmed = supervisor.post(
                f"/cases/{case_id}/pending",
                json={"confirm": True, "reason": "Geprüft, zutreffend."},
            )
            assert confirmed.status_code == 200, confirmed.text
        with Session(engine(platform)) as session:
            after = qa_overturn_rate(session, department)
            finding = session.exec(select(QaReview).where(QaReview.case_id == case_id)).one()
        assert (after.reviewed, after.overturned) == (before.reviewed + 1, before.overturned + 1)
        assert (finding.machine_outcome, finding.final_outcome) == ("approved", "rejected")
        assert finding.overturned and reason in finding.reason
