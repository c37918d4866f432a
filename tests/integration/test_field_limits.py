"""Issue 14, item 4: a 300-character dog name was accepted, approved, and then the
Hundesteuerregister refused the write-back. The register's limit is now known at intake."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import Session

from backend.definitions.constraints import local_today
from backend.records.models import Application
from tests.conftest import Platform
from tests.integration.enginekit import engine
from tests.integration.portalkit import log_in, start
from tests.integration.test_api_flow import wait_for_settled
from tests.integration.test_console_assisted_http import _app_id, _persona, _walk_in
from tests.integration.test_console_kpis_http import ClerkBrowser

SERVICE = "hundesteuer-anmeldung"
REGISTER = "hundesteuerregister/v1"
DOG_NAME_LIMIT = 60
"""What the Hundesteuerregister stores of a dog's name (prefill/connectors/dogtax_register.py)."""


def _answers(hundename: str) -> dict[str, Any]:
    return {
        "hundename": hundename,
        "rasse": "mischling",
        "rasse_bezeichnung": "Dackel-Mischling",
        "haltungsbeginn": (local_today() - timedelta(days=3)).isoformat(),
        "weitere_hunde": 0,
    }


def _register_entries(platform: Platform, case_id: str | None = None) -> list[dict[str, Any]]:
    params = {"case_id": case_id} if case_id else {}
    r = httpx.get(f"{platform.settings.registry_base_url}/{REGISTER}/_eintraege", params=params)
    r.raise_for_status()
    entries: list[dict[str, Any]] = r.json()["eintraege"]
    return entries


def test_a_300_character_dog_name_is_refused_at_intake_naming_the_field_and_nothing_is_stored(
    platform: Platform,
) -> None:
    api = platform.api("jonas")
    application = api.post("/applications", json={"service": SERVICE}).json()
    url = f"/applications/{application['id']}"

    r = api.patch(url, json={"answers": _answers("B" * 300)})

    assert r.status_code == 422, r.text
    [detail] = r.json()["details"]
    assert detail["field"] == "hundename"
    assert detail["message"] == "Name of the dog must be 60 characters or fewer (now 300)."
    assert detail["message_de"] == (
        "Name des Hundes darf höchstens 60 Zeichen lang sein (jetzt 300)."
    )
    stored = {f["id"]: f["value"] for f in api.get(url).json()["fields"]}
    assert stored["hundename"] is None and stored["rasse_bezeichnung"] is None
    assert api.post(f"{url}/submit").status_code == 422
    assert api.get(url).json()["status"] == "draft"
    # API clients can know the limit before they send.
    fields = {f["id"]: f for f in application["fields"]}
    assert fields["hundename"]["max_length"] == DOG_NAME_LIMIT
    assert fields["weitere_hunde"]["max_length"] is None  # bounded by its type

    # At the limit the whole way works: accepted, decided, entered in the register.
    name = "B" * DOG_NAME_LIMIT
    assert api.patch(url, json={"answers": _answers(name)}).status_code == 200
    submitted = api.post(f"{url}/submit")
    assert submitted.status_code == 200, submitted.text
    case_id = submitted.json()["case_id"]
    case = wait_for_settled(api, case_id)
    assert case["status"] == "notified" and case["decision"]["outcome"] == "approved", case
    [entry] = _register_entries(platform, case_id)
    assert entry["eintrag"]["hundename"] == name


def test_the_portal_form_caps_the_input_and_refuses_a_longer_name_with_the_limit(
    platform: Platform,
) -> None:
    citizen = log_in(platform, "jonas")
    application = start(citizen, SERVICE)
    page = f"/applications/{application}/topics/hund"
    form = citizen.get(page).text
    assert 'name="answer__hundename" value="" id="in-hundename" maxlength="60"' in form

    r = citizen.post(page, {"answer__hundename": "B" * 300, "answer__rasse": "mischling"})

    assert r.status_code == 422
    assert "Name des Hundes darf höchstens 60 Zeichen lang sein (jetzt 300)." in r.text
    assert 'href="#in-hundename"' in r.text


def test_the_sandbox_register_refuses_a_name_longer_than_it_declares(platform: Platform) -> None:
    """The register keeps its own rule, as a real one would: the old failure stays reproducible."""
    headers = {
        "X-Purpose": "Test",
        "X-Legal-Basis": "Test",
        "X-Service": SERVICE,
        "X-Actor": "test",
        "X-Case-Id": "laengen-test",
        "Idempotency-Key": "laengen-test",
    }
    record = {
        "halter": "Jonas Schneider",
        "anschrift": "Venloer Straße 210, 50823 Köln",
        "hundename": "B" * (DOG_NAME_LIMIT + 1),
        "rasse": "Dackel",
        "anmeldedatum": "2026-01-01",
        "jahressteuer": "156.00",
        "aktenzeichen": "HST-1",
    }
    url = f"{platform.settings.registry_base_url}/{REGISTER}/hunde"
    r = httpx.post(url, json=record, headers=headers)
    assert r.status_code == 422
    assert r.json()["fehler"] == "eintrag_ungueltig"
    assert [d["feld"] for d in r.json()["details"]] == ["hundename"]
    assert _register_entries(platform, "laengen-test") == []


def test_an_assisted_application_at_the_counter_refuses_an_over_long_answer(
    platform: Platform,
) -> None:
    """The console's form goes through the same intake: the clerk sees the field and limit."""
    clerk = ClerkBrowser(platform, "clerk-buergeramt")
    started = clerk.post("/console/assisted", _walk_in(_persona("jonas"), service="beglaubigung"))
    app_id = _app_id(started)
    draft = clerk.get(f"/console/assisted/{app_id}")
    assert 'id="in-dokument" maxlength="80"' in draft.text

    refused = clerk.post(
        f"/console/assisted/{app_id}",
        {"answer__anzahl": "2", "answer__dokument": "Zeugnis " + "x" * 300},
    )

    assert refused.status_code == 422
    assert (
        "Zu beglaubigendes Dokument darf höchstens 80 Zeichen lang sein (jetzt 308)."
        in refused.text
    )
    with Session(engine(platform)) as session:
        application = session.get(Application, app_id)
        assert application is not None
        assert application.status == "draft" and application.answers == {}
