"""Every path to a decision ends the same way: notice with reasons, register entry (read back
over the sandbox register's HTTP API), and the citizen's notification. A changed decision
cancels the entry; a counter submission is the clerk's, with the values typed for the citizen.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlmodel import Session, col, select

from backend.cases import review
from backend.cases.completion import complete_now
from backend.columns import utcnow
from backend.console import decisions, work
from backend.console.counter_identity import idnr_check_digit
from backend.console.models import QaReview
from backend.context import AppContext, build_context
from backend.db import unit_of_work
from backend.department.automation import set_paused
from backend.department.identity import ClerkIdentity
from backend.documents.render import local_date
from backend.domain.case_state import CaseStatus
from backend.domain.provenance import TYPED_AT_COUNTER_KEY, value_sources
from backend.notices.models import IssuedNotice
from backend.notices.verify import by_token
from backend.notifications.models import MailboxMessage
from backend.records.models import Case, CaseEvent, CaseTask, Document, Incident
from backend.rules.evaluate import decide
from sandbox.personas import persona_by_id
from tests.conftest import Platform
from tests.integration.casekit import (
    context_for,
    decide_in_place,
    identity,
    own_database,
    submit_cases,
)
from tests.integration.enginekit import (
    OBJECTION_SERVICE,
    engine,
    messages_of,
    submit,
    wait_for_status,
)
from tests.integration.test_console_isolation import console_api
from tests.integration.test_console_kpis_http import ClerkBrowser

SERVICE = "hundesteuer-anmeldung"
REGISTER = "hundesteuerregister/v1"
DOG = {
    "hundename": "Bello",
    "rasse": "mischling",
    "rasse_bezeichnung": "Labrador-Mischling",
    "haltungsbeginn": "2026-01-10",
    "weitere_hunde": 0,
}
DISPUTE = {"strasse": "Ich bin letzte Woche umgezogen."}
CLERK = ClerkIdentity("steuer-clerk-completion", "Sina Steuer", "steueramt", ("clerk",))
SUPERVISOR = ClerkIdentity(
    "steuer-lead-completion", "Paul Prüfer", "steueramt", ("clerk", "supervisor")
)


@pytest.fixture
def ctx(platform: Platform) -> AppContext:
    return build_context(platform.settings)


def entries(platform: Platform, case_id: str) -> list[dict[str, Any]]:
    """What the Hundesteuerregister holds for the case, read over its own HTTP API."""
    response = httpx.get(
        f"{platform.settings.registry_base_url}/{REGISTER}/_eintraege",
        params={"case_id": case_id},
    )
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["eintraege"]
    return found


def standing(platform: Platform, case_id: str) -> list[dict[str, Any]]:
    return [e for e in entries(platform, case_id) if e["aufgehoben_am"] is None]


def notice_texts(platform: Platform, case_id: str) -> dict[str, str]:
    """Definition id → PDF text of every document of the case."""
    with Session(engine(platform)) as session:
        docs = session.exec(select(Document).where(Document.case_id == case_id)).all()
        return {
            d.definition_id: " ".join(
                (p.extract_text() or "") for p in PdfReader(io.BytesIO(d.content)).pages
            )
            for d in docs
        }


def log(platform: Platform, case_id: str) -> list[CaseEvent]:
    with Session(engine(platform)) as session:
        return list(
            session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
            ).all()
        )


def clerk_decides(ctx: AppContext, case_id: str, outcome: str, reason: str) -> str:
    """Decide as the clerk; an overturn of the machine is confirmed by the supervisor."""
    result = decisions.decide_case(ctx, CLERK, case_id, outcome, reason)
    if result.pending_id is not None:
        result = decisions.confirm_pending(ctx, SUPERVISOR, case_id, True, "Geprüft: " + reason)
    return result.status


def notified_message(api: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    return [m for m in messages_of(api, case_id) if m["kind"] == "decision"]


def test_automatic_approval_enters_the_dog_with_provenance(platform: Platform) -> None:
    api = platform.api("erika")
    case_id = submit(api, SERVICE, answers=DOG)
    wait_for_status(api, case_id, {"notified"})
    [entry] = standing(platform, case_id)
    assert entry["eintrag"]["hundename"] == "Bello"
    # Halter and address from the Melderegister, the dog as the citizen stated it.
    assert entry["herkunft"]["halter"] == "register:melderegister"
    assert entry["herkunft"]["hundename"] == "citizen"
    assert entry["herkunft"]["jahressteuer"] == "decision"
    text = notice_texts(platform, case_id)["bescheid"]
    assert "Bello" in text and "156,00" in text
    assert notified_message(api, case_id)


def test_a_clerk_approval_enters_the_dog_before_the_notice_says_so(
    platform: Platform, ctx: AppContext
) -> None:
    api = platform.api("jonas")
    case_id = submit(api, SERVICE, answers=DOG, disputes=DISPUTE)
    wait_for_status(api, case_id, {"referred"})
    assert entries(platform, case_id) == []

    reason = "Neue Anschrift telefonisch bestätigt; der Hund ist in Köln zu versteuern."
    assert clerk_decides(ctx, case_id, "approved", reason) == "notified"
    [entry] = standing(platform, case_id)
    assert entry["eintrag"]["hundename"] == "Bello"
    # The register is told that a person confirmed the typed values (the clerk's decision).
    assert entry["herkunft"]["hundename"] == f"clerk:clerk:{CLERK.sub}"
    assert reason in notice_texts(platform, case_id)["bescheid"]
    written = [e for e in log(platform, case_id) if e.type == "registry_written"]
    decided = [e for e in log(platform, case_id) if e.type == "case_decided"]
    assert len(written) == 1 and written[0].seq < decided[0].seq
    assert notified_message(api, case_id)


def test_a_clerk_rejection_enters_nothing_and_issues_the_rejection(
    platform: Platform, ctx: AppContext
) -> None:
    api = platform.api("katrin")
    case_id = submit(api, SERVICE, answers=DOG, disputes=DISPUTE)
    wait_for_status(api, case_id, {"referred"})
    reason = "Der Hund wird nicht in Köln gehalten; die Stadt Köln ist nicht zuständig."
    assert clerk_decides(ctx, case_id, "rejected", reason) == "notified"
    assert entries(platform, case_id) == []
    text = notice_texts(platform, case_id)["bescheid"]
    assert reason in text
    assert notified_message(api, case_id)


def test_a_rerun_completes_like_the_worker(platform: Platform, ctx: AppContext) -> None:
    set_paused(ctx, SUPERVISOR, SERVICE, paused=True, reason="Satzungsänderung wird geprüft")
    try:
        api = platform.api("petra")
        case_id = submit(api, SERVICE, answers={**DOG, "hundename": "Kira"})
        wait_for_status(api, case_id, {"referred"})
    finally:
        set_paused(ctx, SUPERVISOR, SERVICE, paused=False, reason="Satzung geprüft")
    assert entries(platform, case_id) == []
    result = work.rerun_automation(ctx, CLERK, case_id, "Automatisierung wieder aktiv")
    assert result.status == "notified"
    [entry] = standing(platform, case_id)
    assert entry["eintrag"]["hundename"] == "Kira"
    assert "Kira" in notice_texts(platform, case_id)["bescheid"]
    assert notified_message(api, case_id)
    # Running the completion again changes nothing: one entry, one notice.
    assert complete_now(ctx, case_id) == "notified"
    assert len(entries(platform, case_id)) == 1


def test_review_overturn_cancels_the_entry_and_revokes_the_notice(
    platform: Platform, ctx: AppContext
) -> None:
    api = platform.api("erika")
    case_id = submit(api, SERVICE, answers={**DOG, "hundename": "Rex"})
    wait_for_status(api, case_id, {"notified"})
    [first] = standing(platform, case_id)
    assert (
        api.post(
            f"/cases/{case_id}/review", json={"statement": "Rex lebt bei mir nicht"}
        ).status_code
        == 201
    )

    reason = "Der Hund lebt nicht im Haushalt; die Steuerpflicht besteht nicht."
    assert clerk_decides(ctx, case_id, "rejected", reason) == "notified"
    [cancelled] = entries(platform, case_id)
    assert cancelled["record_id"] == first["record_id"]
    assert cancelled["aufgehoben_am"] is not None and reason in cancelled["aufhebung_grund"]
    texts = notice_texts(platform, case_id)
    assert reason in texts["bescheid-r1"]
    with Session(engine(platform)) as session:
        issued = session.exec(select(IssuedNotice).where(IssuedNotice.case_id == case_id)).all()
    verdicts = sorted(by_token(ctx, n.token).verdict for n in issued if n.kind != "receipt")
    assert verdicts == ["genuine", "revoked"]
    # The new notice says what it replaces; /verify names the replacement of the old one.
    [old] = [n for n in issued if n.kind != "receipt" and n.revoked_at is not None]
    [new] = [n for n in issued if n.kind != "receipt" and n.revoked_at is None]
    words = " ".join(texts["bescheid-r1"].split())
    assert f"Dieser Bescheid ersetzt „{old.title}“ vom {old.issued_on:%d.%m.%Y}" in words, words
    assert "ersetzt" not in " ".join(texts["bescheid"].split())
    shown = by_token(ctx, old.token).document
    assert shown is not None and shown.replaced_by is not None
    assert (shown.replaced_by.title, shown.replaced_by.issued_on) == (new.title, new.issued_on)
    assert shown.revoked_on == local_date(old.revoked_at)  # type: ignore[arg-type]
    assert by_token(ctx, new.token).document.replaced_by is None  # type: ignore[union-attr]
    page = httpx.get(f"{platform.base_url}/verify", params={"t": old.token}, timeout=30).text
    assert "Zurückgenommen" in page and f"Ersetzt durch: {new.title} vom" in unescape(page)
    # The receipt of the review request stays genuine: it proves what was lodged and when.
    receipts = [n.token for n in issued if n.kind == "receipt"]
    assert receipts and all(by_token(ctx, t).verdict == "genuine" for t in receipts)
    assert len(notified_message(api, case_id)) == 2


@pytest.fixture
def own(platform: Platform, database_url: str, tmp_path: Path) -> Iterator[AppContext]:
    """Our own database (no worker races us) and the Hundesteuer definition as a Land with a
    Vorverfahren would run it, so an objection can be lodged in the portal."""
    services = tmp_path / "services"
    shutil.copytree(platform.settings.services_dir, services)
    definition = services / SERVICE / "service.yaml"
    text = definition.read_text(encoding="utf-8")
    klage = 'regime: vwgo_klage\n  legal_basis: "§ 110 Abs. 1 JustG NRW"'
    assert klage in text
    definition.write_text(text.replace(klage, "regime: vwgo_vorverfahren"), encoding="utf-8")
    with own_database(database_url, tmp_path, "completion") as url:
        context = context_for(platform, url, tmp_path, services_dir=services)
        yield context
        context.close()


def machine_completes(ctx: AppContext, persona: str, answers: dict[str, Any]) -> str:
    """Submitted, decided by the rules and completed as the worker completes it."""
    [case_id] = submit_cases(ctx, SERVICE, [answers], who=identity(persona))
    assert decide_in_place(ctx, case_id) == "approved"
    assert complete_now(ctx, case_id) == "notified"
    return case_id


def own_log(ctx: AppContext, case_id: str) -> list[CaseEvent]:
    with Session(ctx.engine) as session:
        return list(
            session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
            ).all()
        )


def own_texts(ctx: AppContext, case_id: str) -> dict[str, str]:
    with Session(ctx.engine) as session:
        docs = session.exec(select(Document).where(Document.case_id == case_id)).all()
        return {
            d.definition_id: " ".join(
                (p.extract_text() or "") for p in PdfReader(io.BytesIO(d.content)).pages
            )
            for d in docs
        }


def own_messages(ctx: AppContext, case_id: str) -> list[MailboxMessage]:
    with Session(ctx.engine) as session:
        return list(
            session.exec(select(MailboxMessage).where(MailboxMessage.case_id == case_id)).all()
        )


def test_objection_remedied_corrects_the_register_both_ways(
    platform: Platform, own: AppContext
) -> None:
    """approved by the machine → review overturned (rejected): the entry is cancelled;
    → objection remedied (approved): the dog is entered anew under a key of its own, and the
    cancelled entry is not revived."""
    case_id = machine_completes(own, "jonas", {**DOG, "hundename": "Luna"})
    [first] = standing(platform, case_id)
    citizen = identity("jonas")

    review.request_review(own, citizen, case_id, "Luna lebt seit Januar bei meiner Mutter.")
    reason = "Luna wird nicht im Haushalt gehalten; die Steuerpflicht entfällt."
    assert clerk_decides(own, case_id, "rejected", reason) == "notified"
    assert standing(platform, case_id) == []
    [cancelled] = entries(platform, case_id)
    assert cancelled["record_id"] == first["record_id"] and reason in cancelled["aufhebung_grund"]
    assert reason in own_texts(own, case_id)["bescheid-r1"]
    assert [e.type for e in own_log(own, case_id)].count("registry_cancelled") == 1

    review.lodge_objection(own, citizen, case_id, "Luna ist seit Februar wieder bei mir.")
    back = "Luna lebt wieder im Haushalt; die Steuerpflicht besteht."
    result = decisions.decide_objection(own, CLERK, case_id, "remedy", back, "approved")
    if result.pending_id is not None:
        result = decisions.confirm_pending(own, SUPERVISOR, case_id, True, "Geprüft")
    assert result.status == "notified"
    all_entries = entries(platform, case_id)
    assert len(all_entries) == 2
    [live] = [e for e in all_entries if e["aufgehoben_am"] is None]
    assert live["record_id"] != first["record_id"] and live["idempotency_key"].endswith(":r2")
    assert back in own_texts(own, case_id)["bescheid-r2"]
    # The remedy's notice replaces the review's (r1), not the machine's first one, which the
    # review had already replaced.
    with Session(own.engine) as session:
        r1 = session.exec(
            select(IssuedNotice)
            .join(Document, col(Document.id) == col(IssuedNotice.document_id))
            .where(Document.case_id == case_id, Document.definition_id == "bescheid-r1")
        ).one()
    words = " ".join(own_texts(own, case_id)["bescheid-r2"].split())
    assert f"ersetzt „{r1.title}“ vom {r1.issued_on:%d.%m.%Y}." in words, words
    notified = [m for m in own_messages(own, case_id) if m.kind == "decision"]
    assert len(notified) == 3
    with Session(own.engine) as session:
        tasks = session.exec(select(CaseTask).where(CaseTask.case_id == case_id)).all()
        assert {t.kind: t.status for t in tasks} == {
            "human_review": "done",
            "objection": "remedied",
        }


def test_a_qa_overturn_completes_through_the_same_path(platform: Platform, own: AppContext) -> None:
    [case_id] = submit_cases(own, SERVICE, [{**DOG, "hundename": "Sam"}], who=identity("erika"))
    with unit_of_work(own.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        machine = decide(own.catalogue.get(SERVICE), dict(case.data["values"]), case.reference_date)
        assert machine.outcome == "approved"
        case.decision = machine.refer("qa_sample").to_json()
        case.outcome, case.status = "referred", CaseStatus.REFERRED
        session.add(case)
    reason = "Stichprobe: Sam ist ein Assistenzhund; nach § 3 Hundesteuersatzung steuerfrei."
    result = decisions.decide_case(own, CLERK, case_id, "rejected", reason)
    assert result.pending_id is not None  # overturning the machine needs a second person
    result = decisions.confirm_pending(own, SUPERVISOR, case_id, True, "Nachweis gesehen")
    assert result.status == "notified"
    assert entries(platform, case_id) == []
    assert reason in own_texts(own, case_id)["bescheid"]
    assert [m for m in own_messages(own, case_id) if m.kind == "decision"]
    with Session(own.engine) as session:
        [finding] = session.exec(select(QaReview).where(QaReview.case_id == case_id)).all()
        assert finding.overturned


def test_a_failing_register_stops_the_clerks_notice_and_raises_an_incident(
    platform: Platform, own: AppContext
) -> None:
    [case_id] = submit_cases(own, SERVICE, [{**DOG, "hundename": "Bruno"}], who=identity("erika"))
    with unit_of_work(own.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        machine = decide(own.catalogue.get(SERVICE), dict(case.data["values"]), case.reference_date)
        case.decision = machine.refer("disputed_data").to_json()
        case.outcome, case.status = "referred", CaseStatus.REFERRED
        session.add(case)
    url = f"{platform.settings.registry_base_url}/{REGISTER}/_stoerung"
    httpx.put(url, json={"fehlschlagen": 1000}).raise_for_status()
    try:
        status = clerk_decides(own, case_id, "approved", "Anschrift telefonisch bestätigt.")
    finally:
        httpx.put(url, json={}).raise_for_status()
    assert status == "referred"
    assert own_texts(own, case_id) == {}, "no notice claims an entry the register lacks"
    with Session(own.engine) as session:
        [incident] = session.exec(select(Incident).where(Incident.case_id == case_id)).all()
        assert incident.stage == "writeback" and incident.workflow == "complete"
    # Once the register is back, the same completion finishes the clerk's decision.
    assert complete_now(own, case_id) == "notified"
    assert len(standing(platform, case_id)) == 1
    assert "Anschrift telefonisch bestätigt." in own_texts(own, case_id)["bescheid"]


def test_a_counter_submission_is_the_clerks_with_values_typed_for_the_citizen(
    platform: Platform,
) -> None:
    """The walk-in is unknown to the Melderegister: the clerk types every value, and the log
    and the values' provenance say so (not "the citizen submitted", not "stated by")."""
    tomasz = persona_by_id("unbekannt")
    clerk_persona = persona_by_id("clerk-buergeramt")
    assert tomasz is not None and tomasz.idnr is not None and tomasz.birthdate is not None
    assert clerk_persona is not None
    idnr = tomasz.idnr[:10] + str(idnr_check_digit(tomasz.idnr[:10]))
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    started = clerk.post(
        "/console/assisted",
        {
            "service": "meldebescheinigung",
            "idnr": idnr,
            "family_name": tomasz.family_name,
            "given_names": tomasz.given_name,
            "birthdate": tomasz.birthdate.strftime("%d.%m.%Y"),
            "document_kind": "reisepass",
            "document_number": "C4J8R2XT2",
            "document_authority": "Urząd Wojewódzki Kraków",
        },
    )
    assert started.status_code == 303, started.text
    app_id = started.headers["location"].rsplit("/", 1)[-1]
    typed = {
        "answer__familienname": tomasz.family_name,
        "answer__vornamen": tomasz.given_name,
        "answer__geburtsdatum": tomasz.birthdate.strftime("%d.%m.%Y"),
        "answer__geburtsort": "Kraków",
        "answer__strasse": "Domstraße",
        "answer__hausnummer": "4",
        "answer__plz": "50668",
        "answer__ort": "Köln",
    }
    sent = clerk.post(f"/console/assisted/{app_id}", typed)
    assert sent.status_code == 303, sent.text
    label = f"clerk:{clerk_persona.sub}"
    with Session(engine(platform)) as session:
        case = session.exec(select(Case).where(Case.application_id == app_id)).one()
        submitted = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.type == "submitted")
        ).one()
        data = dict(case.data)
    assert submitted.actor == label, "the clerk submitted, on the citizen's behalf"
    assert submitted.payload["on_behalf_of"] == "citizen"
    assert submitted.payload["channel"] == "counter"
    source = value_sources(data)["strasse"]
    assert source.kind == "citizen" and source.typed_by == label and not source.confirmed
    assert source.sentence("de") == "Ihre Angabe, am Schalter von der Behörde für Sie erfasst"
    assert source.sentence("en").startswith("Your statement, entered for you by the authority")
    assert set(data[TYPED_AT_COUNTER_KEY]) == {f.removeprefix("answer__") for f in typed}


