"""Typed data is never certified or paid out as if a register had said it (issue 20, item 3):
a register down, a register without an entry, the console's "checked against the register"
tick. Through the whole platform, with the PDF read where a document is issued."""

from __future__ import annotations

import io
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from backend.cases.completion import issue_or_refer
from backend.console.work import rerun_automation
from backend.context import AppContext
from backend.db import unit_of_work
from backend.department.identity import ClerkIdentity
from backend.domain.case_state import CaseStatus
from backend.records.models import Case, CaseEvent, Document
from backend.rules.evaluate import decide
from tests.conftest import Platform
from tests.integration.casekit import context_for, own_database, submit_cases
from tests.integration.enginekit import engine, submit, wait_for_status
from tests.integration.portalkit import log_in, start
from tests.integration.test_console_isolation import Browser, console_api

FALSCHWEG = {
    "familienname": "Mustermann",
    "vornamen": "Erika",
    "geburtsdatum": "1964-08-12",
    "geburtsort": "Berlin",
    "strasse": "Falschweg",
    "hausnummer": "1",
    "plz": "51147",
    "ort": "Köln",
}
ELTERNGELD = {
    "nettoeinkommen": "2800",
    "ab_lebensmonat": 1,
    "anzahl_monate": 12,
    "betreuung_selbst": True,
    "selbststaendig": False,
    "iban": "DE02120300000000202051",
}


@pytest.fixture
def registries(platform: Platform) -> Iterator[str]:
    """The platform's sandbox registries, healthy again after the test (shared server)."""
    url = f"{platform.base_url}/sandbox/registries"
    httpx.delete(f"{url}/faults", timeout=10).raise_for_status()
    yield url
    httpx.delete(f"{url}/faults", timeout=10).raise_for_status()


def down(url: str, registry: str) -> None:
    httpx.put(f"{url}/{registry}/faults", json={"down": True}, timeout=10).raise_for_status()


def documents(platform: Platform, case_id: str) -> list[Document]:
    with Session(engine(platform)) as session:
        return list(session.exec(select(Document).where(Document.case_id == case_id)).all())


def machine_proposal(platform: Platform, case_id: str) -> str | None:
    """What the rules alone concluded; the citizen's API shows only the referral."""
    with Session(engine(platform)) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.decision is not None
        proposal: str | None = case.decision.get("proposed_outcome")
        return proposal


def pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def referral(case: dict[str, Any]) -> list[str]:
    reasons: list[str] = case["decision"]["referral_reasons"]
    return reasons


def test_erikas_typed_address_is_never_certified_even_by_a_clerk(
    platform: Platform, registries: str
) -> None:
    """Melderegister down, Erika types 'Falschweg 1': referred, no certificate; re-run while
    the register is still down refers again; no clerk can approve a certificate of register
    content on typed values (the re-read path is in test_register_provenance.py)."""
    citizen = platform.api("erika")
    down(registries, "melderegister")
    case_id = submit(citizen, "meldebescheinigung", answers=FALSCHWEG)
    case = wait_for_status(citizen, case_id, {"referred"})
    assert {"registry_failure", "unverified_register_fact"} <= set(referral(case))
    assert documents(platform, case_id) == []

    clerk = console_api(platform, "clerk-buergeramt")
    rerun = clerk.post(f"/cases/{case_id}/rerun", json={"reason": "Register wieder erreichbar?"})
    assert rerun.status_code == 200, rerun.text
    assert rerun.json()["status"] == "referred"
    case = citizen.get(f"/cases/{case_id}").json()
    assert {"registry_failure", "unverified_register_fact"} <= set(referral(case))
    assert documents(platform, case_id) == []
    # The old tick is gone: the API refuses it as an unknown field.
    ticked = clerk.post(
        f"/cases/{case_id}/rerun", json={"reason": "geprüft", "registry_checked": True}
    )
    assert ticked.status_code == 422

    reason = "Anschrift im Melderegister eingesehen und bestätigt."
    done = clerk.post(f"/cases/{case_id}/decision", json={"outcome": "approved", "reason": reason})
    assert done.status_code == 409, done.text
    assert documents(platform, case_id) == []
    rows = {v["field"]: v for v in clerk.get(f"/cases/{case_id}").json()["values"]}
    assert rows["strasse"]["origin"] == "citizen"
    assert rows["strasse"]["registry_failed"] is True
    page = Browser(platform, "clerk-buergeramt").get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    assert "Register nicht erreichbar" in unescape(page.text)


