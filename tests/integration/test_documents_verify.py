"""Issue 20, item 6: every document we issue verifies at /verify and passes the PDF/A checks,
receipts included.

Each shipped service is run through the real API with its integrator test cases until every
document its definition issues has been issued; each PDF is then uploaded to /verify and its
QR code's address opened, and both must say "genuine". The Eingangsbestätigung (portal) and
the receipts of an objection and a review request are checked the same way. Before, a genuine
receipt uploaded to /verify was "not known": receipts were rendered on request and never filed.
"""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import httpx
import pypdf
import pytest
import yaml

from backend.definitions.loader import load_definition
from prefill.configuration import build_default_registry
from tests.conftest import ROOT, Platform
from tests.integration.enginekit import (
    objection_case,
    pay_on_hosted_page,
    submit,
    wait_for_status,
    wait_until,
)
from tests.integration.portalkit import log_in
from tests.pdfa import pdfa_problems

SHIPPED = sorted(
    folder.name
    for folder in (ROOT / "services").iterdir()
    if (folder / "service.yaml").is_file() and not folder.name.startswith(("_", "."))
)
DECIDED = {"notified", "closed"}
ARTIFACTS = ROOT / "test-artifacts" / "documents"


def _issuing() -> list[str]:
    registry = build_default_registry()
    return [
        slug
        for slug in SHIPPED
        if load_definition(ROOT / "services" / slug / "service.yaml", registry).documents
    ]


