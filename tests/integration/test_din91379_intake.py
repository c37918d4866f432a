"""Issue 20, item 6: an emoji in a dog's name printed as a missing glyph and broke PDF/A. Intake
now refuses what DIN 91379 does not hold, naming field and character, and stores nothing; a name
from across the list goes through to the notice and prints."""

from __future__ import annotations

import io

from pypdf import PdfReader
from sqlmodel import Session

from backend.records.models import Application
from tests.conftest import Platform
from tests.integration.enginekit import engine
from tests.integration.portalkit import log_in, start
from tests.integration.test_api_flow import wait_for_settled
from tests.integration.test_console_assisted_http import _app_id, _persona, _walk_in
from tests.integration.test_console_kpis_http import ClerkBrowser
from tests.integration.test_field_limits import SERVICE, _answers, _register_entries

DOG_FACE_DE = (
    "Name des Hundes: Das Zeichen U+1F436 (DOG FACE) an Stelle 7 ist in Namen und Anschriften "
    "nicht zulässig (DIN 91379)."
)


def test_an_emoji_in_the_dog_name_is_refused_at_intake_naming_field_and_code_point(
    platform: Platform,
) -> None:
    api = platform.api("jonas")
    application = api.post("/applications", json={"service": SERVICE}).json()
    url = f"/applications/{application['id']}"

    r = api.patch(url, json={"answers": _answers("Bello 🐶")})

    assert r.status_code == 422, r.text
    [detail] = r.json()["details"]
    assert detail["field"] == "hundename"
    assert detail["message_de"] == DOG_FACE_DE
    assert detail["message"] == (
        "Name of the dog: the character U+1F436 (DOG FACE) at position 7 is not allowed in "
        "names and addresses (DIN 91379)."
    )
    stored = {f["id"]: f["value"] for f in api.get(url).json()["fields"]}
    assert stored["hundename"] is None and stored["rasse_bezeichnung"] is None
    assert api.post(f"{url}/submit").status_code == 422
    assert api.get(url).json()["status"] == "draft"
    # API clients can know the data type before they send.
    fields = {f["id"]: f for f in application["fields"]}
    assert fields["hundename"]["charset"] == "din91379-b"
    assert fields["familienname"]["charset"] == "din91379-a"
    assert fields["weitere_hunde"]["charset"] is None


def test_a_name_from_across_the_list_is_accepted_decided_registered_and_printed(
    platform: Platform,
) -> None:
    api = platform.api("jonas")
    application = api.post("/applications", json={"service": SERVICE}).json()
    url = f"/applications/{application['id']}"
    name = "Łukasz Ñúñez-Øster"

    assert api.patch(url, json={"answers": _answers(name)}).status_code == 200
    submitted = api.post(f"{url}/submit")
    assert submitted.status_code == 200, submitted.text
    case = wait_for_settled(api, submitted.json()["case_id"])

    assert case["status"] == "notified" and case["decision"]["outcome"] == "approved", case
    [entry] = _register_entries(platform, case["id"])
    assert entry["eintrag"]["hundename"] == name
    [document] = case["documents"]
    pdf = api.get(f"/cases/{case['id']}/documents/{document['id']}").content
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert f"„{name}“" in text


def test_the_portal_form_refuses_an_emoji_with_the_field_and_character(platform: Platform) -> None:
    citizen = log_in(platform, "jonas")
    application = start(citizen, SERVICE)
    page = f"/applications/{application}/topics/hund"

    r = citizen.post(page, {"answer__hundename": "Bello 🐶", "answer__rasse": "mischling"})

    assert r.status_code == 422
    assert DOG_FACE_DE in r.text
    assert 'href="#in-hundename"' in r.text
    with Session(engine(platform)) as session:
        stored = session.get(Application, application)
        assert stored is not None and "hundename" not in stored.answers


def test_an_assisted_application_at_the_counter_refuses_an_emoji(platform: Platform) -> None:
    """The console's form goes through the same intake: the clerk sees field and character."""
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    started = clerk.post("/console/assisted", _walk_in(_persona("jonas"), service="beglaubigung"))
    app_id = _app_id(started)

    refused = clerk.post(
        f"/console/assisted/{app_id}", {"answer__anzahl": "2", "answer__dokument": "Zeugnis ✅"}
    )

    assert refused.status_code == 422
    assert "U+2705 (WHITE HEAVY CHECK MARK) an Stelle 9" in refused.text
    with Session(engine(platform)) as session:
        application = session.get(Application, app_id)
        assert application is not None
        assert application.status == "draft" and application.answers == {}


def test_a_remark_and_a_dispute_keep_to_data_type_c_because_the_receipt_prints_them(
    platform: Platform,
) -> None:
    api = platform.api("jonas")
    application = api.post("/applications", json={"service": SERVICE}).json()
    url = f"/applications/{application['id']}"

    r = api.patch(url, json={"remark": "Bitte schnell 🙏\nDanke, ½ Jahr alt"})
    assert r.status_code == 422, r.text
    [detail] = r.json()["details"]
    assert detail["field"] == "remark"
    assert "U+1F64F (PERSON WITH FOLDED HANDS) an Stelle 15" in detail["message_de"]

    r = api.patch(url, json={"disputes": {"familienname": "Heißt „Schneider“ ✗"}})
    assert r.status_code == 422, r.text
    [detail] = r.json()["details"]
    assert detail["field"] == "familienname" and "U+201E" in detail["message"]

    assert (
        api.patch(url, json={"remark": "Danke!\nDer Hund ist ½ Jahr alt (§ 2)."}).status_code == 200
    )
    assert api.get(url).json()["remark"] == "Danke!\nDer Hund ist ½ Jahr alt (§ 2)."


def test_the_counter_refuses_a_walk_in_name_outside_data_type_a(platform: Platform) -> None:
    """The clerk types the name from the ID card; a digit or symbol there is a typing error."""
    clerk = ClerkBrowser(platform, "clerk-buergeramt")

    refused = clerk.post("/console/assisted", _walk_in(_persona("jonas"), family_name="Schneider2"))

    assert refused.status_code == 422
    assert "Familienname: Das Zeichen U+0032 (DIGIT TWO) an Stelle 10" in refused.text
