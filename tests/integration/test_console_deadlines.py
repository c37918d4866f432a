"""Target time to decision per case (issue 17, item 4) over HTTP as a clerk works: each case is
due by its service's ``target_days``; late cases are marked and come first; waiting on the
citizen stops the clock and moves the due date by the pause; the CSV says the same."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import yaml
from sqlalchemy import update
from sqlmodel import Session, col

from backend.cases.deadlines import clock_of
from backend.columns import aware, utcnow
from backend.documents.render import local_date
from backend.records.models import Case
from tests.conftest import Platform
from tests.integration.enginekit import engine, referred_case
from tests.integration.test_console_isolation import Browser, console_api


def _case(platform: Platform, case_id: str) -> Case:
    with Session(engine(platform)) as session:
        found = session.get(Case, case_id)
        assert found is not None
        return found


def _set(platform: Platform, case_id: str, **values: object) -> None:
    with Session(engine(platform)) as session:
        session.exec(update(Case).where(col(Case.id) == case_id).values(**values))  # type: ignore[call-overload]
        session.commit()


def _german(day: datetime) -> str:
    return local_date(day).strftime("%d.%m.%Y")


def _row_of(page: str, case_id: str) -> str:
    found = re.search(rf'<tr>(?:(?!</tr>).)*?/console/cases/{case_id}".*?</tr>', page, re.S)
    assert found, f"case {case_id} is not on the worklist"
    return found.group(0)


def test_a_case_is_due_by_its_services_target_and_late_cases_come_first(
    platform: Platform,
) -> None:
    definition = platform.settings.services_dir / "meldebescheinigung" / "service.yaml"
    target = yaml.safe_load(definition.read_text(encoding="utf-8"))["target_days"]
    assert target == 3
    _, on_time = referred_case(platform, "erika")
    _, late = referred_case(platform, "jonas")
    case = _case(platform, on_time)
    assert case.due_at is not None
    assert aware(case.due_at) - aware(case.submitted_at) == timedelta(days=target)

    clerk = Browser(platform, "clerk-buergeramt")
    page = clerk.get("/console/worklist").text
    assert _german(aware(case.due_at)) in _row_of(page, on_time)
    assert "überschritten" not in _row_of(page, on_time)

    # The second case's target passed yesterday: marked, filtered, and first by default.
    _set(platform, late, due_at=utcnow() - timedelta(days=1))
    page = clerk.get("/console/worklist").text
    row = _row_of(page, late)
    assert "überschritten" in row and "Bearbeitungsziel überschritten" in row
    assert page.index(f"/console/cases/{late}") < page.index(f"/console/cases/{on_time}")
    only_late = clerk.get("/console/worklist?reason=late").text
    assert late in only_late and on_time not in only_late
    assert "Überschritten: Entscheidung war bis" in clerk.get(f"/console/cases/{late}").text
    clerk.get("/lang/en?next=/console/")
    assert "Target date passed" in clerk.get("/console/worklist?reason=late").text
    clerk.get("/lang/de?next=/console/")

    api = console_api(platform, "clerk-buergeramt")
    rows = {r["reference"]: r for r in csv.DictReader(io.StringIO(api.get("/worklist.csv").text))}
    assert rows[_case(platform, late).reference]["target_state"] == "late"
    assert rows[case.reference]["target_state"] == "running"
    assert rows[case.reference]["target_on"] == local_date(aware(case.due_at)).isoformat()
    # The JSON worklist carries the same clock, late first by default.
    items = api.get("/worklist").json()["items"]
    listed = {i["reference"]: i for i in items}
    assert listed[_case(platform, late).reference]["target_state"] == "late"
    assert listed[case.reference]["target_state"] == "running"
    assert listed[case.reference]["target_on"] == local_date(aware(case.due_at)).isoformat()
    assert items[0]["target_state"] == "late"

    # A decided case has met or missed its target for good; it shows no clock any more.
    decided = api.post(
        f"/cases/{late}/decision",
        json={"outcome": "approved", "reason": "Anschrift im Melderegister bestätigt."},
    )
    assert decided.status_code == 200, decided.text
    assert clock_of(_case(platform, late), utcnow()).due_on is None
    assert (
        "Bearbeitungsziel"
        not in clerk.get(f"/console/cases/{late}").text.split("Stichtag")[0].split("Status")[-1]
    )


def test_waiting_on_the_citizen_pauses_the_clock_and_moves_the_due_date(
    platform: Platform,
) -> None:
    citizen, case_id = referred_case(platform, "erika")
    api = console_api(platform, "clerk-buergeramt")
    before = aware(_case(platform, case_id).due_at)  # type: ignore[arg-type]
    asked = api.post(f"/cases/{case_id}/question", json={"question": "Seit wann wohnen Sie dort?"})
    assert asked.status_code == 200 and asked.json()["status"] == "awaiting_citizen"
    waiting = _case(platform, case_id)
    assert waiting.clock_paused_at is not None and aware(waiting.due_at) == before  # type: ignore[arg-type]

    # The citizen takes five days to answer: pretend the question went out five days ago.
    paused_at = utcnow() - timedelta(days=5)
    due_then = utcnow() - timedelta(days=2)
    _set(platform, case_id, clock_paused_at=paused_at, due_at=due_then)
    clerk = Browser(platform, "clerk-buergeramt")
    row = _row_of(clerk.get("/console/worklist").text, case_id)
    assert "angehalten (wartet auf Antwort)" in row and "überschritten" not in row
    assert case_id not in clerk.get("/console/worklist?reason=late").text
    assert "Angehalten seit" in clerk.get(f"/console/cases/{case_id}").text

    answered = citizen.post(f"/cases/{case_id}/answer", json={"answer": "Seit dem 1. Oktober."})
    assert answered.status_code in (200, 201), answered.text
    resumed = _case(platform, case_id)
    assert resumed.clock_paused_at is None
    moved = aware(resumed.due_at) - due_then  # type: ignore[arg-type]
    # The due date moved on by the five days of the pause (give or take the test's own run).
    assert timedelta(days=5) <= moved < timedelta(days=5, minutes=5), moved
    row = _row_of(clerk.get("/console/worklist").text, case_id)
    assert "angehalten" not in row and "überschritten" not in row