def _verdicts(ctx: AppContext, case_id: str) -> dict[str, str]:
    """Document title → /verify verdict of its signed token (notices and certificates; the
    receipts of the citizen's requests stay genuine whatever is decided)."""
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(IssuedNotice).where(
                IssuedNotice.case_id == case_id, IssuedNotice.kind != "receipt"
            )
        ).all()
        tokens = {(n.document_id, n.title): n.token for n in rows}
    return {
        f"{title}#{doc}": by_token(ctx, token).verdict for (doc, title), token in tokens.items()
    }


def _hearing(ctx: AppContext, case_id: str) -> CaseTask | None:
    with Session(ctx.engine) as session:
        return session.exec(
            select(CaseTask).where(CaseTask.case_id == case_id, CaseTask.kind == "hearing")
        ).first()


def test_withdrawing_a_favourable_notice_hears_the_citizen_first(
    platform: Platform, ctx: AppContext
) -> None:
    """§§ 28, 49 VwVfG: first the hearing letter with a period, then the Widerruf notice with
    reasons and remedy; the old notice is revoked at /verify, the new one genuine."""
    api = platform.api("jonas")
    case_id = submit(api, OBJECTION_SERVICE)
    wait_for_status(api, case_id, {"notified"})
    assert api.post(f"/cases/{case_id}/review", json={"statement": "bitte"}).status_code == 201
    clerk = console_api(platform, "clerk-buergeramt")
    reason = "Der Wohnsitz wurde zum 1. November aufgegeben; die Voraussetzungen entfielen."
    url = f"/cases/{case_id}/decision"

    no_basis = clerk.post(url, json={"outcome": "rejected", "reason": reason})
    assert no_basis.status_code == 422, no_basis.text
    assert no_basis.json()["details"][0]["field"] == "withdrawal"
    assert _hearing(ctx, case_id) is None, "a refused decision changes nothing"

    first = clerk.post(
        url, json={"outcome": "rejected", "reason": reason, "withdrawal": "widerruf"}
    )
    assert first.status_code == 200, first.text
    until = first.json()["hearing_until"]
    assert first.json()["status"] == "in_review" and until
    letters = [m for m in messages_of(api, case_id) if m["kind"] == "hearing"]
    assert len(letters) == 1 and "§ 49 VwVfG" in letters[0]["body"]["de"]
    assert reason in letters[0]["body"]["de"] and "§ 28(1) VwVfG" in letters[0]["body"]["en"]
    hearing = _hearing(ctx, case_id)
    assert hearing is not None and hearing.due_on is not None
    assert hearing.due_on.isoformat() == until and hearing.status == "open"
    # The mailbox announces no notice while the citizen is being heard.
    assert len([m for m in messages_of(api, case_id) if m["kind"] == "decision"]) == 1

    early = clerk.post(
        url, json={"outcome": "rejected", "reason": reason, "withdrawal": "widerruf"}
    )
    assert early.status_code == 409 and "Anhörungsfrist" in early.json()["message"]

    with unit_of_work(ctx.engine) as session:  # the two weeks have passed
        task = session.get(CaseTask, hearing.id)
        assert task is not None
        task.due_on = local_date(utcnow()) - timedelta(days=1)
        session.add(task)
    done = clerk.post(url, json={"outcome": "rejected", "reason": reason, "withdrawal": "widerruf"})
    assert done.status_code == 200 and done.json()["status"] == "notified", done.text
    text = " ".join(notice_texts(platform, case_id)["widerruf-r1"].split())
    assert "widerrufen" in text and "§ 49 VwVfG" in text and reason in text
    assert "§ 28 Abs. 1 VwVfG" in text and "Widerspruch" in text  # heard; the remedy
    verdicts = _verdicts(ctx, case_id)
    assert sorted(verdicts.values()) == ["genuine", "revoked"]
    assert [v for k, v in verdicts.items() if k.startswith("Bescheid über den Widerruf")] == [
        "genuine"
    ]
    documents = api.get(f"/cases/{case_id}").json()["documents"]
    assert "Bescheid über den Widerruf" in [d["title"] for d in documents]
    assert len([m for m in messages_of(api, case_id) if m["kind"] == "decision"]) == 2


