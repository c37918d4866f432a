"""Write-back against the sandbox registers over real HTTP: once per case, retried, referred."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from backend.cases.writeback import WritebackOutcome, perform_writebacks, writeback_key
from backend.context import AppContext
from backend.records.models import Case, CaseEvent
from tests.conftest import Platform
from tests.integration.casekit import context_for, decide_in_place, own_database, submit_cases

DOG = {"hundename": "Bello", "rasse": "Labrador"}
PARKING = {"kennzeichen": "K-EM 1964"}


@pytest.fixture
def ctx(platform: Platform, database_url: str, tmp_path: Path) -> Iterator[AppContext]:
    with own_database(database_url, tmp_path, "writeback") as url:
        context = context_for(
            platform, url, tmp_path, registry_write_attempts=3, registry_write_backoff_s=0.3
        )
        yield context
        context.close()


def _register(platform: Platform, path: str) -> str:
    return f"{platform.settings.registry_base_url}/{path}"


def _entries(platform: Platform, register: str, case_id: str) -> dict[str, Any]:
    response = httpx.get(_register(platform, f"{register}/_eintraege"), params={"case_id": case_id})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def outage(platform: Platform) -> Iterator[Any]:
    """Switch an outage on for a register; always switched off again afterwards."""
    used: list[str] = []

    def switch(register: str, **stoerung: int) -> None:
        used.append(register)
        httpx.put(_register(platform, f"{register}/_stoerung"), json=stoerung).raise_for_status()

    yield switch
    for register in used:
        httpx.put(_register(platform, f"{register}/_stoerung"), json={}).raise_for_status()


def _events(ctx: AppContext, case_id: str) -> list[CaseEvent]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id)).all())


def _case(ctx: AppContext, case_id: str) -> Case:
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def test_an_approved_permit_is_entered_once_however_often_it_runs(
    platform: Platform, ctx: AppContext
) -> None:
    [case_id] = submit_cases(ctx, "bewohnerparken", [PARKING])
    assert decide_in_place(ctx, case_id) == "approved"

    [outcome] = perform_writebacks(ctx, case_id)
    assert outcome.status == "written" and outcome.attempts == 1
    assert outcome.record_id is not None and outcome.record_id.startswith("BPA-")
    again = perform_writebacks(ctx, case_id)
    assert again == [WritebackOutcome(0, "parkausweisregister", "duplicate", outcome.record_id)]

    [entry] = _entries(platform, "parkausweisregister/v1", case_id)["eintraege"]
    case = _case(ctx, case_id)
    assert entry["idempotency_key"] == writeback_key(case_id, 0)
    assert entry["legal_basis"] == "§ 45 Abs. 1b Satz 1 Nr. 2a StVO"
    assert entry["eintrag"] == {
        "kennzeichen": "K-EM 1964",
        "bewohnerparkzone": "P-51147",
        "inhaber": "Erika Mustermann",
        "anschrift": "Heidestraße 17, 51147 Köln",
        "gueltig_ab": case.reference_date.isoformat(),
        "laufzeit_monate": 12,
        "aktenzeichen": case.reference,
    }
    written = [e for e in _events(ctx, case_id) if e.type == "registry_written"]
    assert [e.payload["record_id"] for e in written] == [outcome.record_id]
    assert case.status == "processing" and case.waiting_for is None


def test_a_lost_answer_is_retried_and_the_register_keeps_one_entry(
    platform: Platform, ctx: AppContext, outage: Any
) -> None:
    [case_id] = submit_cases(ctx, "hundeanmeldung", [DOG])
    assert decide_in_place(ctx, case_id) == "approved"
    before = _entries(platform, "hundesteuerregister/v1", case_id)["anfragen"]
    outage("hundesteuerregister/v1", antwort_verlieren=1)

    [outcome] = perform_writebacks(ctx, case_id)

    # Stored on the first attempt, answer lost; the retry learns it is already there.
    assert outcome.status == "duplicate" and outcome.attempts == 2
    register = _entries(platform, "hundesteuerregister/v1", case_id)
    assert register["anfragen"] - before == 2
    [entry] = register["eintraege"]
    assert entry["record_id"] == outcome.record_id
    assert entry["eintrag"]["jahressteuer"] == "156.00"
    assert [e.type for e in _events(ctx, case_id)].count("registry_written") == 1


def test_a_register_that_stays_down_is_retried_with_backoff_then_the_case_is_referred(
    platform: Platform, ctx: AppContext, outage: Any
) -> None:
    [case_id] = submit_cases(ctx, "hundeanmeldung", [DOG])
    decide_in_place(ctx, case_id)
    outage("hundesteuerregister/v1", fehlschlagen=1000)
    seen_waiting: list[str] = []
    result: list[list[WritebackOutcome]] = []
    worker = threading.Thread(target=lambda: result.append(perform_writebacks(ctx, case_id)))
    started = time.monotonic()
    worker.start()
    while worker.is_alive():
        waiting = _case(ctx, case_id).waiting_for
        if waiting and waiting not in seen_waiting:
            seen_waiting.append(waiting)
        time.sleep(0.02)
    elapsed = time.monotonic() - started

    [[outcome]] = result
    assert outcome.status == "failed" and outcome.attempts == 3
    assert outcome.reason == "register error (HTTP 503)"
    # While it waited between attempts, the case said so.
    assert any(
        w.startswith("Eintrag im Hundesteuerregister (Versuch 2 von 3") for w in seen_waiting
    )
    assert elapsed >= 0.3 + 0.6, "the backoff (0.3 s, then 0.6 s) was not waited"
    case = _case(ctx, case_id)
    assert case.status == "referred"
    assert case.waiting_for == (
        "Sachbearbeitung: Eintrag im Hundesteuerregister fehlgeschlagen (register error (HTTP 503))"
    )
    [referred] = [e for e in _events(ctx, case_id) if e.type == "referred"]
    assert referred.payload["referral_reasons"] == ["registry_failure"]
    assert referred.reason == "Hundesteuerregister: register error (HTTP 503)"
    assert _entries(platform, "hundesteuerregister/v1", case_id)["eintraege"] == []


def test_an_entry_the_register_refuses_is_referred_at_once(
    platform: Platform, ctx: AppContext
) -> None:
    [case_id] = submit_cases(ctx, "bewohnerparken", [{"kennzeichen": "KEM1964"}])
    decide_in_place(ctx, case_id)

    [outcome] = perform_writebacks(ctx, case_id)

    assert outcome.status == "failed" and outcome.attempts == 1
    assert outcome.reason == "register refused the entry (HTTP 422: eintrag_ungueltig)"
    assert _case(ctx, case_id).status == "referred"


def test_nothing_is_written_for_an_outcome_without_writeback(
    platform: Platform, ctx: AppContext
) -> None:
    [case_id] = submit_cases(ctx, "hundeanmeldung", [DOG])
    decide_in_place(ctx, case_id)
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.outcome = "rejected"
        session.add(case)
        session.commit()

    assert perform_writebacks(ctx, case_id) == []
    assert _entries(platform, "hundesteuerregister/v1", case_id)["eintraege"] == []
