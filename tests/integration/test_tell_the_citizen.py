"""The citizen is told what happens (issue 21, item 5): why a person looks at a referred case and
how long that takes, a receipt that promises no minute for it, and the fee before the button."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from tests.conftest import Platform
from tests.integration.portalkit import log_in, start, wait_settled
from tests.integration.test_portal_http import PDF


def _submitted_case(location: str) -> str:
    match = re.fullmatch(r"/cases/([0-9a-f]{32})/submitted", location)
    assert match, location
    return match.group(1)


def test_a_case_a_rule_referred_says_why_in_plain_words_and_its_receipt_promises_no_minute(
    platform: Platform,
) -> None:
    citizen = log_in(platform, "jonas")
    application = start(citizen, "lastenrad-zuschuss")
    base = f"/applications/{application}"
    assert citizen.post(f"{base}/held").status_code == 303
    # A business bike: the service's rule refers it to the environment office.
    r = citizen.post(
        f"{base}/topics/rad", {"answer__antrieb": "muskel", "answer__gewerblich": "true"}
    )
    assert r.status_code == 303, r.text
    r = citizen.post(
        f"{base}/topics/kauf",
        {"answer__kaufpreis": "1.000,00", "answer__kaufdatum": "05.11.2026"},
        files={"file__rechnung": ("rechnung.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 303, r.text
    r = citizen.post(f"{base}/topics/auszahlung", {"answer__iban": "DE02120300000000202051"})
    assert r.status_code == 303, r.text
    sent = citizen.submit(application)
    assert sent.status_code == 303, sent.text[:300]
    case_id = _submitted_case(sent.headers["location"])
    assert wait_settled(citizen, case_id) == "referred"
    page = citizen.get(f"/cases/{case_id}").text
    assert "Warum ein Mensch Ihren Antrag prüft" in page
    assert "Eine Voraussetzung kann nur ein Mensch beurteilen." in page
    assert "Für gewerblich genutzte Räder prüft das Umweltamt den Antrag." in page
    # Nothing internal: no reason codes, no rule ids.
    assert "rule_referred" not in page and "„privat“" not in page
    english = citizen.client.get(f"/cases/{case_id}", cookies={"kd_lang": "en"}).text
    assert "Why a person checks your application" in english
    assert "For bikes used in a business, the environment office checks" in english
    receipt = citizen.get(f"/cases/{case_id}/receipt")
    assert receipt.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt.content)).pages)
    text = " ".join(text.split())
    assert "innerhalb einer Minute" not in text
    assert "Sachbearbeiter" in text


def test_a_referred_case_names_the_services_target_time(platform: Platform) -> None:
    citizen = log_in(platform, "erika")
    application = start(citizen, "meldebescheinigung")
    assert citizen.post(f"/applications/{application}/held").status_code == 303
    sent = citizen.submit(application, {"remark": "Bitte auch per Post senden."})
    assert sent.status_code == 303, sent.text[:300]
    case_id = _submitted_case(sent.headers["location"])
    assert wait_settled(citizen, case_id) == "referred"
    page = citizen.get(f"/cases/{case_id}").text
    assert "Sie haben der Behörde eine Anmerkung geschrieben." in page
    assert "Das dauert in der Regel: etwa zwei Werktage" in page
    # The live update swaps the whole case view: reasons, actions and timeline are inside the
    # region portal.js replaces, the polite announcer is outside it.
    region = page.index("data-case-region")
    assert region < page.index("Warum ein Mensch") < page.index("<h2>Verlauf</h2>")
    assert page.index("<h2>Verlauf</h2>") < page.index("data-announce")
    english = citizen.client.get(f"/cases/{case_id}", cookies={"kd_lang": "en"}).text
    assert "You wrote a remark to the authority." in english
    assert "about two working days" in english
    receipt = citizen.get(f"/cases/{case_id}/receipt")
    text = " ".join(
        "".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt.content)).pages).split()
    )
    assert "Das dauert in der Regel etwa zwei Werktage." in text


def test_the_check_page_names_the_fee_before_the_button(platform: Platform) -> None:
    citizen = log_in(platform, "erika")
    free = start(citizen, "meldebescheinigung")
    page = citizen.get(f"/applications/{free}/check").text
    assert page.index("Dieser Antrag ist kostenlos.") < page.index('type="submit" class="button"')
    paid = start(citizen, "anwohnerparkausweis")
    page = citizen.get(f"/applications/{paid}/check").text
    fees = page[page.index("<h2>Kosten</h2>") : page.index("Jetzt absenden")]
    assert "Gebühr für den Bewohnerparkausweis (ein Jahr)" in fees
    assert re.search(r"\d+,\d\d\s€", fees), fees
    assert "Bewohnerparkgebührenordnung" in fees
    english = citizen.client.get(f"/applications/{paid}/check", cookies={"kd_lang": "en"}).text
    assert "<h2>Cost</h2>" in english
    assert "Fee for the residents&#39; parking permit (one year)" in english