def _verdict(page: httpx.Response) -> str:
    found = re.search(r'data-verdict="([a-z]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def assert_verifies(platform: Platform, pdf: bytes, what: str) -> None:
    """Upload the file, then open the QR code's address: both must say genuine. The document
    must also pass the PDF/A checks (tests/pdfa.py): every type we issue goes to the archive."""
    assert pdfa_problems(pdf) == [], what
    # Kept for a person to look at (pdftoppm -png), like the render tests' previews.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / (re.sub(r"[^A-Za-z0-9äöüÄÖÜß-]+", "-", what).strip("-") + ".pdf")).write_bytes(pdf)
    url = f"{platform.base_url}/verify"
    upload = httpx.post(url, files={"file": ("d.pdf", pdf, "application/pdf")}, timeout=30)
    assert upload.status_code == 200 and _verdict(upload) == "genuine", what
    metadata = pypdf.PdfReader(io.BytesIO(pdf)).metadata
    assert metadata is not None and "/pruefadresse" in metadata, f"{what}: no QR address"
    link = str(metadata["/pruefadresse"])
    assert link.startswith(url + "?t="), link
    by_code = httpx.get(link, timeout=30)
    assert by_code.status_code == 200 and _verdict(by_code) == "genuine", what
    assert re.search(r"Nicht echt|Nicht bekannt", by_code.text) is None


def _answers(raw: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in (raw or {}).items()}


def _decided(platform: Platform, api: httpx.Client, case_id: str) -> dict[str, Any] | None:
    """Wait for the decision, paying a fee on the provider's page when one is due."""
    case = wait_for_status(api, case_id, {*DECIDED, "awaiting_payment", "referred", "rejected"})
    if case["status"] == "awaiting_payment":

        def opened() -> dict[str, Any] | None:
            payment: dict[str, Any] = api.get(f"/cases/{case_id}/payment").json()
            return payment if payment.get("pay_url") else None

        paid = pay_on_hosted_page(wait_until(opened, "payment opened")["pay_url"])
        assert paid.status_code in (200, 303), paid.text
        case = wait_for_status(api, case_id, {*DECIDED, "referred"}, timeout=60)
    if case["status"] == "rejected":
        case = wait_for_status(api, case_id, DECIDED)
    return case if case["status"] in DECIDED else None


@pytest.mark.parametrize("slug", _issuing())
def test_every_document_of_every_shipped_service_verifies(platform: Platform, slug: str) -> None:
    definition = load_definition(
        ROOT / "services" / slug / "service.yaml", build_default_registry()
    )
    wanted = {d.id for d in definition.documents}
    cases = yaml.safe_load((ROOT / "services" / slug / "tests" / "cases.yaml").read_text())
    verified: set[str] = set()
    receipt_checked = False
    for case in cases["cases"]:
        outcome = (case.get("expect") or {}).get("outcome")
        docs_for = {d.id for d in definition.documents if outcome in d.on}
        if not docs_for or docs_for <= verified or case.get("disputes"):
            continue
        api = platform.api(case["persona"])
        case_id = submit(api, slug, answers=_answers(case.get("answers")))
        decided = _decided(platform, api, case_id)
        if decided is None:
            continue  # referred today (dates in the case relative to its reference_date)
        for document in decided["documents"]:
            pdf = api.get(f"/cases/{case_id}/documents/{document['id']}").content
            assert_verifies(platform, pdf, f"{slug} {document['title']}")
            verified.add(document["definition"])
        if not receipt_checked:
            citizen = log_in(platform, case["persona"])
            receipt = citizen.get(f"/cases/{case_id}/receipt")
            assert receipt.status_code == 200, receipt.text[:300]
            assert_verifies(platform, receipt.content, f"{slug} Eingangsbestätigung")
            again = citizen.get(f"/cases/{case_id}/receipt")
            assert again.content == receipt.content  # filed once, the same bytes ever after
            listed = api.get(f"/cases/{case_id}").json()["documents"]
            assert "eingangsbestaetigung" in [d["definition"] for d in listed]
            receipt_checked = True
        if wanted <= verified:
            break
    assert verified >= wanted, f"{slug}: not issued and verified: {sorted(wanted - verified)}"


def test_an_objection_and_a_review_request_get_a_verifiable_receipt_with_their_text(
    platform: Platform,
) -> None:
    api, case_id = objection_case(platform, "katrin")
    review_text = "Bitte prüfen Sie die Anschrift – ich wohne seit Mai in der Moltkestraße."
    assert api.post(f"/cases/{case_id}/review", json={"statement": review_text}).status_code in (
        200,
        201,
    )
    objection_text = "Ich widerspreche: Die Anschrift ist veraltet.\nZweite Zeile mit Ä/ß."
    lodged = api.post(f"/cases/{case_id}/objection", json={"statement": objection_text})
    assert lodged.status_code == 201, lodged.text
    documents = {d["definition"]: d for d in api.get(f"/cases/{case_id}").json()["documents"]}
    for definition_id, text in (
        ("eingang-ueberpruefung", review_text),
        ("eingang-rechtsbehelf", objection_text),
    ):
        assert definition_id in documents, sorted(documents)
        pdf = api.get(f"/cases/{case_id}/documents/{documents[definition_id]['id']}").content
        printed = _text(pdf)
        assert " ".join(text.split()) in printed, printed
        assert "Eingangsbestätigung" in printed and "eingegangen" in printed
        assert_verifies(platform, pdf, definition_id)
        # A receipt decides nothing: /verify shows no decision for it.
        shown = httpx.post(
            f"{platform.base_url}/verify", files={"file": ("r.pdf", pdf)}, timeout=30
        ).text
        assert "Eingangsbestätigung" in shown and "<dt>Entscheidung</dt>" not in shown
    # Lodging again changes nothing and files no second receipt.
    again = api.post(f"/cases/{case_id}/objection", json={"statement": "Noch einmal."})
    assert again.status_code == 200, again.text
    listed = [d["definition"] for d in api.get(f"/cases/{case_id}").json()["documents"]]
    assert listed.count("eingang-rechtsbehelf") == 1


def test_an_empty_code_is_a_clear_error_not_the_bare_form(platform: Platform) -> None:
    url = f"{platform.base_url}/verify"
    for blank in ("", "   "):
        page = httpx.get(url, params={"t": blank}, timeout=30)
        assert page.status_code == 422
        assert "Kein Prüfcode eingegeben" in page.text and 'role="alert"' in page.text
        assert "data-verdict" not in page.text
    with httpx.Client(timeout=30) as browser:
        browser.get(f"{platform.base_url}/lang/en", params={"next": "/verify"})
        english = browser.get(url, params={"t": ""})
    assert english.status_code == 422 and "No verification code entered" in english.text
    bare = httpx.get(url, timeout=30)
    assert bare.status_code == 200 and "Kein Prüfcode" not in bare.text
