"""Cases run under their tenant (issue 13, items 3-5): routed by residence, decided with the
town's fee, office and court, and seen only by that town's clerks.

The session platform carries the repository's tenants (tests/conftest.py): Köln is the home
tenant, Bergheim (NRW) and Neuenhaus (Lower Saxony) are others. Everything here goes through the
running platform: the API, the worker, the sandbox registries, payment platform and identity
provider.
"""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, col, select

from backend.notices.models import IssuedNotice, NoticeKey
from backend.notices.signing import rotate_key
from backend.payments.models import Payment
from backend.records.models import Application, Case, RegistryAccess
from sandbox.personas import persona_by_id
from tests.conftest import Platform
from tests.integration.enginekit import (
    engine,
    messages_of,
    pay_on_hosted_page,
    submit,
    wait_for_status,
    wait_until,
)

PARKING = "anwohnerparkausweis"


def console_api(platform: Platform, persona: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{platform.base_url}/api/v1/console",
        timeout=60,
        headers={"Authorization": f"Bearer {platform.token(persona)}"},
    )


def pdf_text(pdf: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    )
    return " ".join(done.stdout.split())


def paid_permit(platform: Platform, persona: str) -> tuple[httpx.Client, str, dict[str, Any]]:
    """A parking permit applied for, paid on the hosted page and announced."""
    api = platform.api(persona)
    case_id = submit(api, PARKING)
    wait_for_status(api, case_id, {"awaiting_payment"}, timeout=60)

    def opened() -> dict[str, Any] | None:
        payment: dict[str, Any] = api.get(f"/cases/{case_id}/payment").json()
        return payment if payment.get("pay_url") else None

    payment = wait_until(opened, "payment opened at the provider")
    assert pay_on_hosted_page(payment["pay_url"]).status_code < 400
    wait_for_status(api, case_id, {"notified"}, timeout=60)
    return api, case_id, payment


