"""Provenance through to the document (issue 20 item 3): register, re-read by a clerk,
clerk-confirmed on evidence (official named), citizen-stated, register down, Auskunftssperre,
a person the register does not know, a single value corrected. Each case through the whole
platform, with the PDF text read (pdftotext) and the case's register state asserted."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from backend.console import decisions, values
from backend.console.clerks import remember_clerk
from backend.context import AppContext
from backend.department.identity import ClerkIdentity
from backend.domain.provenance import source_of
from backend.errors import InvalidInput
from backend.records.models import Case, CaseEvent, Document, RegistryAccess
from tests.conftest import Platform
from tests.integration.casekit import context_for
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
TOMASZ = {
    "familienname": "Nowak",
    "vornamen": "Tomasz",
    "geburtsdatum": "1979-01-30",
    "geburtsort": "Kraków",
    "strasse": "Venloer Straße",
    "hausnummer": "12",
    "plz": "50672",
    "ort": "Köln",
}
DOG = {
    "hundename": "Fiete",
    "rasse": "andere",
    "rasse_bezeichnung": "Pudel",
    "haltungsbeginn": "2026-01-10",
    "weitere_hunde": 0,
}


@pytest.fixture
def registries(platform: Platform) -> Iterator[str]:
    url = f"{platform.base_url}/sandbox/registries"
    httpx.delete(f"{url}/faults", timeout=10).raise_for_status()
    yield url
    httpx.delete(f"{url}/faults", timeout=10).raise_for_status()


@pytest.fixture
def ctx(platform: Platform, tmp_path: Path) -> Iterator[AppContext]:
    """Another process of the platform on its database, for departments without a console
    persona (the Steueramt)."""
    context = context_for(platform, platform.settings.database_url, tmp_path)
    yield context
    context.close()


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    return " ".join(out.split())


def documents(platform: Platform, case_id: str) -> list[Document]:
    with Session(engine(platform)) as session:
        return list(
            session.exec(
                select(Document)
                .where(Document.case_id == case_id)
                .order_by(col(Document.created_at))
            ).all()
        )


def stored(platform: Platform, case_id: str) -> Case:
    with Session(engine(platform)) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def events(platform: Platform, case_id: str) -> list[CaseEvent]:
    with Session(engine(platform)) as session:
        return list(
            session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
            ).all()
        )


def test_register_values_make_an_automated_certificate(
    platform: Platform, registries: str, tmp_path: Path
) -> None:
    citizen = platform.api("erika")
    case_id = submit(citizen, "meldebescheinigung")
    wait_for_status(citizen, case_id, {"notified"})
    (certificate,) = documents(platform, case_id)
    text = pdf_text(certificate.content, tmp_path)
    assert "Aufgrund der Eintragungen im Melderegister wird bescheinigt" in text
    assert "Heidestraße 17" in text
    assert "Quelle: Melderegister" in text
    assert "automatisiert erstellt" in text
    assert "Im Auftrag" not in text
    data = stored(platform, case_id).data
    assert {source_of(data, f).kind for f in FALSCHWEG} == {"register"}


def test_after_an_outage_the_clerk_rereads_the_register_and_the_rerun_certifies_its_values(
    platform: Platform, registries: str, tmp_path: Path
) -> None:
    """Erika typed 'Falschweg 1' while the register was down. No clerk may approve that as
    register content; a re-read shows the register's 'Heidestraße 17' next to her statement,
    is logged with the clerk and purpose, and the re-run certifies the register's values."""
    citizen = platform.api("erika")
    httpx.put(f"{registries}/melderegister/faults", json={"down": True}, timeout=10)
    case_id = submit(citizen, "meldebescheinigung", answers=FALSCHWEG)
    case = wait_for_status(citizen, case_id, {"referred"})
    assert {"registry_failure", "unverified_register_fact"} <= set(
        case["decision"]["referral_reasons"]
    )
    clerk = console_api(platform, "clerk-buergeramt")
    refused = clerk.post(
        f"/cases/{case_id}/decision", json={"outcome": "approved", "reason": "Sieht gut aus"}
    )
    assert refused.status_code == 409, refused.text
    assert "nicht aus dem Register" in refused.json()["message"]
    assert documents(platform, case_id) == []

    # Still down: the re-read says so, nothing is taken over.
    again = clerk.post(f"/cases/{case_id}/reread", json={"reason": "Noch einmal versuchen"})
    assert again.status_code == 200, again.text
    assert again.json()["adopted"] == []
    rows = {v["field"]: v for v in clerk.get(f"/cases/{case_id}").json()["values"]}
    assert rows["strasse"]["reread"]["status"] == "failed"
    assert rows["strasse"]["value"] == "Falschweg"

    httpx.delete(f"{registries}/faults", timeout=10).raise_for_status()
    read = clerk.post(f"/cases/{case_id}/reread", json={"reason": "Register wieder erreichbar"})
    assert read.status_code == 200, read.text
    assert set(read.json()["adopted"]) == {*FALSCHWEG, "einzugsdatum"}
    rows = {v["field"]: v for v in clerk.get(f"/cases/{case_id}").json()["values"]}
    assert rows["strasse"]["value"] == "Heidestraße"
    assert rows["strasse"]["origin"] == "registry"
    assert rows["strasse"]["statement"] == "Falschweg"
    assert rows["strasse"]["reread"]["same"] is False
    assert rows["familienname"]["reread"]["same"] is True
    page = Browser(platform, "clerk-buergeramt").get(f"/console/cases/{case_id}")
    text = " ".join(unescape(page.text).split())
    assert "Eingegeben hatte die Bürgerin/der Bürger: Falschweg" in text
    assert "Register nennt einen anderen Wert" in text
    assert "mit dem wieder erreichbaren Register abgeglichen" not in text
    with Session(engine(platform)) as session:
        reads = session.exec(
            select(RegistryAccess).where(
                RegistryAccess.case_id == case_id, RegistryAccess.registry_id == "melderegister"
            )
        ).all()
    assert {r.actor for r in reads} == {"clerk:b1e2a3d4-0000-4000-8000-0000000000b1"}
    assert {r.outcome for r in reads} == {"failed", "ok"}
    assert all(r.purpose == "Ausstellung einer Meldebescheinigung" for r in reads)
    logged = [e for e in events(platform, case_id) if e.type == "register_reread"]
    assert len(logged) == 2
    assert "Falschweg" not in str(logged[-1].payload)  # names, never values

    rerun = clerk.post(f"/cases/{case_id}/rerun", json={"reason": "Register liefert wieder"})
    assert rerun.status_code == 200, rerun.text
    assert rerun.json()["status"] == "notified"
    (certificate,) = documents(platform, case_id)
    text = pdf_text(certificate.content, tmp_path)
    assert "Heidestraße 17" in text
    assert "Falschweg" not in text
    assert "Quelle: Melderegister" in text
    assert "automatisiert erstellt" in text


