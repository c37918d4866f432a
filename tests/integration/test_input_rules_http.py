"""Issue 21, item 4 over real HTTP: the Mängelmelder took a report with no location and a
longitude of 999, the Hundesteuer "-1" dogs and a start in 2027, and "31.02.2025" got "enter as
Tag.Monat.Jahr" while "1.3.25" was refused. The definitions' input rules now hold in the portal
and the API alike, with field-level errors in German and English."""

from __future__ import annotations

from datetime import timedelta
from html import unescape
from typing import Any

from backend.definitions.constraints import local_today
from tests.conftest import Platform
from tests.integration.portalkit import Citizen, log_in, start


def _topic(citizen: Citizen, application: str, topic: str, answers: dict[str, str]) -> Any:
    data = {f"answer__{key}": value for key, value in answers.items()} | {"action": "continue"}
    return citizen.post(f"/applications/{application}/topics/{topic}", data)


def _summary(page: str) -> str:
    return unescape(page)


def test_the_portal_wants_a_place_in_cologne_for_a_waste_report(platform: Platform) -> None:
    citizen = log_in(platform, "erika")
    application = start(citizen, "maengelmelder")

    nothing = _topic(citizen, application, "ort", {})
    assert nothing.status_code == 422
    assert (
        "Geben Sie Straße und Postleitzahl an oder, wenn es keine Anschrift gibt, Breiten- und "
        "Längengrad." in _summary(nothing.text)
    )
    assert 'href="#in-fundort_strasse"' in nothing.text
    # The page is not "Erledigt" on the task list.
    hub = citizen.get(f"/applications/{application}").text
    assert "Erledigt" not in hub.split("Wo liegt der Müll?")[1].split("</li>")[0]

    far = _topic(citizen, application, "ort", {"breitengrad": "50,9413", "laengengrad": "999"})
    assert far.status_code == 422
    assert (
        "Längengrad (z. B. 6.9583): Geben Sie eine Zahl von 6,76 bis 7,17 ein. Das Ordnungsamt "
        "Köln kann nur Meldungen aus dem Kölner Stadtgebiet bearbeiten." in _summary(far.text)
    )

    half = _topic(citizen, application, "ort", {"breitengrad": "50,9413"})
    assert half.status_code == 422
    assert "Bitte geben Sie auch „Längengrad (z. B. 6.9583)“ an." in _summary(half.text)

    citizen.client.cookies.set("kd_lang", "en")
    english = _topic(citizen, application, "ort", {"fundort_strasse": "Heidestraße 20"})
    assert english.status_code == 422
    assert "Also enter 'Postcode'." in _summary(english.text)
    bonn = _topic(
        citizen, application, "ort", {"fundort_strasse": "Ring 1", "fundort_plz": "53113"}
    )
    assert bonn.status_code == 422
    # Köln's overlay (the home tenant, tenants/koeln) bounds the postcode to Köln's own.
    assert "Postcode: Enter it like this: a Cologne postcode, for example 50667." in _summary(
        bonn.text
    )

    placed = _topic(
        citizen, application, "ort", {"breitengrad": "50.9413", "laengengrad": "6.9583"}
    )
    assert placed.status_code == 303, placed.text
    hub = citizen.get(f"/applications/{application}").text
    assert "Completed" in hub.split("Where is the waste?")[1].split("</li>")[0]


