"""Impact analysis over the console API: a draft is validated like the catalogue, replayed on
recent cases without writing anything, and names the changed decisions and their rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import Session, select

from backend.notifications.models import MailboxMessage
from backend.payments.models import Payment
from backend.records.models import Case, CaseEvent, Document
from tests.conftest import Platform
from tests.integration.enginekit import (
    FEE_SERVICE,
    engine,
    fee_case,
    submit,
    wait_for_status,
)
from tests.integration.test_console_kpis_http import console_api

LIVE_FEE = "value: 36.00"


def definition(platform: Platform) -> str:
    return (Path(platform.settings.services_dir) / FEE_SERVICE / "service.yaml").read_text()


def analyse(api: httpx.Client, text: str, **extra: Any) -> httpx.Response:
    return api.post("/impact", json={"service": FEE_SERVICE, "definition": text, **extra})


def row_counts(platform: Platform) -> dict[str, int]:
    with Session(engine(platform)) as session:
        return {
            model.__name__: int(session.exec(select(func.count()).select_from(model)).one())
            for model in (Case, CaseEvent, Document, Payment, MailboxMessage)
        }


def test_a_changed_fee_changes_exactly_the_approved_cases(platform: Platform) -> None:
    boss = console_api(platform, "supervisor-buergeramt")
    live = definition(platform)
    assert LIVE_FEE in live
    dearer = live.replace(LIVE_FEE, "value: 40.00")

    unchanged = analyse(boss, live)
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["changed"] == 0  # the definition in force changes nothing
    baseline = analyse(boss, dearer).json()

    _api, one, _payment = fee_case(platform, copies=1)
    _api, three, _payment = fee_case(platform, copies=3)
    citizen = platform.api("erika")
    too_many = submit(citizen, FEE_SERVICE, answers={"anzahl": 11})
    # "notified", not "decided": the notify step still writes an event and a mailbox message
    # after "decided", and the row counts below must be taken once the case has come to rest.
    wait_for_status(citizen, too_many, {"notified"})

    before = row_counts(platform)
    result = analyse(boss, dearer, days=30)
    assert result.status_code == 200, result.text
    report = result.json()
    assert row_counts(platform) == before  # nothing stored, nobody told
    assert report["replayed"] == baseline["replayed"] + 3
    assert report["changed"] == baseline["changed"] + 2
    by_case = {c["case_id"]: c for c in report["cases"]}
    assert too_many not in by_case
    assert by_case[one]["before"]["amounts"]["gebuehr"] == "36.00"
    assert by_case[one]["after"]["amounts"]["gebuehr"] == "40.00"
    assert by_case[three]["after"]["amounts"]["gebuehr"] == "120.00"
    assert by_case[three]["rules"] == ["gebuehr"]
    assert by_case[three]["before"]["outcome"] == by_case[three]["after"]["outcome"] == "approved"
    assert report["rules"]["gebuehr"] == report["changed"]

    # A stricter eligibility rule turns the three-copy case into a rejection, by that rule.
    stricter = live.replace("fields.anzahl <= 10", "fields.anzahl <= 2")
    strict = analyse(boss, stricter).json()
    change = next(c for c in strict["cases"] if c["case_id"] == three)
    assert (change["before"]["outcome"], change["after"]["outcome"]) == ("approved", "rejected")
    assert change["rules"][0] == "anzahl_zulaessig" and "gebuehr" in change["rules"]
    assert one not in {c["case_id"] for c in strict["cases"]}
    assert strict["transitions"]["approved → rejected"] >= 1


def test_an_invalid_draft_names_every_problem_with_its_line(platform: Platform) -> None:
    boss = console_api(platform, "supervisor-buergeramt")
    broken = definition(platform).replace("fields.anzahl >= 1", "fields.anzahl >= ")
    result = analyse(boss, broken)
    assert result.status_code == 422
    details = [d["message"] for d in result.json()["details"]]
    assert details and all(d.startswith("entwurf/service.yaml:") for d in details)
    assert any("rules[0].condition" in d for d in details)
    assert str(platform.settings.services_dir) not in result.text

    other_service = definition(platform).replace("id: beglaubigung", "id: bewohnerparken", 1)
    assert analyse(boss, other_service).status_code == 422
    assert analyse(boss, "").status_code == 422
    assert analyse(boss, "a: [").status_code == 422


def test_only_supervisors_of_the_owning_department(platform: Platform) -> None:
    text = definition(platform)
    assert analyse(console_api(platform, "clerk-buergeramt"), text).status_code == 403
    assert analyse(console_api(platform, "clerk-ordnungsamt"), text).status_code == 403
    assert analyse(console_api(platform, "erika"), text).status_code == 403
    boss = console_api(platform, "supervisor-buergeramt")
    foreign = boss.post(
        "/impact", json={"service": "bewohnerparken", "definition": text, "days": 30}
    )
    assert foreign.status_code == 404
    assert analyse(boss, text, days=0).status_code == 422