def test_a_dispensed_hearing_is_recorded_with_its_reason(
    platform: Platform, ctx: AppContext
) -> None:
    api = platform.api("petra")
    case_id = submit(api, OBJECTION_SERVICE)
    wait_for_status(api, case_id, {"notified"})
    assert api.post(f"/cases/{case_id}/objection", json={"statement": "x"}).status_code == 201
    clerk = console_api(platform, "clerk-buergeramt")
    why = "Gefahr im Verzug: die Bescheinigung wird für einen Betrug verwendet."
    done = clerk.post(
        f"/cases/{case_id}/objection",
        json={
            "action": "remedy",
            "outcome": "rejected",
            "reason": "Der Bescheid beruhte auf falschen Angaben.",
            "withdrawal": "ruecknahme",
            "hearing_dispensable": why,
        },
    )
    assert done.status_code == 200 and done.json()["status"] == "notified", done.text
    assert _hearing(ctx, case_id) is None
    text = " ".join(notice_texts(platform, case_id)["ruecknahme-r1"].split())
    assert "zurückgenommen" in text and "§ 48 VwVfG" in text
    assert "§ 28 Abs. 2 VwVfG" in text and why in text
    dispensed = [e for e in log(platform, case_id) if e.type == "hearing_dispensed"]
    assert len(dispensed) == 1 and dispensed[0].reason == why