def test_a_typed_income_is_not_paid_out_automatically(
    platform: Platform, registries: str, tmp_path: Path
) -> None:
    """Einkommensregister down, Sophie types 2,800 EUR: referred, and a re-run (which finds
    the register still down) does not let the machine pay the typed income (it did: 'Quelle:
    Einkommensregister', 'automatisiert erlassen')."""
    citizen = platform.api("sophie")
    down(registries, "einkommensregister")
    case_id = submit(citizen, "elterngeld", answers=ELTERNGELD)
    case = wait_for_status(citizen, case_id, {"referred"})
    assert "unverified_register_fact" in referral(case)
    assert machine_proposal(platform, case_id) == "approved"  # it would have paid
    assert documents(platform, case_id) == []

    ctx = context_for(platform, platform.settings.database_url, tmp_path)
    try:
        clerk = ClerkIdentity("elterngeld-clerk", "Ella Geld", "elterngeldstelle", ("clerk",))
        again = rerun_automation(ctx, clerk, case_id, "Einkommensregister wieder da?")
    finally:
        ctx.close()
    assert again.status == "referred"
    case = citizen.get(f"/cases/{case_id}").json()
    assert "unverified_register_fact" in referral(case)
    assert documents(platform, case_id) == []


def test_a_person_the_register_does_not_know_gets_no_automated_dog_tax_notice(
    platform: Platform, registries: str
) -> None:
    """Tomasz is not in the Melderegister and types a Cologne address: no 'Sie wohnen in Köln'
    tax notice from the machine; a person checks."""
    citizen = platform.api("unbekannt")
    answers = {
        "familienname": "Nowak",
        "vornamen": "Tomasz",
        "strasse": "Domkloster",
        "hausnummer": "4",
        "plz": "50667",
        "ort": "Köln",
        "hundename": "Fiete",
        "rasse": "andere",
        "rasse_bezeichnung": "Pudel",
        "haltungsbeginn": "2026-01-10",
        "weitere_hunde": 0,
    }
    case_id = submit(citizen, "hundesteuer-anmeldung", answers=answers)
    case = wait_for_status(citizen, case_id, {"referred", "notified", "decided"})
    assert case["status"] == "referred"
    assert referral(case) == ["unverified_register_fact"]
    assert machine_proposal(platform, case_id) == "approved"  # "Sie wohnen in Köln"
    assert documents(platform, case_id) == []
    # The receipt does not promise a decision within a minute.
    portal = log_in(platform, "unbekannt")
    receipt = portal.get(f"/cases/{case_id}/receipt")
    assert receipt.status_code == 200
    text = " ".join(pdf_text(receipt.content).split())
    assert "Sachbearbeiter prüft Ihren Antrag" in text
    assert "innerhalb einer Minute" not in text


def test_the_portal_tells_who_types_a_register_fact_that_a_person_checks(
    platform: Platform,
) -> None:
    """Hundesteuer lists no held_data_missing trigger, yet Tomasz's typed address goes to a
    person: the held-data page says so instead of promising the machine."""
    citizen = log_in(platform, "unbekannt")
    application = start(citizen, "hundesteuer-anmeldung")
    page = citizen.get(f"/applications/{application}/held")
    assert page.status_code == 200
    text = " ".join(unescape(page.text).split())
    assert "Dann prüft eine Sachbearbeiterin oder ein Sachbearbeiter Ihren Antrag" in text


@pytest.fixture
def ctx(platform: Platform, database_url: str, tmp_path: Path) -> Iterator[AppContext]:
    with own_database(database_url, tmp_path, "registerfacts") as url:
        context = context_for(platform, url, tmp_path)
        yield context
        context.close()


def test_a_certificate_about_to_be_issued_on_a_typed_value_refers_the_case(
    ctx: AppContext,
) -> None:
    """The issue-time guard: a case decided 'approved' whose street is the citizen's (as if the
    definition changed after the decision) gets no certificate; it is referred, not failed."""
    (case_id,) = submit_cases(ctx, "meldebescheinigung", [{}])
    with unit_of_work(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        data = dict(case.data)
        data["origin"] = {**data["origin"], "strasse": "citizen"}
        data["provenance"] = {k: v for k, v in data["provenance"].items() if k != "strasse"}
        definition = ctx.catalogue.get(case.service)
        machine = decide(definition, dict(data["values"]), case.reference_date)
        assert machine.outcome == "approved"
        case.data, case.decision = data, machine.to_json()
        case.outcome, case.status = "approved", CaseStatus.PROCESSING
        session.add(case)
    assert issue_or_refer(ctx, case_id, automated=True) == []
    with Session(ctx.engine) as session:
        stored = session.get(Case, case_id)
        assert stored is not None and stored.status == CaseStatus.REFERRED
        assert session.exec(select(Document).where(Document.case_id == case_id)).all() == []
        referred = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.type == "referred")
        ).one()
    assert referred.payload["referral_reasons"] == ["unverified_register_fact"]
    assert "strasse" in (referred.reason or "")