def test_claudias_block_is_named_and_her_own_certificate_comes_from_the_register(
    platform: Platform, registries: str, tmp_path: Path
) -> None:
    """§ 51 BMG: for a third party's service (dog tax) her address is withheld and the portal
    and console call it a block, not an outage; her own Meldebescheinigung (§ 18 BMG) is
    issued from the register's values."""
    portal = log_in(platform, "claudia")
    application = start(portal, "hundesteuer-anmeldung")
    page = " ".join(unescape(portal.get(f"/applications/{application}/held").text).split())
    assert "Auskunftssperre eingetragen (§ 51 BMG)" in page
    assert "nicht erreichbar" not in page
    assert "Noch einmal abrufen" not in page

    citizen = platform.api("claudia")
    typed = {"strasse": "Musterweg", "hausnummer": "1", "plz": "50667", "ort": "Köln", **DOG}
    dog_case = submit(citizen, "hundesteuer-anmeldung", answers=typed)
    case = wait_for_status(citizen, dog_case, {"referred"})
    assert "register_blocked" in case["decision"]["referral_reasons"]
    assert "registry_failure" not in case["decision"]["referral_reasons"]
    assert documents(platform, dog_case) == []
    assert set(stored(platform, dog_case).data["blocked_fields"]) >= {"strasse", "plz"}

    case_id = submit(citizen, "meldebescheinigung")
    wait_for_status(citizen, case_id, {"notified"})
    (certificate,) = documents(platform, case_id)
    text = pdf_text(certificate.content, tmp_path)
    assert "Weißhausstraße 7" in text
    assert "50939 Köln" in text
    assert "Quelle: Melderegister" in text
    data = stored(platform, case_id).data
    assert source_of(data, "strasse").kind == "register"