def notice_text(api: httpx.Client, case_id: str, tmp_path: Path) -> str:
    case = api.get(f"/cases/{case_id}").json()
    notice = next(d for d in case["documents"] if d["kind"] == "notice")
    pdf = api.get(notice["url"].removeprefix("/api/v1"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    return pdf_text(pdf.content, tmp_path, case_id)


def test_the_same_permit_in_two_towns_gives_each_towns_fee_office_and_court(
    platform: Platform, tmp_path: Path
) -> None:
    koeln_api, koeln_case, koeln_payment = paid_permit(platform, "katrin")
    bergheim_api, bergheim_case, bergheim_payment = paid_permit(platform, "stefan")

    # The case keeps its authority for life; rows of the home tenant (Köln) carry none.
    assert koeln_api.get(f"/cases/{koeln_case}").json()["tenant"] is None
    assert bergheim_api.get(f"/cases/{bergheim_case}").json()["tenant"] == "bergheim"
    with Session(engine(platform)) as session:
        cases = {c.id: c for c in session.exec(select(Case).where(col(Case.id).in_(
            [koeln_case, bergheim_case]))).all()}  # fmt: skip
        payments = {
            p.case_id: p
            for p in session.exec(
                select(Payment).where(col(Payment.case_id).in_([koeln_case, bergheim_case]))
            ).all()
        }
    assert cases[koeln_case].department == "strassenverkehrsamt"
    assert cases[bergheim_case].department == "bergheim.strassenverkehrsamt"
    # Bergheim's Gebührensatzung: 60 € from 2026; Köln's 100 €. Each booked to its own budget.
    assert Decimal(str(payments[bergheim_case].amount)) == Decimal("60")
    assert Decimal(str(payments[koeln_case].amount)) == Decimal("100")
    assert payments[bergheim_case].items[0]["booking"]["kassenzeichen_prefix"] == "BM62"
    assert bergheim_payment["amount"] != koeln_payment["amount"]

    bergheim = notice_text(bergheim_api, bergheim_case, tmp_path)
    koeln = notice_text(koeln_api, koeln_case, tmp_path)
    assert "Stadt Bergheim – Straßenverkehrsbehörde" in bergheim
    assert "Stadt Bergheim · Bethlehemer Straße 9–11, 50126 Bergheim" in bergheim  # sender
    assert "Stadt Köln" not in bergheim, "Köln's letterhead or office on Bergheim's notice"
    # NRW has no Widerspruch (§ 110 JustG NRW): the remedy is an action at Bergheim's court.
    assert "Klage beim Verwaltungsgericht Köln" in bergheim
    assert "Gebührensatzung für Bewohnerparkausweise der Stadt Bergheim" in bergheim
    # Every value names the office that keeps it: Bergheim's register, not Köln's.
    assert "Melderegister (Stadt Bergheim – Meldebehörde)" in bergheim
    assert "60,00" in bergheim and "100,00" not in bergheim
    assert "Stadt Köln – Amt für Straßen und Verkehrsentwicklung" in koeln
    # The mailbox message about the decision is signed by the town that decided.
    (decision,) = [m for m in messages_of(bergheim_api, bergheim_case) if m["kind"] == "decision"]
    assert decision["body"]["de"].endswith("Stadt Bergheim – Straßenverkehrsbehörde")
    assert "Bergheim" not in koeln and "100,00" in koeln


def test_only_the_towns_own_clerks_see_its_cases_even_in_an_office_of_the_same_name(
    platform: Platform,
) -> None:
    api = platform.api("stefan")
    case_id = submit(api, PARKING)
    wait_for_status(api, case_id, {"awaiting_payment", "notified"}, timeout=60)
    bergheim, koeln = (
        console_api(platform, "clerk-bergheim"),
        console_api(platform, "clerk-verkehr"),
    )

    seen = bergheim.get(f"/cases/{case_id}")
    assert seen.status_code == 200, seen.text
    assert koeln.get(f"/cases/{case_id}").status_code == 404
    assert koeln.post(f"/cases/{case_id}/assign", json={}).status_code == 404
    assert seen.json()["reference"] not in koeln.get("/worklist.csv").text
    assert bergheim.get("/me").json()["department"] == "bergheim.strassenverkehrsamt"
    # Each office lists its own town's version of the service.
    assert [s["id"] for s in bergheim.get("/services").json()] == [PARKING]
    assert PARKING in [s["id"] for s in koeln.get("/services").json()]

    # And the other way round: Köln's case is not Bergheim's.
    koeln_case = submit(platform.api("katrin"), PARKING)
    wait_for_status(platform.api("katrin"), koeln_case, {"awaiting_payment", "notified"})
    assert koeln.get(f"/cases/{koeln_case}").status_code == 200
    assert bergheim.get(f"/cases/{koeln_case}").status_code == 404
    # Neuenhaus's clerk sees neither.
    neuenhaus = console_api(platform, "clerk-neuenhaus")
    assert neuenhaus.get(f"/cases/{case_id}").status_code == 404
    assert neuenhaus.get(f"/cases/{koeln_case}").status_code == 404


def test_a_resident_whose_authority_is_not_here_is_told_who_is_competent(
    platform: Platform,
) -> None:
    persona = persona_by_id("hanna")
    assert persona is not None
    api = platform.api("hanna")
    refused = api.post("/applications", json={"service": PARKING})
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["error"] == "not_competent"
    # In Lower Saxony the Landkreis (Grafschaft Bentheim, 03456) issues parking permits.
    assert "der Kreis mit dem Regionalschlüssel 034560000000" in body["message"]
    with Session(engine(platform)) as session:
        drafts = session.exec(
            select(Application).where(Application.citizen_sub == persona.sub)
        ).all()
        reads = session.exec(
            select(RegistryAccess).where(RegistryAccess.subject_sub == persona.sub)
        ).all()
    assert drafts == [], "a draft at an authority that is not competent"
    # The one read routing took (the municipality key, no address) is not logged to a draft
    # that never existed; nothing else was read.
    assert all(r.attributes_requested == ["anschrift.gemeindeschluessel"] for r in reads)


def test_a_chosen_town_does_not_override_the_register_for_a_residence_service(
    platform: Platform,
) -> None:
    api = platform.api("stefan")
    refused = api.post("/applications", json={"service": PARKING, "tenant": "koeln"})
    assert refused.status_code == 409 and refused.json()["error"] == "not_competent"
    assert "Stadt Bergheim" in refused.json()["message"]
    # Bergheim itself, or no choice, goes to Bergheim.
    chosen = api.post("/applications", json={"service": PARKING, "tenant": "bergheim"})
    assert chosen.status_code == 201 and chosen.json()["tenant"] == "bergheim"


def test_a_defect_goes_to_the_town_where_it_lies_not_where_the_reporter_lives(
    platform: Platform,
) -> None:
    # Katrin lives in Köln and reports a defect in Neuenhaus: Neuenhaus decides.
    api = platform.api("katrin")
    there = api.post("/applications", json={"service": "maengelmelder", "tenant": "neuenhaus"})
    assert there.status_code == 201, there.text
    assert there.json()["tenant"] == "neuenhaus"
    # Without a choice, the home tenant (the platform grew from Köln).
    home = api.post("/applications", json={"service": "maengelmelder"})
    assert home.status_code == 201 and home.json()["tenant"] is None
    # A town that does not offer it, or none at all, is refused.
    assert (
        api.post(
            "/applications", json={"service": "maengelmelder", "tenant": "atlantis"}
        ).status_code
        == 404
    )


def test_the_routing_read_is_shown_in_the_data_cockpit(platform: Platform) -> None:
    persona = persona_by_id("stefan")
    assert persona is not None
    api = platform.api("stefan")
    started = api.post("/applications", json={"service": PARKING})
    assert started.status_code == 201
    with Session(engine(platform)) as session:
        reads = session.exec(
            select(RegistryAccess).where(RegistryAccess.application_id == started.json()["id"])
        ).all()
    routing = [r for r in reads if r.attributes_requested == ["anschrift.gemeindeschluessel"]]
    assert len(routing) == 1
    assert "Zuständig" in routing[0].purpose and routing[0].outcome == "ok"


def test_pausing_automation_in_one_town_leaves_the_others_running(platform: Platform) -> None:
    koeln, bergheim = (
        console_api(platform, "clerk-verkehr"),
        console_api(platform, "clerk-bergheim"),
    )
    paused = koeln.post(
        f"/services/{PARKING}/automation", json={"paused": True, "reason": "Zonenplan neu"}
    )
    assert paused.status_code == 200, paused.text
    try:
        assert bergheim.get("/services").json()[0]["paused"] is False
        # Bergheim's resident is still decided by the machine; Köln's goes to a person.
        api = platform.api("stefan")
        decided = submit(api, PARKING)
        wait_for_status(api, decided, {"awaiting_payment"}, timeout=60)
        referred = submit(platform.api("katrin"), PARKING)
        wait_for_status(platform.api("katrin"), referred, {"referred"}, timeout=60)
        # Bergheim's supervisor switches only Bergheim's service.
        own = bergheim.post(
            f"/services/{PARKING}/automation", json={"paused": True, "reason": "Prüfung"}
        )
        assert own.status_code == 200
        assert (
            bergheim.post(
                f"/services/{PARKING}/automation", json={"paused": False, "reason": "Ende"}
            ).status_code
            == 200
        )
        assert [s["paused"] for s in koeln.get("/services").json() if s["id"] == PARKING] == [True]
    finally:
        resumed = koeln.post(
            f"/services/{PARKING}/automation", json={"paused": False, "reason": "Fertig"}
        )
        assert resumed.status_code == 200, resumed.text


def test_the_data_centre_sees_every_tenants_counts_and_no_case(platform: Platform) -> None:
    api = platform.api("stefan")
    case_id = submit(api, PARKING)
    wait_for_status(api, case_id, {"awaiting_payment", "notified"}, timeout=60)
    operator = console_api(platform, "operator")
    overview = operator.get("/operator")
    assert overview.status_code == 200, overview.text
    rows = {row["tenant"]: row for row in overview.json()["tenants"]}
    assert next(iter(rows)) == "koeln" and rows["koeln"]["home"] is True
    assert {"koeln", "bergheim", "neuenhaus"} <= set(rows)
    assert sum(rows["bergheim"]["cases_by_status"].values()) >= 1
    assert rows["bergheim"]["services"] == [
        "anwohnerparkausweis", "hundesteuer-anmeldung", "maengelmelder", "meldebescheinigung"
    ]  # fmt: skip
    # Counts and configuration only: no reference, no case id, no name of anyone.
    text = overview.text
    reference = api.get(f"/cases/{case_id}").json()["reference"]
    assert case_id not in text and reference not in text and "Stefan" not in text
    # Case routes and department figures check the role first: 403 for any id, so the
    # answer reveals nothing about the case.
    assert operator.get(f"/cases/{case_id}").status_code == 403
    assert operator.get(f"/cases/{'0' * 32}").status_code == 403
    assert operator.get("/worklist").status_code == 403
    # And a town's clerk does not get the data centre's view.
    assert console_api(platform, "clerk-bergheim").get("/operator").status_code == 403


def test_tenant_addresses_and_their_neighbours(platform: Platform) -> None:
    web = httpx.Client(base_url=platform.base_url, timeout=30, follow_redirects=False)
    assert web.get("/bergheim").headers["location"] == "/bergheim/"
    page = web.get("/bergheim/")
    assert page.status_code == 200 and "Online-Dienste: Stadt Bergheim" in page.text
    assert page.cookies.get("kd_place") == "bergheim"
    # Not a tenant: the page that does not exist, as before tenancy.
    assert web.get("/atlantis/").status_code == 404
    assert web.get("/atlantis/services/anwohnerparkausweis").status_code == 404
    # A portal path with a trailing slash still finds its page.
    assert web.get("/services/").headers["location"] == "/services"
    # A service the town has not activated is not offered there; a federal one has one page.
    assert web.get("/neuenhaus/services/anwohnerparkausweis").status_code == 404
    assert web.get("/neuenhaus/services/kindergeld").headers["location"] == "/services/kindergeld"
    logo = web.get("/bergheim/logo")
    assert logo.status_code == 200 and logo.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'none'" in logo.headers["content-security-policy"]
    assert web.get("/neuenhaus/logo").status_code in (200, 404)
    # The place picker finds towns by postcode and by name, and says when none is here.
    assert "Stadt Bergheim" in web.get("/orte", params={"q": "50127"}).text
    assert "Stadt Neuenhaus" in web.get("/orte", params={"q": "neuen"}).text
    assert "nutzt diese Plattform nicht" in web.get("/orte", params={"q": "99999"}).text


def _notice_token(platform: Platform, case_id: str) -> tuple[str, str]:
    """The kid and the verification token of a case's first signed document."""
    with Session(engine(platform)) as session:
        notice = session.exec(select(IssuedNotice).where(IssuedNotice.case_id == case_id)).first()
    assert notice is not None, "no signed document"
    return notice.kid, notice.token


def _verdict(platform: Platform, token: str) -> str:
    page = httpx.get(f"{platform.base_url}/verify", params={"t": token}, timeout=30)
    found = re.search(r'data-verdict="([a-z]+)"', page.text)
    assert found, page.text[:300]
    return found.group(1)


def test_each_tenant_signs_with_its_own_key_and_rotates_it_alone(platform: Platform) -> None:
    def decided(persona: str) -> str:
        api = platform.api(persona)
        case_id = submit(api, "meldebescheinigung")
        wait_for_status(api, case_id, {"notified"}, timeout=60)
        return case_id

    bergheim_before, koeln_case = decided("stefan"), decided("erika")
    bergheim_kid, bergheim_token = _notice_token(platform, bergheim_before)
    koeln_kid, koeln_token = _notice_token(platform, koeln_case)
    assert bergheim_kid != koeln_kid
    with Session(engine(platform)) as session:
        keys = {key.kid: key.tenant for key in session.exec(select(NoticeKey)).all()}
    assert keys[bergheim_kid] == "bergheim" and keys[koeln_kid] is None

    # Bergheim rotates its key: its next notice has a new one, everything signed before, by
    # Bergheim and by Köln, still verifies, and Köln keeps its key.
    assert rotate_key(platform.settings.data_dir, "bergheim") is not None
    bergheim_after = decided("stefan")
    new_kid, _token = _notice_token(platform, bergheim_after)
    assert new_kid not in (bergheim_kid, koeln_kid)
    assert _verdict(platform, bergheim_token) == "genuine"
    assert _verdict(platform, koeln_token) == "genuine"
    assert _notice_token(platform, decided("erika"))[0] == koeln_kid
