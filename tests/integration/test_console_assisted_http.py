"""Assisted application at the counter: the same prefill and processing as the portal, the
clerk named in the audit and the registry log, the notice printable on the spot, and the
person identified against the Melderegister before anything is read or linked."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
from sqlmodel import Session, col, func, select

from backend.console.assisted import counter_pseudonym, valid_idnr
from backend.console.counter_identity import IDENTIFY_PURPOSE, idnr_check_digit
from backend.console.models import AssistedApplication
from backend.records.models import Application, Case, CaseEvent, RegistryAccess
from sandbox.personas import Persona, persona_by_id
from tests.conftest import Platform
from tests.integration.enginekit import engine, wait_until
from tests.integration.test_console_kpis_http import ClerkBrowser

_DRAFT = re.compile(r"^/console/assisted/([0-9a-f]{32})$")
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _persona(persona_id: str) -> Persona:
    found = persona_by_id(persona_id)
    assert found is not None and found.idnr is not None and found.birthdate is not None
    return found


def _walk_in(persona: Persona, **changes: str) -> dict[str, str]:
    """The counter form as a clerk fills it in from the person's ID card."""
    assert persona.idnr is not None and persona.birthdate is not None
    form = {
        "service": "meldebescheinigung",
        "idnr": persona.idnr,
        "family_name": persona.family_name,
        "given_names": persona.given_name,
        "birthdate": persona.birthdate.strftime("%d.%m.%Y"),
    }
    form.update(changes)
    return form


def _portal_login(platform: Platform, persona: str) -> httpx.Client:
    """A citizen logs in to the portal once, so the platform knows the account's identity."""
    client = httpx.Client(base_url=platform.base_url, timeout=60, follow_redirects=False)
    login = client.get("/login", params={"next": "/"})
    assert login.status_code == 303
    form = client.get(login.headers["location"])
    assert form.status_code == 200, form.text
    hidden = {k: unescape(v) for k, v in _HIDDEN.findall(form.text)}
    back = client.post(
        f"{platform.base_url}/sandbox/idp/authorize",
        data={**hidden, "persona": persona, "action": "login"},
    )
    assert back.status_code == 303, back.text
    landed = client.get(back.headers["location"])
    assert landed.status_code == 303, landed.text
    return client


def _case_of(platform: Platform, application_id: str) -> Case | None:
    with Session(engine(platform)) as session:
        return session.exec(select(Case).where(Case.application_id == application_id)).first()


def _counts(platform: Platform) -> tuple[int, int]:
    """Drafts and counter links in the database: a refusal must add neither."""
    with Session(engine(platform)) as session:
        drafts = session.exec(select(func.count()).select_from(Application)).one()
        links = session.exec(select(func.count()).select_from(AssistedApplication)).one()
        return int(drafts), int(links)


