"""The scripted API run of the foundation: erika gets her Meldebescheinigung within seconds."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
from pypdf import PdfReader

from tests.conftest import ROOT, Platform


def wait_for_settled(api: httpx.Client, case_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        case: dict[str, object] = api.get(f"/cases/{case_id}").json()
        # "notified" is the automated path's last state: decided, and the citizen told.
        if case["status"] in ("notified", "referred"):
            return case
        assert time.monotonic() < deadline, f"case still {case['status']} after {timeout} s"
        time.sleep(0.2)


def test_erika_gets_her_certificate_automatically(platform: Platform) -> None:
    api = platform.api("erika")
    services = api.get("/services").json()
    assert "meldebescheinigung" in [s["id"] for s in services]

    r = api.post("/applications", json={"service": "meldebescheinigung"})
    assert r.status_code == 201, r.text
    application = r.json()
    fields = {f["id"]: f for f in application["fields"]}
    assert fields["familienname"]["value"] == "Mustermann"
    assert fields["familienname"]["origin"] == "registry"
    assert fields["familienname"]["source"]["registry"] == "melderegister"
    assert fields["familienname"]["source"]["as_of"]
    assert fields["ort"]["value"] == "Köln"
    assert fields["geburtsdatum"]["value"] == "1964-08-12"

    started = time.monotonic()
    r = api.post(f"/applications/{application['id']}/submit")
    assert r.status_code == 200, r.text
    case_id = r.json()["case_id"]
    case = wait_for_settled(api, case_id)
    elapsed = time.monotonic() - started
    assert case["status"] == "notified", case
    assert elapsed < 15, f"decision took {elapsed:.1f} s"
    decision = case["decision"]
    assert isinstance(decision, dict) and decision["outcome"] == "approved"
    documents = case["documents"]
    assert isinstance(documents, list) and len(documents) == 1

    pdf = api.get(f"/cases/{case_id}/documents/{documents[0]['id']}")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Mustermann" in text
    assert str(case["reference"]) in text

    # Submitting again is harmless: the same case, not a second one.
    again = api.post(f"/applications/{application['id']}/submit")
    assert again.json()["case_id"] == case_id


def test_citizens_see_only_their_own(platform: Platform) -> None:
    erika, jonas = platform.api("erika"), platform.api("jonas")
    app_id = erika.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
    case_id = erika.post(f"/applications/{app_id}/submit").json()["case_id"]
    assert jonas.get(f"/applications/{app_id}").status_code == 404
    assert jonas.patch(f"/applications/{app_id}", json={"remark": "x"}).status_code == 404
    assert jonas.post(f"/applications/{app_id}/submit").status_code == 404
    assert jonas.get(f"/cases/{case_id}").status_code == 404
    assert case_id not in [c["id"] for c in jonas.get("/cases").json()]


def test_bad_input_gets_clear_errors_never_500(platform: Platform) -> None:
    api = platform.api("erika")
    assert api.post("/applications", json={"service": "gibt-es-nicht"}).status_code == 404
    r = api.post("/applications", json={"servic": "meldebescheinigung"})
    assert r.status_code == 422 and r.json()["details"]
    assert (
        api.post(
            "/applications", content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )
    assert api.get("/cases/" + "0" * 32).status_code == 404
    assert api.get("/cases/not-an-id").status_code in (404, 422)
    app_id = api.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
    r = api.patch(f"/applications/{app_id}", json={"answers": {"familienname": "Musterfrau"}})
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "familienname"
    r = api.patch(f"/applications/{app_id}", json={"answers": {"gibtsnicht": "x"}})
    assert r.status_code == 422


def test_wrong_or_missing_token_is_401(platform: Platform) -> None:
    with platform.client() as client:
        assert client.get("/api/v1/cases").status_code == 401
        r = client.get("/api/v1/cases", headers={"Authorization": "Bearer not.a.token"})
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"


def test_disputed_data_goes_to_a_clerk(platform: Platform) -> None:
    api = platform.api("erika")
    app_id = api.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
    r = api.patch(
        f"/applications/{app_id}",
        json={"disputes": {"strasse": "Ich wohne seit Oktober in der Domstraße 1."}},
    )
    assert r.status_code == 200, r.text
    case_id = api.post(f"/applications/{app_id}/submit").json()["case_id"]
    case = wait_for_settled(api, case_id)
    assert case["status"] == "referred"
    decision = case["decision"]
    assert isinstance(decision, dict) and "disputed_data" in decision["referral_reasons"]
    reads = [a for a in api.get("/me/data-access").json() if a["application_id"] == app_id]
    assert reads and {a["case_id"] for a in reads} == {case_id}
    assert case["documents"] == []


def test_low_trust_level_cannot_start_a_substanziell_service(platform: Platform) -> None:
    r = platform.api("lena").post("/applications", json={"service": "meldebescheinigung"})
    assert r.status_code == 403


def test_data_cockpit_lists_the_registry_read(platform: Platform) -> None:
    api = platform.api("jonas")
    started = api.post("/applications", json={"service": "meldebescheinigung"}).json()
    rows = api.get("/me/data-access").json()
    assert rows and rows[0]["registry"] == "melderegister"
    assert rows[0]["application_id"] == started["id"] and rows[0]["case_id"] is None
    assert "familienname" in rows[0]["attributes_requested"]
    assert rows[0]["legal_basis"] == "§ 18 Abs. 1 BMG"
    assert "Schneider" not in str(rows)  # names of attributes, never values


def test_health_and_openapi(platform: Platform) -> None:
    with platform.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        spec = client.get("/openapi.json").json()
        for path in (
            "/api/v1/services",
            "/api/v1/applications",
            "/api/v1/applications/{application_id}",
            "/api/v1/applications/{application_id}/submit",
            "/api/v1/cases/{case_id}",
            "/api/v1/cases/{case_id}/documents/{document_id}",
        ):
            assert path in spec["paths"], path


def test_documents_are_attached_through_the_api_with_their_type_read_from_the_content(
    platform: Platform,
) -> None:
    pdf = (ROOT / "tests" / "e2e" / "fixtures" / "rechnung.pdf").read_bytes()
    api = platform.api("sophie")
    app_id = api.post("/applications", json={"service": "lastenrad-zuschuss"}).json()["id"]
    url = f"/applications/{app_id}/files/rechnung"

    # The name says PDF, the content is text: refused, naming the field.
    r = api.put(url, files={"file": ("rechnung.pdf", b"just text, no PDF", "application/pdf")})
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["field"] == "rechnung"
    too_big = b"%PDF-1.7\n" + b"0" * (5 * 1024 * 1024)
    r = api.put(url, files={"file": ("big.pdf", too_big, "application/pdf")})
    assert r.status_code == 422 and "5" in r.json()["message"]
    assert (
        api.put(f"/applications/{app_id}/files/kaufpreis", files={"file": ("x", pdf)}).status_code
        == 404
    )
    assert api.put(f"/applications/{app_id}/files/rechnung").status_code == 422  # no file part

    # A path in the name is never used as a path; the type comes from the bytes.
    r = api.put(url, files={"file": ("..\\..\\etc\\Rechnung März.pdf", pdf, "text/plain")})
    assert r.status_code == 200, r.text
    stored = r.json()
    assert stored["media_type"] == "application/pdf" and stored["field"] == "rechnung"
    assert "/" not in stored["name"] and "\\" not in stored["name"] and ".." not in stored["name"]

    # Another citizen cannot attach to this draft.
    other = platform.api("jonas").put(url, files={"file": ("r.pdf", pdf, "application/pdf")})
    assert other.status_code == 404

    assert api.delete(url).status_code == 204
    r = api.patch(
        f"/applications/{app_id}",
        json={
            "answers": {
                "antrieb": "muskel",
                "gewerblich": False,
                "kaufpreis": "1000.00",
                "kaufdatum": "2026-11-05",
                "iban": "DE02120300000000202051",
            }
        },
    )
    assert r.status_code == 200, r.text
    missing = api.post(f"/applications/{app_id}/submit")
    assert missing.status_code == 422
    assert "rechnung" in [d["field"] for d in missing.json()["details"]]
    assert api.put(url, files={"file": ("rechnung.pdf", pdf, "application/pdf")}).status_code == 200
    case_id = api.post(f"/applications/{app_id}/submit").json()["case_id"]
    assert wait_for_settled(api, case_id)["status"] in ("decided", "notified", "referred")


def test_the_citizen_chooses_among_her_own_vehicles_only_when_she_has_several(
    platform: Platform,
) -> None:
    def kennzeichen(application: dict[str, Any]) -> dict[str, Any]:
        return next(f for f in application["fields"] if f["id"] == "kennzeichen")

    # Petra has a car and a van: she chooses one of hers, and only hers.
    petra = platform.api("petra")
    started = petra.post("/applications", json={"service": "fahrzeugwahl"}).json()
    field = kennzeichen(started)
    assert field["origin"] == "citizen" and field["options_from"] == "fahrzeuge"
    assert [o["value"] for o in field["options"]] == ["K-PL 815", "K-PL 4410"]
    assert field["options"][0]["label"]["de"] == "K-PL 815 (Škoda)"
    url = f"/applications/{started['id']}"
    foreign = petra.patch(url, json={"answers": {"kennzeichen": "K-MA 2105"}})
    assert foreign.status_code == 422 and foreign.json()["details"][0]["field"] == "kennzeichen"
    assert petra.post(f"{url}/submit").status_code == 422  # a choice is required
    assert petra.patch(url, json={"answers": {"kennzeichen": "K-PL 4410"}}).status_code == 200
    case = wait_for_settled(petra, petra.post(f"{url}/submit").json()["case_id"])
    assert case["decision"]["outcome"] == "approved"

    # Mehmet has one car: the register names it, nobody asks.
    mehmet = platform.api("mehmet")
    field = kennzeichen(mehmet.post("/applications", json={"service": "fahrzeugwahl"}).json())
    assert field["origin"] == "registry" and field["value"] == "K-MA 2105"

    # Erika has none: nothing to choose, nothing blocks the application, the rules decide.
    erika = platform.api("erika")
    started = erika.post("/applications", json={"service": "fahrzeugwahl"}).json()
    assert kennzeichen(started)["options"] == []
    case = wait_for_settled(
        erika, erika.post(f"/applications/{started['id']}/submit").json()["case_id"]
    )
    assert case["decision"]["outcome"] == "rejected"