def test_the_portal_reads_dates_as_typed_and_refuses_dogs_that_cannot_be(
    platform: Platform,
) -> None:
    citizen = log_in(platform, "jonas")
    application = start(citizen, "hundesteuer-anmeldung")
    dog = {"hundename": "Luna", "rasse": "andere", "rasse_bezeichnung": "Dackel"}

    impossible = _topic(citizen, application, "hund", dog | {"haltungsbeginn": "31.02.2025"})
    assert impossible.status_code == 422
    assert "Hund gehalten seit: Den 31. Februar gibt es nicht." in _summary(impossible.text)
    assert 'value="31.02.2025"' in impossible.text  # what was typed stays in the field

    next_year = f"1.3.{local_today().year + 1}"
    future = _topic(citizen, application, "hund", dog | {"haltungsbeginn": next_year})
    assert future.status_code == 422
    assert (
        "Hund gehalten seit: Das Datum darf nicht in der Zukunft liegen. Einen Hund melden Sie "
        "an, sobald Sie ihn halten (§ 7 Abs. 1 Hundesteuersatzung)." in _summary(future.text)
    )

    short = _topic(citizen, application, "hund", dog | {"haltungsbeginn": "1.3.25"})
    assert short.status_code == 303, short.text
    form = citizen.get(f"/applications/{application}/topics/hund").text
    assert 'value="01.03.2025"' in form

    citizen.client.cookies.set("kd_lang", "en")
    minus = _topic(citizen, application, "haushalt", {"weitere_hunde": "-1"})
    assert minus.status_code == 422
    assert (
        "How many dogs of your household are already registered?: Enter a number from 0 to 50."
        in _summary(minus.text)
    )
    assert _topic(citizen, application, "haushalt", {"weitere_hunde": "1"}).status_code == 303


def test_the_api_gives_field_level_errors_in_both_languages_and_stores_nothing(
    platform: Platform,
) -> None:
    api = platform.api("katrin")
    created = api.post("/applications", json={"service": "hundesteuer-anmeldung"}).json()
    url = f"/applications/{created['id']}"
    fields = {f["id"]: f for f in created["fields"]}
    assert (fields["weitere_hunde"]["minimum"], fields["weitere_hunde"]["maximum"]) == (0, 50)
    assert fields["haltungsbeginn"]["not_after"] == local_today().isoformat()

    refused = api.patch(
        url, json={"answers": {"weitere_hunde": -1, "haltungsbeginn": "2025-02-31"}}
    )
    assert refused.status_code == 422, refused.text
    details = {d["field"]: d for d in refused.json()["details"]}
    assert details["weitere_hunde"]["message"] == "Enter a number from 0 to 50."
    assert details["weitere_hunde"]["message_de"] == "Geben Sie eine Zahl von 0 bis 50 ein."
    assert details["haltungsbeginn"]["message"] == "There is no 31 February."
    assert details["haltungsbeginn"]["message_de"] == "Den 31. Februar gibt es nicht."
    stored = {f["id"]: f["value"] for f in api.get(url).json()["fields"]}
    assert stored["weitere_hunde"] is None and stored["haltungsbeginn"] is None

    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    future = api.patch(url, json={"answers": {"haltungsbeginn": tomorrow}})
    assert future.status_code == 422
    assert future.json()["details"][0]["message"].startswith("The date cannot be in the future.")

    taken = api.patch(url, json={"answers": {"weitere_hunde": 0, "haltungsbeginn": "1.3.25"}})
    assert taken.status_code == 200, taken.text
    stored = {f["id"]: f["value"] for f in api.get(url).json()["fields"]}
    assert stored["weitere_hunde"] == 0 and stored["haltungsbeginn"] == "2025-03-01"


def test_the_api_will_not_submit_a_waste_report_without_a_place(platform: Platform) -> None:
    api = platform.api("bernd")
    created = api.post("/applications", json={"service": "maengelmelder"}).json()
    url = f"/applications/{created['id']}"
    answers = {"kategorie": "sperrmuell", "beschreibung": "Ein Sofa."}
    assert api.patch(url, json={"answers": answers}).status_code == 200

    far = api.patch(url, json={"answers": {"breitengrad": "50.9", "laengengrad": "999"}})
    assert far.status_code == 422
    [detail] = far.json()["details"]
    assert detail["field"] == "laengengrad"
    assert detail["message"] == (
        "Enter a number from 6.76 to 7.17. The Cologne Ordnungsamt can only handle reports "
        "from within the city of Cologne."
    )

    submitted = api.post(f"{url}/submit")
    assert submitted.status_code == 422, submitted.text
    details = {d["field"]: d for d in submitted.json()["details"]}
    assert details["fundort_strasse"]["message"] == (
        "Give the street and postcode or, if there is no address, the latitude and longitude."
    )
    assert details["fundort_strasse"]["message_de"].startswith("Geben Sie Straße und Postleitzahl")
    assert api.get(url).json()["status"] == "draft"
