"""Issue 20, item 6: each document fits its use, and the catalogue tells fees from taxes.

The windscreen permit is one page with plate, zone, validity, number and QR code and without
the holder's name or address; the covering Bescheid is a letter. The dog tax notice carries a
Kassenzeichen, every instalment with its due day and amount, the Stadtkasse's account from the
service definition and a SEPA mandate; the catalogue shows the tax instead of "kostenlos".
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pypdf
import zxingcpp
from PIL import Image

from backend.definitions.constraints import local_today
from backend.definitions.loader import load_definition
from backend.documents.render import iban_groups
from backend.domain.levy import instalments
from prefill.configuration import build_default_registry
from tests.conftest import ROOT, Platform
from tests.integration.enginekit import pay_on_hosted_page, submit, wait_for_status, wait_until
from tests.integration.portalkit import log_in


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _documents(api: httpx.Client, case_id: str) -> dict[str, bytes]:
    case = api.get(f"/cases/{case_id}").json()
    return {
        d["definition"]: api.get(f"/cases/{case_id}/documents/{d['id']}").content
        for d in case["documents"]
    }


def _pay_and_wait(api: httpx.Client, case_id: str) -> dict[str, object]:
    wait_for_status(api, case_id, {"awaiting_payment"})

    def opened() -> dict[str, object] | None:
        payment: dict[str, object] = api.get(f"/cases/{case_id}/payment").json()
        return payment if payment.get("pay_url") else None

    pay_on_hosted_page(str(wait_until(opened, "payment opened")["pay_url"]))
    return wait_for_status(api, case_id, {"notified"}, timeout=60)


def test_the_parking_permit_is_one_page_for_the_windscreen_without_name_or_address(
    platform: Platform, tmp_path: Path
) -> None:
    api = platform.api("katrin")
    case_id = submit(api, "anwohnerparkausweis")
    case = _pay_and_wait(api, case_id)
    reference = str(case["reference"])
    documents = _documents(api, case_id)
    assert set(documents) == {"ausweis", "bescheid"}

    permit = documents["ausweis"]
    assert len(pypdf.PdfReader(io.BytesIO(permit)).pages) == 1
    text = _text(permit)
    for printed in ("Bewohnerparkausweis", "K-KS 4711", "K-12", reference, "Ausweis-Nr."):
        assert printed in text, printed
    today = local_today()
    assert re.search(r"\d\d\.\d\d\.\d{4} bis \d\d\.\d\d\.\d{4}", text)
    assert f"{today.year + 1}" in text
    # Katrin Schulz, Lütticher Straße 9, 50674 Köln: nothing of it behind the windscreen.
    for private in ("Katrin", "Schulz", "Lütticher", "50674", "Rechtsbehelfsbelehrung"):
        assert private not in text, private
    # The QR code a parking warden scans leads to /verify.
    (tmp_path / "permit.pdf").write_bytes(permit)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "permit.pdf", "page"], cwd=tmp_path, check=True
    )
    [page] = tmp_path.glob("page*.png")
    [code] = zxingcpp.read_barcodes(Image.open(page))
    assert code.text.startswith(f"{platform.base_url}/verify?t=")

    # The covering notice is the letter: address window, plate, zone, fee and remedy.
    letter = _text(documents["bescheid"])
    for printed in ("Katrin Schulz", "Lütticher Straße 9", "50674 Köln", "K-KS 4711", "K-12"):
        assert printed in letter, printed
    assert "wird stattgegeben" in letter and "Rechtsbehelfsbelehrung" in letter
    assert "100,00 €" in letter and "gesondertes Dokument" in letter


def test_the_dog_tax_notice_carries_kassenzeichen_instalments_account_and_sepa_mandate(
    platform: Platform,
) -> None:
    definition = load_definition(
        ROOT / "services/hundesteuer-anmeldung/service.yaml", build_default_registry()
    )
    [levy] = definition.levies
    start = date(local_today().year, 1, 10)
    api = platform.api("jonas")
    case_id = submit(
        api,
        "hundesteuer-anmeldung",
        answers={
            "hundename": "Luna",
            "rasse": "andere",
            "rasse_bezeichnung": "Dackel",
            "haltungsbeginn": start.isoformat(),
            "weitere_hunde": 1,
        },
    )
    case = wait_for_status(api, case_id, {"notified"})
    reference = str(case["reference"])
    text = _text(_documents(api, case_id)["bescheid"])

    kassenzeichen = f"6011-{reference.removeprefix('KD-')}"
    assert f"Kassenzeichen (bei jeder Zahlung angeben) {kassenzeichen}" in text
    assert f"Verwendungszweck {kassenzeichen}" in text
    assert f"IBAN {iban_groups(levy.payee.iban)}" in text and levy.payee.bic in text
    assert levy.payee.holder in text and "Stadt Köln" in text
    # Every instalment from February to December, with the amount the rules computed.
    expected = instalments(Decimal("180"), start, local_today(), levy.due.dates)
    assert sum(i.amount for i in expected) == Decimal("165.00")  # eleven months of 15 €
    for owed in expected:
        due = owed.due_on.strftime("%d.%m.%Y")
        amount = f"{owed.amount:.2f}".replace(".", ",") + " €"
        assert f"{owed.period_to.strftime('%d.%m.%Y')} {due}" in text, due
        assert amount in text
    assert "45,00 € am 15.02., 15.05., 15.08. und 15.11. fällig" in text
    assert levy.payee.creditor_id is not None
    assert "SEPA-Lastschriftmandat" in text and levy.payee.creditor_id in text
    assert f"Mandatsreferenz {kassenzeichen}" in text
    assert "gesonderte Zahlungsaufforderung" not in text.lower()


def test_the_catalogue_shows_the_dog_tax_not_kostenlos(platform: Platform) -> None:
    with httpx.Client(base_url=platform.base_url, timeout=30) as browser:
        page = browser.get("/services/hundesteuer-anmeldung")
        assert page.status_code == 200
        costs = re.search(r"<dt>Kosten</dt><dd>(.*?)</dd>", page.text, re.S)
        assert costs, page.text[:500]
        shown = " ".join(re.sub(r"<[^>]+>", "", costs.group(1)).split())
        assert "kostenlos" not in shown
        assert shown.startswith("Steuer: Hundesteuer 156,00 € im Jahr (ein Hund)"), shown
        assert "180,00 € im Jahr (je Hund bei mehreren Hunden)" in shown
        assert "972,00 € im Jahr (gefährlicher Hund)" in shown
        assert "Der Antrag selbst ist gebührenfrei." in shown
        # A fee stays a fee, and a service with neither is free.
        parking = browser.get("/services/anwohnerparkausweis").text
        assert "Gebühr für den Bewohnerparkausweis (ein Jahr): 100,00" in parking
        assert "Steuer:" not in parking
        certificate = browser.get("/services/meldebescheinigung").text
        assert re.search(r"<dt>Kosten</dt><dd>\s*kostenlos\s*</dd>", certificate)
        browser.get("/lang/en", params={"next": "/services"})
        english = browser.get("/services/hundesteuer-anmeldung").text
        costs_en = re.search(r"<dt>Cost</dt><dd>(.*?)</dd>", english, re.S)
        assert costs_en, english[:500]
        shown_en = " ".join(re.sub(r"<[^>]+>", "", costs_en.group(1)).split())
        assert shown_en.startswith("Tax: Dog tax "), shown_en
        assert "a year (one dog)" in shown_en and "free of charge" in shown_en


def test_services_validate_refuses_a_levy_without_its_calculation(tmp_path: Path) -> None:
    source = (ROOT / "services/hundesteuer-anmeldung/service.yaml").read_text()
    folder = tmp_path / "services" / "hundesteuer-anmeldung"
    (folder / "templates").mkdir(parents=True)
    (folder / "service.yaml").write_text(
        source.replace("annual_amount: jahressteuer", "annual_amount: gibt_es_nicht")
    )
    done = subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", "services", "validate", str(folder.parent)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ},
    )
    assert done.returncode != 0
    assert "annual_amount 'gibt_es_nicht' is not the output of a calculation" in (
        done.stdout + done.stderr
    )


def test_the_melderegister_stand_is_the_records_last_change_everywhere_it_shows(
    platform: Platform,
) -> None:
    """Sophie moved in in 2021 and Mia was born 19 days ago: her record changed with the
    birth, so "Stand: 04.08.2021" next to the child was false (issue 20)."""
    from sandbox.personas import persona_by_id

    sophie = persona_by_id("sophie")
    assert sophie is not None and sophie.children
    born = sophie.children[0].birthdate
    api = platform.api("sophie")
    application = api.post("/applications", json={"service": "kindergeld"}).json()
    sources = {
        f["id"]: f["source"]
        for f in application["fields"]
        if f["source"] and f["source"]["registry"] == "melderegister"
    }
    assert sources, [f["id"] for f in application["fields"]]
    stands = {date.fromisoformat(s["as_of"][:10]) for s in sources.values()}
    [stand] = stands
    assert born <= stand <= local_today(), (born, stand)
    assert stand != date(2021, 8, 4)
    shown = stand.strftime("%d.%m.%Y")

    # The portal's page of held data says the same.
    citizen = log_in(platform, "sophie")
    held = citizen.get(f"/applications/{application['id']}/held")
    assert held.status_code == 200 and f"Stand: {shown}" in held.text
    assert "Stand: 04.08.2021" not in held.text

    # So does the Eingangsbestätigung, next to each value the Melderegister delivered.
    answers = {"anderer_elternteil_beantragt_nicht": True, "iban": "DE02120300000000202051"}
    r = api.patch(f"/applications/{application['id']}", json={"answers": answers})
    assert r.status_code == 200, r.text
    r = api.post(f"/applications/{application['id']}/submit")
    assert r.status_code == 200, r.text
    case_id = r.json()["case_id"]
    receipt = citizen.get(f"/cases/{case_id}/receipt")
    assert receipt.status_code == 200
    text = _text(receipt.content)
    assert re.search(rf"Quelle: Melderegister[^,]*, Stand {re.escape(shown)}", text), text[:1500]
    assert "Stand 04.08.2021" not in text


def test_the_certificate_and_the_console_show_the_same_melderegister_stand(
    platform: Platform,
) -> None:
    from sandbox.personas import persona_by_id

    sophie = persona_by_id("sophie")
    assert sophie is not None and sophie.children
    born = sophie.children[0].birthdate
    api = platform.api("sophie")
    case_id = submit(api, "meldebescheinigung")
    wait_for_status(api, case_id, {"notified"})
    text = " ".join(_text(pdf) for pdf in _documents(api, case_id).values())
    stands = {
        date(int(y), int(m), int(d))
        for d, m, y in re.findall(r"Melderegister[^,]*, Stand (\d\d)\.(\d\d)\.(\d{4})", text)
    }
    assert len(stands) == 1, text[:1500]
    [stand] = stands
    assert born <= stand <= local_today()

    clerk = httpx.Client(
        base_url=f"{platform.base_url}/api/v1/console",
        timeout=60,
        headers={"Authorization": f"Bearer {platform.token('clerk-buergeramt')}"},
    )
    values = clerk.get(f"/cases/{case_id}").json()["values"]
    shown = {date.fromisoformat(v["as_of"][:10]) for v in values if v.get("as_of")}
    assert shown == {stand}, values
