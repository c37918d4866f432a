"""The portal over real HTTP tells what the registers decided before the citizen submits, asks
nothing a register answered, and words and explains the outcome as the notice does.

Before issue 20, Bernd (no residents' parking zone at his address) was asked for a zone
"(freiwillig)" though the Geodaten had answered, learned of the refusal only after sending, and
his case page listed "Die Geodaten nennen das Bewohnerparkgebiet Ihrer Wohnung" next to it.
"""

from __future__ import annotations

import re
from html import unescape

from tests.conftest import Platform
from tests.integration.enginekit import messages_of, submit, wait_for_status
from tests.integration.portalkit import log_in, start, wait_settled

ZONE_REFUSED = "Nach den Geodaten der Stadt liegt Ihre Wohnung in keinem Bewohnerparkgebiet"


def _text(html: str) -> str:
    return " ".join(unescape(html).split())


def test_bernd_is_warned_before_submitting_and_not_asked_for_a_zone(platform: Platform) -> None:
    citizen = log_in(platform, "bernd")
    application = start(citizen, "anwohnerparkausweis")
    base = f"/applications/{application}"
    held = citizen.get(f"{base}/held")
    assert held.status_code == 200
    assert 'name="answer__parkzone"' not in held.text
    assert citizen.post(f"{base}/held").status_code == 303
    # No question page asks for the zone: his one vehicle is named by the register too.
    assert citizen.get(f"{base}/topics/angaben").status_code == 404
    check = citizen.get(f"{base}/check")
    assert check.status_code == 200
    page = _text(check.text)
    assert "Bewohnerparkgebiet (freiwillig)" not in page and "answer__parkzone" not in page
    outlook = page.split("data-outlook>", 1)[1].split("</div>", 1)[0]
    assert "Was die Register schon sagen" in outlook and ZONE_REFUSED in outlook
    assert "Ihr Antrag wird daher voraussichtlich abgelehnt." in outlook
    assert "Sie können trotzdem absenden" in outlook
    assert "Fahrzeug" not in outlook
    # Typing a zone anyway is refused and changes nothing.
    typed = platform.api("bernd").patch(
        f"/applications/{application}", json={"answers": {"parkzone": "K-12"}}
    )
    assert typed.status_code == 422
    assert "Register hat dazu geantwortet" in typed.text
    assert "K-12" not in citizen.get(f"{base}/check").text
    # He may still apply: the refusal states only what failed.
    sent = citizen.submit(application)
    assert sent.status_code == 303, sent.text
    match = re.fullmatch(r"/cases/([0-9a-f]{32})/submitted", sent.headers["location"])
    assert match is not None
    case_id = match.group(1)
    assert wait_settled(citizen, case_id) in ("decided", "notified")
    case_page = _text(citizen.get(f"/cases/{case_id}").text)
    assert "Ihr Antrag wurde abgelehnt." in case_page and "Entschieden: abgelehnt" in case_page
    reasons = case_page.split('class="reasons">', 1)[1].split("</ul>", 1)[0]
    assert ZONE_REFUSED in reasons
    assert "Der Ausweis gilt" not in reasons and "Fahrzeug" not in reasons
    # The API states the same reasons as the page; the console keeps every rule's result.
    api_case = platform.api("bernd").get(f"/cases/{case_id}").json()
    assert [r["rule_id"] for r in api_case["decision"]["reasons"]] == ["wohnung_im_parkgebiet"]


def test_katrin_in_her_zone_gets_no_warning(platform: Platform) -> None:
    citizen = log_in(platform, "katrin")
    application = start(citizen, "anwohnerparkausweis")
    assert citizen.post(f"/applications/{application}/held").status_code == 303
    check = citizen.get(f"/applications/{application}/check").text
    assert "data-outlook" not in check and "voraussichtlich" not in check


def test_the_dog_tax_is_festgesetzt_in_the_portal_and_the_mailbox(platform: Platform) -> None:
    answers = {
        "hundename": "Bello",
        "rasse": "mischling",
        "rasse_bezeichnung": "Labrador-Mischling",
        "haltungsbeginn": "2026-01-10",
        "weitere_hunde": 0,
    }
    api = platform.api("jonas")
    case_id = submit(api, "hundesteuer-anmeldung", answers=answers)
    wait_for_status(api, case_id, {"notified"})
    page = _text(log_in(platform, "jonas").get(f"/cases/{case_id}").text)
    assert "Die Steuer oder Abgabe wurde festgesetzt." in page
    assert "Entschieden: festgesetzt" in page
    assert "bewilligt" not in page and "Ihr Antrag wurde" not in page
    english = _text(
        log_in(platform, "jonas").get(f"/cases/{case_id}", cookies={"kd_lang": "en"}).text
    )
    assert "The tax or charge has been assessed." in english
    (decided,) = [m for m in messages_of(api, case_id) if m["kind"] == "decision"]
    body = decided["body"]
    assert "festgesetzt" in body["de"] and "stattgegeben" not in body["de"]