def test_a_person_the_register_does_not_know_gets_no_register_certificate(
    platform: Platform, registries: str
) -> None:
    """Tomasz typed everything: a clerk cannot approve a register certificate for him (409);
    they reject with reasons, which produce no certificate."""
    citizen = platform.api("unbekannt")
    case_id = submit(citizen, "meldebescheinigung", answers=TOMASZ)
    wait_for_status(citizen, case_id, {"referred"})
    clerk = console_api(platform, "clerk-buergeramt")
    read = clerk.post(f"/cases/{case_id}/reread", json={"reason": "Im Register nachsehen"})
    assert read.status_code == 200, read.text
    assert read.json()["adopted"] == []
    rows = {v["field"]: v for v in clerk.get(f"/cases/{case_id}").json()["values"]}
    assert rows["strasse"]["reread"]["status"] == "empty"
    approved = clerk.post(
        f"/cases/{case_id}/decision", json={"outcome": "approved", "reason": "Ausweis gesehen"}
    )
    assert approved.status_code == 409
    reason = "Sie sind im Melderegister nicht gemeldet; bitte melden Sie sich an (§ 17 BMG)."
    rejected = clerk.post(
        f"/cases/{case_id}/decision", json={"outcome": "rejected", "reason": reason}
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["pending_id"]  # it overturns the machine's proposal: four eyes
    boss = console_api(platform, "supervisor-buergeramt")
    confirmed = boss.post(f"/cases/{case_id}/pending", json={"confirm": True, "reason": "Ja"})
    assert confirmed.status_code == 200, confirmed.text
    assert documents(platform, case_id) == []
    assert stored(platform, case_id).outcome == "rejected"
    # The rejection reaches the citizen with its reason, in the mailbox.
    messages = citizen.get("/mailbox").json()
    mine = [m for m in messages["messages"] if m.get("case_id") == case_id]
    assert any(reason in str(m) for m in mine), [m["body"]["de"] for m in mine]


def test_a_clerk_confirms_typed_values_on_evidence_and_the_notice_names_the_official(
    platform: Platform, ctx: AppContext, registries: str, tmp_path: Path
) -> None:
    """Tomasz's dog tax on his typed address: the clerk confirms the address on his ID
    document; four eyes apply; the notice names the official and is not 'automatisiert'."""
    citizen = platform.api("unbekannt")
    typed = {
        "familienname": "Nowak",
        "vornamen": "Tomasz",
        "strasse": "Domkloster",
        "hausnummer": "4",
        "plz": "50667",
        "ort": "Köln",
        **DOG,
    }
    case_id = submit(citizen, "hundesteuer-anmeldung", answers=typed)
    case = wait_for_status(citizen, case_id, {"referred"})
    assert case["decision"]["referral_reasons"] == ["unverified_register_fact"]
    tanja = ClerkIdentity("steuer-clerk-t", "Tanja Steuer", "steueramt", ("clerk",))
    boss = ClerkIdentity("steuer-lead-b", "Bernd Leiter", "steueramt", ("clerk", "supervisor"))
    remember_clerk(ctx, tanja)
    remember_clerk(ctx, boss)
    with pytest.raises(InvalidInput, match="Begründung"):  # another document needs a note
        values.confirm_value(ctx, tanja, case_id, "strasse", "other_document", None)
    with pytest.raises(InvalidInput, match="gibt es"):
        values.confirm_value(ctx, tanja, case_id, "gibtsnicht", "id_document", None)
    with pytest.raises(InvalidInput, match="Nachweis"):
        values.confirm_value(ctx, tanja, case_id, "strasse", "hearsay", None)
    for field in ("strasse", "hausnummer", "plz", "ort"):
        values.confirm_value(ctx, tanja, case_id, field, "id_document", "Personalausweis")
    data = stored(platform, case_id).data
    assert source_of(data, "strasse").kind == "clerk"
    assert data["clerk_confirmed"]["strasse"]["evidence"] == (
        "Ausweisdokument vorgelegt: Personalausweis"
    )
    assert data["clerk_confirmed"]["strasse"]["by"] == "clerk:steuer-clerk-t"
    proposal = decisions.decide_case(ctx, tanja, case_id, "approved", "Anschrift laut Ausweis")
    assert proposal.pending_id is not None  # a confirmed value: four eyes
    assert documents(platform, case_id) == []
    done = decisions.confirm_pending(ctx, boss, case_id, True, "Geprüft")
    assert done.status == "notified"
    (notice,) = documents(platform, case_id)
    text = pdf_text(notice.content, tmp_path)
    assert "automatisiert" not in text
    assert "Im Auftrag Tanja Steuer Sachbearbeitung" in text
    kinds = [e.type for e in events(platform, case_id)]
    assert kinds.count("value_confirmed") == 4


def test_a_clerk_corrects_a_single_value_and_the_proposal_is_worked_out_again(
    platform: Platform, ctx: AppContext, registries: str
) -> None:
    """Instead of only approve or reject: one value corrected with a reason, kept with who and
    why; the machine's proposal follows the corrected value."""
    citizen = platform.api("unbekannt")
    typed = {
        "familienname": "Nowak",
        "vornamen": "Tomasz",
        "strasse": "Domkloster",
        "hausnummer": "4",
        "plz": "50667",
        "ort": "Köln",
        **DOG,
    }
    case_id = submit(citizen, "hundesteuer-anmeldung", answers=typed)
    wait_for_status(citizen, case_id, {"referred"})
    tanja = ClerkIdentity("steuer-clerk-t", "Tanja Steuer", "steueramt", ("clerk",))
    remember_clerk(ctx, tanja)
    before = stored(platform, case_id).decision or {}
    with pytest.raises(InvalidInput):
        values.correct_value(ctx, tanja, case_id, "weitere_hunde", "", "leer")
    values.correct_value(
        ctx, tanja, case_id, "weitere_hunde", "1", "Zweiter Hund laut Hunderegister"
    )
    case = stored(platform, case_id)
    data: dict[str, Any] = case.data
    assert data["values"]["weitere_hunde"] == 1
    assert data["statements"]["weitere_hunde"] == 0
    assert source_of(data, "weitere_hunde").kind == "clerk"
    assert case.status == "referred"
    after = case.decision or {}
    assert after["amounts"] != before["amounts"]  # a second dog is taxed higher
    (event,) = [e for e in events(platform, case_id) if e.type == "value_corrected"]
    assert event.actor == "clerk:steuer-clerk-t"
    assert event.reason == "Zweiter Hund laut Hunderegister"
    assert event.payload["field"] == "weitere_hunde"


def test_the_console_page_rereads_and_corrects_with_words_and_clear_errors(
    platform: Platform, registries: str
) -> None:
    """The same actions from the case file page: post/redirect/get, a confirmation in words,
    and a refused input answered on the page (422), never a 500."""
    citizen = platform.api("erika")
    httpx.put(f"{registries}/melderegister/faults", json={"down": True}, timeout=10)
    case_id = submit(citizen, "meldebescheinigung", answers=FALSCHWEG)
    wait_for_status(citizen, case_id, {"referred"})
    httpx.delete(f"{registries}/faults", timeout=10).raise_for_status()
    browser = Browser(platform, "clerk-buergeramt", start=f"/console/cases/{case_id}")
    page = browser.get(f"/console/cases/{case_id}")
    assert "Register erneut abfragen" in unescape(page.text)
    done = browser.post(f"/console/cases/{case_id}/reread", {"reason": "Register wieder da"})
    assert done.status_code == 303, done.text
    assert done.headers["location"].endswith("done=reread")
    text = " ".join(unescape(browser.get(done.headers["location"]).text).split())
    assert "Das Register ist erneut abgefragt" in text
    assert "Register erneut abgefragt" in text  # the log entry, in words
    assert "Eingegeben hatte die Bürgerin/der Bürger: Falschweg" in text

    refused = browser.post(
        f"/console/cases/{case_id}/correct-value",
        {"field": "geburtsdatum", "value": "kein Datum", "reason": "Tippfehler"},
    )
    assert refused.status_code == 422
    assert "Die Aktion wurde nicht ausgeführt" in unescape(refused.text)
    corrected = browser.post(
        f"/console/cases/{case_id}/correct-value",
        {"field": "geburtsort", "value": "Berlin-Spandau", "reason": "Laut Geburtsurkunde"},
    )
    assert corrected.status_code == 303, corrected.text
    text = " ".join(unescape(browser.get(corrected.headers["location"]).text).split())
    assert "Von der Sachbearbeitung berichtigt; vorher: Berlin" in text
    assert stored(platform, case_id).data["values"]["geburtsort"] == "Berlin-Spandau"