def _cockpit(platform: Platform, persona: str) -> list[dict[str, Any]]:
    """The citizen's Datenschutzcockpit (§ 10 OZG) as the portal API gives it to them."""
    response = platform.api(persona).get("/me/data-access")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def _app_id(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    match = _DRAFT.match(response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def test_counter_application_is_prefilled_processed_audited_and_printable(
    platform: Platform,
) -> None:
    erika = _persona("erika")
    assert erika.idnr is not None
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    assert clerk.get("/console/assisted").status_code == 200
    started = clerk.post("/console/assisted", _walk_in(erika))
    app_id = _app_id(started)
    assert erika.idnr not in started.headers["location"]

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
    assert case is not None and case.citizen_sub == counter_pseudonym(erika.idnr)

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
        # Who identified the person, how and when is in the case's audit trail.
        assert marks[0].payload["identified"] == "melderegister"
        assert marks[0].payload["identified_by"] == clerk_label
        assert marks[0].payload["identified_at"]
        assert "decided" in [e.type for e in events]  # decided by the same engine
        reads = session.exec(
            select(RegistryAccess).where(RegistryAccess.application_id == app_id)
        ).all()
        assert reads and all(r.actor == clerk_label for r in reads)
        assert all(r.subject_sub == counter_pseudonym(erika.idnr) for r in reads)
        link = session.get(AssistedApplication, app_id)
        assert link is not None and link.case_id == case.id and link.channel == "counter"
        assert link.identification == "melderegister" and link.trust_level == "substanziell"
        assert link.identified_at is not None and link.id_document_kind is None

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


def test_form_errors_and_foreign_services(platform: Platform) -> None:
    jonas = _persona("jonas")
    assert jonas.idnr is not None
    mistyped = jonas.idnr[:10] + str((int(jonas.idnr[10]) + 1) % 10)
    assert valid_idnr(jonas.idnr) and not valid_idnr(mistyped)
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    before = _counts(platform)
    wrong = clerk.post(
        "/console/assisted",
        _walk_in(
            jonas,
            idnr=mistyped,
            family_name="",
            given_names="",
            birthdate="31.02.1991",
            document_number="x",
        ),
    )
    assert wrong.status_code == 422
    for field in ("idnr", "family_name", "given_names", "birthdate", "document_kind"):
        assert f'href="#{field}"' in wrong.text, field
    assert 'href="#document_number"' in wrong.text and 'href="#document_authority"' in wrong.text
    assert mistyped not in wrong.text  # the IdNr is not echoed
    # A service of another department is not offered at this counter.
    foreign = clerk.post("/console/assisted", _walk_in(jonas, service="bewohnerparken"))
    assert foreign.status_code == 404
    assert _counts(platform) == before


def test_another_persons_portal_account_is_refused(platform: Platform) -> None:
    """The reported attack: Jonas is identified correctly, but Erika's portal account is
    typed in. Nothing is created, Erika's cockpit stays untouched, and the register read for
    the identity check shows in Jonas's cockpit."""
    jonas, erika = _persona("jonas"), _persona("erika")
    _portal_login(platform, "erika")  # the platform knows Erika's account and its identity
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    erika_before = _cockpit(platform, "erika")
    jonas_before = _cockpit(platform, "jonas")
    before = _counts(platform)

    refused = clerk.post("/console/assisted", _walk_in(jonas, portal_sub=erika.sub))

    assert refused.status_code == 422, refused.text
    assert 'href="#portal_sub"' in refused.text
    assert "gehört nicht zu der identifizierten Person" in unescape(refused.text)
    assert _counts(platform) == before
    assert _cockpit(platform, "erika") == erika_before
    jonas_after = _cockpit(platform, "jonas")
    new = [r for r in jonas_after if r not in jonas_before]
    assert [r["purpose"] for r in new] == [IDENTIFY_PURPOSE]
    assert new[0]["registry"] == "melderegister" and new[0]["actor"].startswith("clerk:")

    # An account the platform has never seen logged in cannot be checked, so it is refused too.
    unknown = clerk.post("/console/assisted", _walk_in(jonas, portal_sub="no-such-account-1234"))
    assert unknown.status_code == 422 and 'href="#portal_sub"' in unknown.text
    assert _counts(platform) == before


def test_name_or_birthdate_that_do_not_match_the_register_are_refused(
    platform: Platform,
) -> None:
    jonas, erika = _persona("jonas"), _persona("erika")
    assert erika.birthdate is not None
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    erika_before = _cockpit(platform, "erika")
    before = _counts(platform)

    # Jonas's IdNr with Erika's name and birth date.
    swapped = clerk.post(
        "/console/assisted",
        _walk_in(
            jonas,
            family_name=erika.family_name,
            given_names=erika.given_name,
            birthdate=erika.birthdate.strftime("%d.%m.%Y"),
        ),
    )
    assert swapped.status_code == 422, swapped.text
    text = unescape(swapped.text)
    for field in ("family_name", "given_names", "birthdate"):
        assert f'href="#{field}"' in text, field
    assert "stimmt nicht mit dem Melderegister" in text
    # What the register holds is never shown to whoever typed the IdNr (the list of recent
    # counter applications below the form is the department's own and not looked at).
    form_part = text.split("Zuletzt am Schalter aufgenommen")[0]
    assert jonas.family_name not in form_part and "1991" not in form_part
    # Only the birth date wrong: only that is named.
    wrong_birth = clerk.post("/console/assisted", _walk_in(jonas, birthdate="06.03.1991"))
    assert wrong_birth.status_code == 422
    assert 'href="#birthdate"' in wrong_birth.text
    assert 'href="#family_name"' not in wrong_birth.text
    assert 'href="#given_names"' not in wrong_birth.text
    assert _counts(platform) == before
    assert _cockpit(platform, "erika") == erika_before

    # In English, the same refusal.
    clerk.client.cookies.set("kd_lang", "en")
    english = clerk.post("/console/assisted", _walk_in(jonas, birthdate="06.03.1991"))
    assert english.status_code == 422
    assert "does not match the Melderegister" in unescape(english.text)


def test_correct_identification_makes_the_case_and_the_reads_the_persons_own(
    platform: Platform,
) -> None:
    jonas = _persona("jonas")
    assert jonas.idnr is not None
    clerk = ClerkBrowser(platform, "clerk-buergeramt")

    # Without an account: the case belongs to Jonas's counter pseudonym, and every read of
    # his data appears in his own cockpit (his eID login carries his IdNr), not in Erika's.
    plain = _app_id(
        clerk.post(
            "/console/assisted", _walk_in(jonas, given_names="jonas", family_name="SCHNEIDER")
        )
    )
    assert clerk.post(f"/console/assisted/{plain}", {}).status_code == 303
    case = _case_of(platform, plain)
    assert case is not None and case.citizen_sub == counter_pseudonym(jonas.idnr)
    mine = [r for r in _cockpit(platform, "jonas") if r["application_id"] == plain]
    assert mine and {r["registry"] for r in mine} == {"melderegister"}
    assert not [r for r in _cockpit(platform, "erika") if r["application_id"] == plain]

    # With his own account, after he logged in once: linked, shown in his portal.
    _portal_login(platform, "jonas")
    linked = _app_id(
        clerk.post(
            "/console/assisted",
            _walk_in(
                jonas,
                portal_sub=jonas.sub,
                document_kind="personalausweis",
                document_number="l01x00t47",
                document_authority="Stadt Köln",
            ),
        )
    )
    assert clerk.post(f"/console/assisted/{linked}", {}).status_code == 303
    case = _case_of(platform, linked)
    assert case is not None and case.citizen_sub == jonas.sub
    assert platform.api("jonas").get(f"/cases/{case.id}").status_code == 200
    assert platform.api("erika").get(f"/cases/{case.id}").status_code == 404
    assert [r for r in _cockpit(platform, "jonas") if r["application_id"] == linked]
    assert not [r for r in _cockpit(platform, "erika") if r["application_id"] == linked]
    with Session(engine(platform)) as session:
        link = session.get(AssistedApplication, linked)
        assert link is not None
        assert link.identification == "melderegister_ausweis" and link.trust_level == "hoch"
        assert (link.id_document_kind, link.id_document_number, link.id_document_authority) == (
            "personalausweis",
            "L01X00T47",
            "Stadt Köln",
        )


def test_without_a_register_entry_only_a_recorded_id_document_identifies(
    platform: Platform,
) -> None:
    tomasz = _persona("unbekannt")  # moved from abroad: the Melderegister does not know him
    assert tomasz.idnr is not None
    # The persona's IdNr fails the check digit; his with a correct one is just as unknown.
    idnr = tomasz.idnr[:10] + str(idnr_check_digit(tomasz.idnr[:10]))
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    before = _counts(platform)
    unknown = clerk.post("/console/assisted", _walk_in(tomasz, idnr=idnr))
    assert unknown.status_code == 422, unknown.text
    assert 'href="#idnr"' in unknown.text and 'href="#document_kind"' in unknown.text
    assert _counts(platform) == before

    app_id = _app_id(
        clerk.post(
            "/console/assisted",
            _walk_in(
                tomasz,
                idnr=idnr,
                document_kind="reisepass",
                document_number="C4J8R2XT1",
                document_authority="Urząd Wojewódzki Kraków",
            ),
        )
    )
    with Session(engine(platform)) as session:
        link = session.get(AssistedApplication, app_id)
        assert link is not None
        assert (link.identification, link.trust_level, link.id_document_kind) == (
            "ausweis",
            "hoch",
            "reisepass",
        )
        # An ID document does not show the IdNr: no registry is read by an unconfirmed one.
        reads = session.exec(
            select(RegistryAccess).where(RegistryAccess.application_id == app_id)
        ).all()
        assert reads == []
    draft = clerk.get(f"/console/assisted/{app_id}")
    assert draft.status_code == 200 and 'name="answer__familienname"' in draft.text


def test_an_unreachable_register_identifies_nobody(platform: Platform) -> None:
    registries = f"{platform.base_url}/sandbox/registries"
    jonas = _persona("jonas")
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    before = _counts(platform)
    httpx.put(f"{registries}/melderegister/faults", json={"down": True}, timeout=10)
    try:
        # Even with an ID document: the register's answer is what ties the IdNr to the person.
        down = clerk.post(
            "/console/assisted",
            _walk_in(
                jonas,
                document_kind="personalausweis",
                document_number="L01X00T47",
                document_authority="Stadt Köln",
            ),
        )
    finally:
        httpx.delete(f"{registries}/melderegister/faults", timeout=10).raise_for_status()
    assert down.status_code == 503, down.text
    assert "Melderegister ist gerade nicht erreichbar" in unescape(down.text)
    assert 'class="error-summary"' in down.text
    assert _counts(platform) == before
