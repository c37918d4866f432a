"""The portal's objection page offers what the law gives under each service's regime.

Widerspruch (VwGO, SGG) and Einspruch (AO) go to the authority, so the portal takes them in one
click; a Klage goes to the court, so the page says where and until when, and offers the human
review of Art. 22 DSGVO instead; a certificate has no remedy, and the page says so plainly.
Before issue 20 every service offered "Widerspruch (§ 68 Verwaltungsgerichtsordnung)".
"""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest

from tests.conftest import Platform
from tests.integration.enginekit import OBJECTION_SERVICE, submit, wait_for_status
from tests.integration.portalkit import log_in

IBAN = "DE02120300000000202051"
KINDERGELD = {"anderer_elternteil_beantragt_nicht": True, "iban": IBAN}
ELTERNGELD = {
    "ab_lebensmonat": 1,
    "anzahl_monate": 12,
    "betreuung_selbst": True,
    "selbststaendig": False,
    "iban": IBAN,
}


def _decided(platform: Platform, persona: str, service: str, answers: dict[str, Any]) -> str:
    api = platform.api(persona)
    case_id = submit(api, service, answers=answers or None)
    wait_for_status(api, case_id, {"notified"})
    return case_id


def _page(platform: Platform, persona: str, path: str) -> str:
    page = log_in(platform, persona).get(path)
    assert page.status_code == 200, page.text
    return " ".join(unescape(page.text).split())


@pytest.mark.parametrize(
    ("persona", "service", "answers", "button", "law"),
    [
        ("erika", OBJECTION_SERVICE, {}, "Widerspruch einlegen", "§§ 68, 70 VwGO"),
        ("sophie", "kindergeld", KINDERGELD, "Einspruch einlegen", "§§ 347, 355, 357 AO"),
        ("sophie", "elterngeld", ELTERNGELD, "Widerspruch einlegen", "§§ 78, 84 SGG"),
    ],
)
def test_widerspruch_and_einspruch_are_taken_in_one_click(
    platform: Platform,
    persona: str,
    service: str,
    answers: dict[str, Any],
    button: str,
    law: str,
) -> None:
    case_id = _decided(platform, persona, service, answers)
    case_page = _page(platform, persona, f"/cases/{case_id}")
    assert f'href="/cases/{case_id}/objection">{button}</a>' in case_page
    form = _page(platform, persona, f"/cases/{case_id}/objection")
    assert f"<h1>{button}</h1>" in form and f"({law})" in form
    assert 'name="statement"' in form
    if service == "kindergeld":
        assert "Widerspruch" not in form and "Verwaltungsgerichtsordnung" not in form
    actions = platform.api(persona).get(f"/cases/{case_id}/actions").json()
    assert actions["can_object"] and actions["remedy"]["in_portal"]
    assert button.startswith(actions["remedy"]["kind"].capitalize())


def test_klage_the_page_says_which_court_and_offers_human_review(platform: Platform) -> None:
    case_id = _decided(platform, "lukas", "einmalzahlung-studierende", {"iban": IBAN})
    case_page = _page(platform, "lukas", f"/cases/{case_id}")
    assert "Widerspruch einlegen" not in case_page
    assert "Klage beim Verwaltungsgericht: wo und bis wann" in case_page
    page = _page(platform, "lukas", f"/cases/{case_id}/objection")
    assert "<h1>Rechtsbehelf gegen den Bescheid</h1>" in page
    assert "Klage beim Verwaltungsgericht Köln, Appellhofplatz, 50667 Köln" in page
    assert "§ 110 Abs. 1 JustG NRW" in page and "§ 55a VwGO" in page
    assert 'name="statement"' not in page and "nicht möglich" not in page
    assert f'href="/cases/{case_id}/review"' in page  # Art. 22 Abs. 3 DSGVO instead
    api = platform.api("lukas")
    actions = api.get(f"/cases/{case_id}/actions").json()
    assert not actions["can_object"]
    assert actions["remedy"]["kind"] == "klage" and not actions["remedy"]["in_portal"]
    assert actions["remedy"]["lodge_with"] == "Verwaltungsgericht Köln"
    assert any("Appellhofplatz" in p for p in actions["remedy"]["text"]["en"])
    refused = api.post(f"/cases/{case_id}/objection", json={"statement": "Ich widerspreche."})
    assert refused.status_code == 409
    assert "beim Verwaltungsgericht Köln, Appellhofplatz, 50667 Köln" in refused.json()["message"]


def test_certificate_no_remedy_and_no_button(platform: Platform) -> None:
    case_id = _decided(platform, "erika", "meldebescheinigung", {})
    case_page = _page(platform, "erika", f"/cases/{case_id}")
    assert "Widerspruch einlegen" not in case_page and "/objection" not in case_page
    page = _page(platform, "erika", f"/cases/{case_id}/objection")
    assert "kein Verwaltungsakt; ein Rechtsbehelf ist dagegen nicht gegeben" in page
    assert 'name="statement"' not in page and "Verwaltungsgerichtsordnung" not in page
    api = platform.api("erika")
    refused = api.post(f"/cases/{case_id}/objection", json={"statement": "Ich widerspreche."})
    assert refused.status_code == 409 and "kein Verwaltungsakt" in refused.json()["message"]
