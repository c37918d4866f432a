"""Assisted application at the counter: the same prefill and processing as the portal, the
clerk named in the audit and the registry log, the notice printable on the spot."""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from backend.console.assisted import counter_pseudonym, valid_idnr
from backend.models import Case, CaseEvent, RegistryAccess
from backend.models_insight import AssistedApplication
from sandbox.personas import persona_by_id
from tests.conftest import Platform
from tests.integration.enginekit import engine, wait_until
from tests.integration.test_console_kpis_http import ClerkBrowser

_DRAFT = re.compile(r"^/console/assisted/([0-9a-f]{32})$")


def _persona(persona_id: str) -> tuple[str, str, str]:
    found = persona_by_id(persona_id)
    assert found is not None and found.idnr is not None
    return found.idnr, found.name, found.sub


def _case_of(platform: Platform, application_id: str) -> Case | None:
    with Session(engine(platform)) as session:
        return session.exec(select(Case).where(Case.application_id == application_id)).first()


def test_counter_application_is_prefilled_processed_audited_and_printable(
    platform: Platform,
) -> None:
    idnr, name, _sub = _persona("erika")
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    assert clerk.get("/console/assisted").status_code == 200
    started = clerk.post(
        "/console/assisted", {"service": "meldebescheinigung", "idnr": idnr, "name": name}
    )
    assert started.status_code == 303, started.text
    match = _DRAFT.match(started.headers["location"])
    assert match, started.headers["location"]
    app_id = match.group(1)
    assert idnr not in started.headers["location"]

    draft = clerk.get(f"/console/assisted/{app_id}")
    assert draft.status_code == 200
    assert "Mustermann" in draft.text and "Heidestraße" in draft.text  # prefilled, with source

    # Another department's clerk cannot see or submit it.
    other = ClerkBrowser(platform, "clerk-ordnungsamt")
    assert other.get(f"/console/assisted/{app_id}").status_code == 404
    assert other.post(f"/console/assisted/{app_id}", {}).status_code == 404
    assert _case_of(platform, app_id) is None

    sent = clerk.post(f"/console/assisted/{app_id}", {"remark": ""})
    assert sent.status_code == 303 and sent.headers["location"].endswith("/done"), sent.text
    case = _case_of(platform, app_id)
    assert case is not None and case.citizen_sub == counter_pseudonym(idnr)

    def notified() -> Case | None:
        current = _case_of(platform, app_id)
        return current if current is not None and current.status == "notified" else None

    wait_until(notified, "the counter case to be decided and notified")
    clerk_persona = persona_by_id("clerk-buergeramt")
    assert clerk_persona is not None
    clerk_label = f"clerk:{clerk_persona.sub}"
    with Session(engine(platform)) as session:
        events = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.seq))
        ).all()
        marks = [e for e in events if e.type == "assisted_submission"]
        assert len(marks) == 1
        assert marks[0].actor == clerk_label and marks[0].payload["channel"] == "counter"
        assert "decided" in [e.type for e in events]  # decided by the same engine
        reads = session.exec(
            select(RegistryAccess).where(RegistryAccess.application_id == app_id)
        ).all()
        assert reads and all(r.actor == clerk_label for r in reads)
        link = session.get(AssistedApplication, app_id)
        assert link is not None and link.case_id == case.id and link.channel == "counter"

    done = clerk.get(f"/console/assisted/{app_id}/done")
    assert done.status_code == 200 and case.reference in done.text
    pdf_link = re.search(rf"/console/assisted/{app_id}/documents/([0-9a-f]{{32}})", done.text)
    assert pdf_link, done.text
    pdf = clerk.get(pdf_link.group(0))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert other.get(pdf_link.group(0)).status_code == 404
    # Submitting again changes nothing: one case, one audit mark.
    assert clerk.post(f"/console/assisted/{app_id}", {}).status_code == 303
    with Session(engine(platform)) as session:
        again = session.exec(
            select(CaseEvent).where(
                CaseEvent.case_id == case.id, CaseEvent.type == "assisted_submission"
            )
        ).all()
        assert len(again) == 1


def test_portal_account_and_identification_checks(platform: Platform) -> None:
    idnr, name, sub = _persona("jonas")
    mistyped = idnr[:10] + str((int(idnr[10]) + 1) % 10)
    assert valid_idnr(idnr) and not valid_idnr(mistyped)
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    wrong = clerk.post(
        "/console/assisted",
        {
            "service": "meldebescheinigung",
            "idnr": mistyped,
            "name": "",
        },
    )
    assert wrong.status_code == 422
    assert 'href="#idnr"' in wrong.text and 'href="#name"' in wrong.text
    # A service of another department is not offered at this counter.
    foreign = clerk.post(
        "/console/assisted", {"service": "bewohnerparken", "idnr": idnr, "name": name}
    )
    assert foreign.status_code == 404
    with_account = clerk.post(
        "/console/assisted",
        {"service": "meldebescheinigung", "idnr": idnr, "name": name, "portal_sub": sub},
    )
    assert with_account.status_code == 303
    app_id = with_account.headers["location"].rsplit("/", 1)[-1]
    assert clerk.post(f"/console/assisted/{app_id}", {}).status_code == 303
    case = _case_of(platform, app_id)
    assert case is not None and case.citizen_sub == sub  # it shows in the citizen's portal too
    mine = platform.api("jonas").get(f"/cases/{case.id}")
    assert mine.status_code == 200
