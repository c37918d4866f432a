"""Follow-up on time and hand-over (issue 17, items 4 and 5) over HTTP as a clerk works: an
internal note lands in the chained case log and never reaches the citizen; a Wiedervorlage puts
a case back on the worklist on its day, even a decided one; cases undecided for three months are
flagged (§ 75 VwGO); a substitute sees the absent colleague's cases under "Meine Vorgänge"."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.console.followup import untaetigkeit_mark
from backend.console.models import CaseFollowUp
from backend.definitions.constraints import local_today
from backend.records.audit import verify_case_chain
from backend.records.models import Case, CaseEvent
from tests.conftest import Platform
from tests.integration.enginekit import engine, event_types, notified_case, referred_case
from tests.integration.test_console_isolation import Browser


def test_the_three_month_mark_handles_short_months() -> None:
    assert untaetigkeit_mark(date(2026, 5, 31)) == date(2026, 2, 28)
    assert untaetigkeit_mark(date(2026, 1, 15)) == date(2025, 10, 15)
    assert untaetigkeit_mark(date(2028, 5, 30)) == date(2028, 2, 29)


def test_a_note_is_internal_and_chained(platform: Platform) -> None:
    citizen, case_id = referred_case(platform, "erika")
    clerk = Browser(platform, "clerk-buergeramt")
    empty = clerk.post(f"/console/cases/{case_id}/note", {"note": "  "})
    assert empty.status_code == 422
    done = clerk.post(
        f"/console/cases/{case_id}/note", {"note": "Bürgerin rief an: Nachweis kommt per Post."}
    )
    assert done.status_code == 303 and done.headers["location"].endswith("done=noted")
    page = clerk.get(f"/console/cases/{case_id}").text
    assert "Nachweis kommt per Post." in page and "Sabine Krüger" in page
    with Session(engine(platform)) as session:
        assert verify_case_chain(session, case_id).ok
        notes = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.type == "note_added")
        ).all()
    assert len(notes) == 1 and notes[0].actor.startswith("clerk:")
    # The citizen sees neither the note nor that one exists.
    assert "note_added" not in event_types(citizen, case_id)
    assert "Nachweis kommt per Post" not in citizen.get(f"/cases/{case_id}").text
    # Another department cannot write into the case.
    other = Browser(platform, "clerk-ordnungsamt")
    assert other.post(f"/console/cases/{case_id}/note", {"note": "x"}).status_code == 404


def test_a_follow_up_brings_a_decided_case_back_on_its_day(platform: Platform) -> None:
    _citizen, case_id = notified_case(platform, "jonas")
    clerk = Browser(platform, "clerk-buergeramt")
    assert case_id not in clerk.get("/console/worklist").text
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    for bad in ({"due_on": "31.02.2026", "note": "x"}, {"due_on": "2020-01-01", "note": "x"}):
        assert clerk.post(f"/console/cases/{case_id}/follow-up", bad).status_code == 422
    assert (
        clerk.post(
            f"/console/cases/{case_id}/follow-up", {"due_on": tomorrow, "note": "Rückruf"}
        ).status_code
        == 303
    )
    assert case_id not in clerk.get("/console/worklist").text  # not due yet
    with Session(engine(platform)) as session:
        session.exec(
            update(CaseFollowUp)
            .where(col(CaseFollowUp.case_id) == case_id)
            .values(due_on=local_today())
        )
        session.commit()
    due = clerk.get("/console/worklist?reason=follow_up&sort=due").text
    assert case_id in due and "Rückruf" in due and "Wiedervorlage fällig" in due
    done = clerk.post(f"/console/cases/{case_id}/follow-up", {"clear": "1"})
    assert done.status_code == 303
    assert case_id not in clerk.get("/console/worklist").text
    with Session(engine(platform)) as session:
        types = [
            e.type
            for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id)).all()
        ]
    assert "follow_up_set" in types and "follow_up_cleared" in types


def test_cases_undecided_for_three_months_are_flagged(platform: Platform) -> None:
    _citizen, case_id = referred_case(platform, "sophie")
    clerk = Browser(platform, "clerk-buergeramt")
    assert case_id not in clerk.get("/console/worklist?reason=overdue").text
    with Session(engine(platform)) as session:
        case = session.get(Case, case_id)
        assert case is not None
        session.exec(
            update(Case)
            .where(col(Case.id) == case_id)
            .values(submitted_at=case.submitted_at - timedelta(days=95))
        )
        session.commit()
    flagged = clerk.get("/console/worklist?reason=overdue").text
    assert case_id in flagged and "§ 75 VwGO" in flagged
    assert "Untätigkeitsklage" in clerk.get(f"/console/cases/{case_id}").text


def test_a_substitute_sees_the_absent_colleagues_cases(platform: Platform) -> None:
    _citizen, case_id = referred_case(platform, "lukas")
    sabine = Browser(platform, "clerk-buergeramt")
    martin = Browser(platform, "supervisor-buergeramt")  # logged in once: a known colleague
    assert sabine.post(f"/console/cases/{case_id}/assign", {"assignee": ""}).status_code == 303
    assert case_id not in martin.get("/console/worklist?assignee=me").text
    assert martin.get("/console/absence").status_code == 200
    page = sabine.get("/console/absence").text
    assert "Martin Hoffmann" in page
    sub = re.search(r'<option value="([^"]+)">Martin Hoffmann</option>', page)
    assert sub is not None
    today = local_today().isoformat()
    bad = sabine.post(
        "/console/absence",
        {"starts_on": today, "ends_on": "2020-01-01", "substitute": sub.group(1)},
    )
    assert bad.status_code == 422
    stranger = sabine.post(
        "/console/absence", {"starts_on": today, "ends_on": today, "substitute": "nobody"}
    )
    assert stranger.status_code == 422
    ok = sabine.post(
        "/console/absence",
        {
            "starts_on": today,
            "ends_on": (local_today() + timedelta(days=14)).isoformat(),
            "substitute": sub.group(1),
        },
    )
    assert ok.status_code == 303
    mine = martin.get("/console/worklist?assignee=me").text
    assert case_id in mine and "Sie vertreten heute:" in mine and "Sabine Krüger" in mine
    # Ending the absence takes the cases back.
    listing = sabine.get("/console/absence").text
    absence = re.search(r'action="/console/absence/([0-9a-f]{32})/end"', listing)
    assert absence is not None
    assert sabine.post(f"/console/absence/{absence.group(1)}/end", {}).status_code == 303
    assert case_id not in martin.get("/console/worklist?assignee=me").text