def test_a_certificate_taken_back_gets_a_written_cancellation(
    platform: Platform, ctx: AppContext
) -> None:
    """A Meldebescheinigung is no administrative act: no hearing, no §§ 48/49, but a written
    cancellation, listed with the case's documents; the certificate shows as revoked."""
    api = platform.api("erika")
    case_id = submit(api, "meldebescheinigung")
    wait_for_status(api, case_id, {"notified"})
    assert api.post(f"/cases/{case_id}/review", json={"statement": "alt"}).status_code == 201
    clerk = console_api(platform, "clerk-buergeramt")
    supervisor = console_api(platform, "supervisor-buergeramt")
    reason = "Die Person ist seit dem 1. Oktober nach Bonn verzogen."
    proposed = clerk.post(
        f"/cases/{case_id}/decision", json={"outcome": "rejected", "reason": reason}
    )
    assert proposed.status_code == 200 and proposed.json()["pending_id"], proposed.text
    confirmed = supervisor.post(
        f"/cases/{case_id}/pending", json={"confirm": True, "reason": "Zutreffend."}
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "notified"
    text = " ".join(notice_texts(platform, case_id)["aufhebung-r1"].split())
    assert (
        "wird aufgehoben" in text and reason in text and "VwVfG" not in text.split("Begründung")[0]
    )
    titles = [d["title"] for d in api.get(f"/cases/{case_id}").json()["documents"]]
    assert "Mitteilung über die Aufhebung der Bescheinigung" in titles
    verdicts = _verdicts(ctx, case_id)
    assert [v for k, v in verdicts.items() if k.startswith("Meldebescheinigung")] == ["revoked"]
    assert [v for k, v in verdicts.items() if k.startswith("Mitteilung")] == ["genuine"]


def test_the_console_form_starts_the_hearing(platform: Platform, ctx: AppContext) -> None:
    api = platform.api("lukas")
    case_id = submit(api, OBJECTION_SERVICE)
    wait_for_status(api, case_id, {"notified"})
    assert api.post(f"/cases/{case_id}/review", json={"statement": "bitte"}).status_code == 201
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    page = clerk.get(f"/console/cases/{case_id}")
    assert page.status_code == 200 and 'name="withdrawal"' in page.text
    assert 'name="hearing_dispensable"' in page.text
    sent = clerk.post(
        f"/console/cases/{case_id}/decide",
        {
            "outcome": "rejected",
            "reason": "Die Anschrift besteht nicht mehr.",
            "withdrawal": "widerruf",
        },
    )
    assert sent.status_code == 303, sent.text
    shown = clerk.get(sent.headers["location"])
    assert "Das Anhörungsschreiben ist versandt" in unescape(shown.text)
    hearing = _hearing(ctx, case_id)
    assert hearing is not None and hearing.status == "open"
    clerk.client.cookies.set("kd_lang", "en")
    english = clerk.get(f"/console/cases/{case_id}")
    assert "Withdraw or revoke an approval" in english.text


def test_the_register_cancels_an_entry_once_and_refuses_what_it_cannot(
    platform: Platform,
) -> None:
    """The sandbox register's DELETE: purpose-bound, idempotent by key, and it keeps history."""
    base = f"{platform.settings.registry_base_url}/{REGISTER}/hunde"
    purpose = {
        "X-Purpose": "Test",
        "X-Legal-Basis": "Test",
        "X-Service": SERVICE,
        "X-Actor": "system",
        "X-Case-Id": "case-cancel-test",
    }
    record = {
        "halter": "Erika Mustermann",
        "anschrift": "Heidestraße 17, 51147 Köln",
        "hundename": "Fips",
        "rasse": "Dackel",
        "anmeldedatum": "2026-01-10",
        "jahressteuer": 156,
        "aktenzeichen": "KD-TEST",
    }
    written = httpx.post(base, json=record, headers={**purpose, "Idempotency-Key": "w-1"})
    assert written.status_code == 201, written.text
    record_id = written.json()["record_id"]
    cancel = {**purpose, "Idempotency-Key": "w-1:cancel", "X-Aufhebungsgrund": "Test"}

    missing = httpx.delete(f"{base}/{record_id}", headers={**purpose, "Idempotency-Key": "k"})
    assert missing.status_code == 400 and "X-Aufhebungsgrund" in missing.text
    other_case = httpx.delete(f"{base}/{record_id}", headers={**cancel, "X-Case-Id": "other"})
    assert other_case.status_code == 404, "a case cancels only its own entries"
    assert httpx.delete(f"{base}/HSM-0000-999999", headers=cancel).status_code == 404
    assert entries(platform, "case-cancel-test")[0]["aufgehoben_am"] is None

    first = httpx.delete(f"{base}/{record_id}", headers=cancel)
    assert first.status_code == 200 and first.json()["duplicate"] is False
    again = httpx.delete(f"{base}/{record_id}", headers=cancel)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    clash = httpx.delete(f"{base}/{record_id}", headers={**cancel, "Idempotency-Key": "x"})
    assert clash.status_code == 409
    [kept] = entries(platform, "case-cancel-test")
    assert kept["aufgehoben_am"] == first.json()["aufgehoben_am"]
    assert kept["aufhebung_grund"] == "Test"
