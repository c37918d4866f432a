"""Every console action needs a reason and is audited in the case's hash-chained log with the
clerk as actor; roles gate what each person may do; the automation switch refers new cases
while paused and the machine decides again after resuming."""

from __future__ import annotations

import io

import httpx
from pypdf import PdfReader
from sqlmodel import Session, select

from backend.auth.tokens import Identity
from backend.cases.cockpit import data_cockpit
from backend.columns import utcnow
from backend.context import build_context
from backend.department.models import AutomationSwitch
from backend.records.models import CaseEvent, RegistryAccess
from sandbox.personas import persona_by_id
from tests.conftest import Platform
from tests.integration.enginekit import (
    engine,
    objection_case,
    pay_on_hosted_page,
    referred_case,
    submit,
    wait_for_status,
    wait_until,
)
from tests.integration.test_console_isolation import Browser, console_api, sub_of


def events(platform: Platform, case_id: str) -> list[CaseEvent]:
    with Session(engine(platform)) as session:
        return list(
            session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)  # type: ignore[arg-type]
            ).all()
        )


def clerk_label(persona: str) -> str:
    return f"clerk:{sub_of(persona)}"


def test_a_referred_case_decided_by_a_clerk_gets_its_notice(platform: Platform) -> None:
    citizen, case_id = referred_case(platform)
    clerk = console_api(platform, "clerk-buergeramt")
    count = len(events(platform, case_id))
    missing = clerk.post(f"/cases/{case_id}/decision", json={"outcome": "approved", "reason": " "})
    assert missing.status_code == 422 and missing.json()["details"][0]["field"] == "reason"
    wrong = clerk.post(f"/cases/{case_id}/decision", json={"outcome": "maybe", "reason": "x"})
    assert wrong.status_code == 422
    assert len(events(platform, case_id)) == count, "a refused action leaves no trace"

    reason = "Umzug laut Melderegister bestätigt; die gespeicherte Anschrift ist aktuell."
    done = clerk.post(f"/cases/{case_id}/decision", json={"outcome": "approved", "reason": reason})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "notified"
    log = events(platform, case_id)
    by_type = {e.type: e for e in log}
    assert by_type["clerk_decision"].actor == clerk_label("clerk-buergeramt")
    assert by_type["clerk_decision"].reason == reason
    assert by_type["case_decided"].actor == clerk_label("clerk-buergeramt")
    assert by_type["document_issued"].actor == "system"
    assert by_type["citizen_notified"].actor == "system"
    file = clerk.get(f"/cases/{case_id}").json()
    assert file["chain"]["ok"] is True
    assert [d["title"] for d in file["documents"]] == ["Meldebescheinigung"]
    # The citizen sees a notice issued by a person, through the same API as any other.
    case = citizen.get(f"/cases/{case_id}").json()
    assert case["status"] == "notified" and case["decision"]["outcome"] == "approved"
    assert reason in [r["text"]["de"] for r in case["decision"]["reasons"]]
    pdf = citizen.get(case["documents"][0]["url"].removeprefix("/api/v1"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # A decided case cannot be decided again.
    again = clerk.post(f"/cases/{case_id}/decision", json={"outcome": "rejected", "reason": "x"})
    assert again.status_code == 409


def test_assign_ask_and_cancel_are_gated_by_role_and_audited(platform: Platform) -> None:
    citizen, case_id = referred_case(platform)
    clerk = console_api(platform, "clerk-buergeramt")
    boss = console_api(platform, "supervisor-buergeramt")
    clerk.get("/me")  # both are now known to the console as colleagues
    boss.get("/me")

    mine = clerk.post(f"/cases/{case_id}/assign", json={})
    assert mine.status_code == 200, mine.text
    listed = clerk.get("/worklist", params={"assignee": "me"}).json()["items"]
    assert case_id in [i["case_id"] for i in listed]
    handing = clerk.post(
        f"/cases/{case_id}/assign",
        json={"assignee": sub_of("supervisor-buergeramt"), "reason": "Urlaub"},
    )
    assert handing.status_code == 403, "only supervisors hand cases to others"
    no_reason = boss.post(f"/cases/{case_id}/assign", json={"assignee": sub_of("clerk-buergeramt")})
    assert no_reason.status_code == 422
    handed = boss.post(
        f"/cases/{case_id}/assign",
        json={"assignee": sub_of("clerk-buergeramt"), "reason": "Zuständig für Umzüge"},
    )
    assert handed.status_code == 200
    assigned = [e for e in events(platform, case_id) if e.type == "assigned"]
    assert [e.actor for e in assigned] == [
        clerk_label("clerk-buergeramt"),
        clerk_label("supervisor-buergeramt"),
    ]
    assert assigned[-1].reason == "Zuständig für Umzüge"

    asked = clerk.post(
        f"/cases/{case_id}/question",
        json={"question": "Seit wann wohnen Sie in der neuen Wohnung?"},
    )
    assert asked.status_code == 200 and asked.json()["status"] == "awaiting_citizen"
    question = [e for e in events(platform, case_id) if e.type == "question_asked"][-1]
    assert question.actor == clerk_label("clerk-buergeramt")
    listed = clerk.get("/worklist", params={"reason": "awaiting_citizen"}).json()["items"]
    assert case_id in [i["case_id"] for i in listed]

    assert clerk.post(f"/cases/{case_id}/cancel", json={"reason": "Doppelt"}).status_code == 403
    assert boss.post(f"/cases/{case_id}/cancel", json={"reason": ""}).status_code == 422
    cancelled = boss.post(f"/cases/{case_id}/cancel", json={"reason": "Doppelter Antrag"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "closed"
    last = events(platform, case_id)[-1]
    assert (last.type, last.actor, last.reason) == (
        "cancelled",
        clerk_label("supervisor-buergeramt"),
        "Doppelter Antrag",
    )
    subjects = [
        m["subject"]["de"]
        for m in citizen.get("/mailbox").json()["messages"]
        if m["case_id"] == case_id
    ]
    assert any("nicht weiter bearbeitet" in s for s in subjects), subjects


def test_objection_forwarded_and_remedied_by_the_department(platform: Platform) -> None:
    clerk = console_api(platform, "clerk-buergeramt")
    for action, expected in (("forward", "objection"), ("remedy", "notified")):
        citizen, case_id = objection_case(platform)
        lodged = citizen.post(
            f"/cases/{case_id}/objection", json={"statement": "Die Anschrift ist falsch."}
        )
        assert lodged.status_code == 201, lodged.text
        listed = clerk.get("/worklist", params={"reason": "objection"}).json()["items"]
        assert case_id in [i["case_id"] for i in listed]
        # The clerk sees the remedy of the service's regime, not a fixed § 70 VwGO.
        assert clerk.get(f"/cases/{case_id}").json()["remedy"] == {
            "kind": "widerspruch",
            "name": "Widerspruch",
            "legal_basis": "§§ 68, 70 VwGO",
            "reexamination_basis": "§ 72 VwGO",
            "lodged_with": "Stadt Teststadt – Bürgeramt",
        }
        assert (
            clerk.post(
                f"/cases/{case_id}/objection", json={"action": action, "reason": ""}
            ).status_code
            == 422
        )
        body = {"action": action, "reason": f"Geprüft: {action}"}
        if action == "remedy":
            body["outcome"] = "approved"
        done = clerk.post(f"/cases/{case_id}/objection", json=body)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == expected
        log = events(platform, case_id)
        mine = [e for e in log if e.actor == clerk_label("clerk-buergeramt")]
        assert mine and all(e.reason for e in mine if e.type != "resumed")
        if action == "forward":
            assert "objection_forwarded" in [e.type for e in mine]
            listed = clerk.get("/worklist", params={"reason": "objection"}).json()["items"]
            assert case_id not in [i["case_id"] for i in listed]
        else:
            file = clerk.get(f"/cases/{case_id}").json()
            # The remedy's notice replaces the one objected to: a new document, besides the
            # objection's Eingangsbestätigung.
            kinds = sorted(d["kind"] for d in file["documents"])
            assert kinds == ["notice", "notice", "receipt"] and file["chain"]["ok"]


def test_supervisor_pauses_and_resumes_automation(platform: Platform) -> None:
    clerk = console_api(platform, "clerk-buergeramt")
    boss = console_api(platform, "supervisor-buergeramt")
    path = "/services/meldebescheinigung/automation"
    assert clerk.post(path, json={"paused": True, "reason": "Test"}).status_code == 403
    assert boss.post(path, json={"paused": True, "reason": ""}).status_code == 422
    paused = boss.post(path, json={"paused": True, "reason": "Fehler in der Vorlage"})
    assert paused.status_code == 200 and paused.json()["paused"] is True
    try:
        assert boss.post(path, json={"paused": True, "reason": "x"}).status_code == 409
        page = httpx.get(f"{platform.base_url}/services/meldebescheinigung", timeout=30)
        assert "Die Bearbeitung dauert zurzeit länger" in page.text
        citizen = platform.api("erika")
        case_id = submit(citizen, "meldebescheinigung")
        wait_for_status(citizen, case_id, {"referred"})
        file = clerk.get(f"/cases/{case_id}").json()
        assert [code for code, _ in file["trace"]["referral_reasons"]] == ["automation_paused"]
        assert file["service_paused"] is True
        # Still paused: handing it back refers it again, with the current reason.
        again = clerk.post(f"/cases/{case_id}/rerun", json={"reason": "Versuch"})
        assert again.status_code == 200 and again.json()["status"] == "referred"
    finally:
        resumed = boss.post(path, json={"paused": False, "reason": "Vorlage korrigiert"})
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    page = httpx.get(f"{platform.base_url}/services/meldebescheinigung", timeout=30)
    assert "Die Bearbeitung dauert zurzeit länger" not in page.text
    rerun = clerk.post(f"/cases/{case_id}/rerun", json={"reason": "Automatisierung läuft wieder"})
    assert rerun.status_code == 200, rerun.text
    assert rerun.json()["status"] == "notified"
    log = events(platform, case_id)
    reruns = [e for e in log if e.type == "automation_rerun"]
    assert [e.actor for e in reruns] == [clerk_label("clerk-buergeramt")] * 2
    assert log[-1].type == "citizen_notified" and log[-1].actor == "system"
    decided = [e for e in log if e.type == "case_decided"]
    assert decided[-1].actor == "system", "the machine decided after the hand-back"
    with Session(engine(platform)) as session:
        history = session.exec(
            select(AutomationSwitch).where(AutomationSwitch.service == "meldebescheinigung")
        ).all()
    assert [h.paused for h in history][-2:] == [True, False]
    assert history[-1].actor == clerk_label("supervisor-buergeramt")


def test_console_html_actions_post_with_reason(platform: Platform) -> None:
    _citizen, case_id = referred_case(platform)
    browser = Browser(platform, "clerk-buergeramt")
    refused = browser.post(
        f"/console/cases/{case_id}/decide", {"outcome": "approved", "reason": ""}
    )
    assert refused.status_code == 422 and "Begründung" in refused.text
    done = browser.post(
        f"/console/cases/{case_id}/decide", {"outcome": "approved", "reason": "Geprüft"}
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?done=decided")
    page = browser.get(done.headers["location"])
    assert "Die Entscheidung ist getroffen" in page.text and "Hash-Kette geprüft" in page.text
    csv = browser.get("/console/worklist.csv")
    assert csv.status_code == 200 and csv.text.startswith("reference,service,status")


def test_taking_a_case_with_an_overlong_reason_is_refused_not_a_server_error(
    platform: Platform,
) -> None:
    """The form fuzzer's find: taking a case oneself skipped the reason's length check, so a
    reason over MAX_REASON reached the audit log's column (a 500 on PostgreSQL)."""
    _citizen, case_id = referred_case(platform)
    browser = Browser(platform, "clerk-buergeramt")
    count = len(events(platform, case_id))
    refused = browser.post(f"/console/cases/{case_id}/assign", {"reason": "x" * 2001})
    assert refused.status_code == 422 and "2000" in refused.text
    assert len(events(platform, case_id)) == count, "a refused action leaves no trace"
    taken = browser.post(f"/console/cases/{case_id}/assign", {"reason": "  Übernommen  "})
    assert taken.status_code == 303, taken.text
    assert [e.reason for e in events(platform, case_id) if e.type == "assigned"] == ["Übernommen"]


def test_a_clerks_approval_that_costs_a_fee_waits_for_payment_and_is_the_clerks_notice(
    platform: Platform,
) -> None:
    citizen = platform.api("jonas")
    # A disputed value sends the fee service's case to a person.
    case_id = submit(
        citizen, "beglaubigung", answers={"anzahl": 1}, disputes={"familienname": "Schneider-Ek"}
    )
    wait_for_status(citizen, case_id, {"referred"})
    clerk = console_api(platform, "clerk-buergeramt")
    reason = "Namensänderung durch Urkunde belegt; Beglaubigung wird erteilt."
    done = clerk.post(f"/cases/{case_id}/decision", json={"outcome": "approved", "reason": reason})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "awaiting_payment"
    payment = wait_until(
        lambda: (p := citizen.get(f"/cases/{case_id}/payment").json()).get("pay_url") and p,
        "payment opened at the provider",
    )
    assert pay_on_hosted_page(payment["pay_url"]).status_code in (200, 303)
    case = wait_for_status(citizen, case_id, {"notified"})
    log = events(platform, case_id)
    assert [e.type for e in log].count("clerk_decision") == 1
    assert {e.type for e in log} >= {"payment_requested", "case_decided", "document_issued"}
    # The notice is the clerk's: no § 35a VwVfG statement, and Art. 22(3) review does not apply.
    pdf = citizen.get(case["documents"][0]["url"].removeprefix("/api/v1")).content
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "35a" not in text
    actions = citizen.get(f"/cases/{case_id}/actions").json()
    assert actions["can_request_review"] is False


def test_objection_form_preselects_no_outcome(platform: Platform) -> None:
    """A remedy is a new decision: the form must not suggest one, so none is checked or selected."""
    citizen, case_id = objection_case(platform)
    lodged = citizen.post(f"/cases/{case_id}/objection", json={"statement": "Falsche Anschrift."})
    assert lodged.status_code == 201, lodged.text
    browser = Browser(platform, "clerk-buergeramt")
    page = browser.get(f"/console/cases/{case_id}?purpose=widerspruch")
    assert page.status_code == 200
    start = page.text.index('aria-labelledby="act-objection"')
    section = page.text[start : page.text.index("</section>", start)]
    assert 'name="outcome"' in section and 'value="remedy"' in section
    assert "checked" not in section and "selected" not in section
    first = section.index("<option", section.index('name="outcome"'))
    assert section[first:].startswith('<option value="">'), "the first, shown option is empty"
    refused = browser.post(
        f"/console/cases/{case_id}/objection",
        {"action": "remedy", "outcome": "", "reason": "Geprüft"},
    )
    assert refused.status_code == 422, "a remedy without a chosen outcome is refused"
    assert [e.type for e in events(platform, case_id)].count("clerk_decision") == 0


def test_three_reloads_of_a_case_file_are_one_cockpit_entry(platform: Platform) -> None:
    """The citizen sees one entry saying 3 views; the department's log keeps all three reads."""
    _citizen, case_id = referred_case(platform)
    browser = Browser(platform, "clerk-buergeramt")
    started = utcnow()  # Erika's other cases, read by other tests, were read before this
    for _ in range(3):
        assert browser.get(f"/console/cases/{case_id}?purpose=bearbeitung").status_code == 200
    persona = persona_by_id("erika")
    assert persona is not None
    who = Identity(sub=persona.sub, name=persona.name, trust_level=persona.trust_level)
    ctx = build_context(platform.settings)
    try:
        reads = [
            a
            for a in data_cockpit(ctx, who).accesses
            if a.registry == "Fallakte"
            and a.actor == clerk_label("clerk-buergeramt")
            and a.at >= started
        ]
    finally:
        ctx.close()
    mine = [a for a in reads if a.purpose.startswith("Bearbeitung")]
    assert len(mine) == 1 and mine[0].count >= 3
    assert mine[0].first_at is not None and mine[0].first_at <= mine[0].at
    with Session(engine(platform)) as session:
        rows = session.exec(
            select(RegistryAccess).where(
                RegistryAccess.case_id == case_id,  # type: ignore[arg-type]
                RegistryAccess.registry_id == "Fallakte",  # type: ignore[arg-type]
            )
        ).all()
    assert len(rows) >= 3, "the audit of who read what stays complete"
    assert len(rows) == mine[0].count
