"""What you confirm is what is sent (issue 21, item 3): the portal's check page and the API's
If-Match both refuse a draft that changed after it was shown, and say what changed."""

from __future__ import annotations

import re
from html import unescape

from tests.conftest import Platform
from tests.integration.portalkit import log_in, start
from tests.integration.test_portal_http import _fill_lastenrad

IBAN_SEEN = "DE02120300000000202051"
IBAN_OTHER = "DE89370400440532013000"


def _shown(page: str) -> str:
    match = re.search(r'name="shown" value="([^"]*)"', page)
    assert match is not None
    return unescape(match.group(1))


def test_a_check_page_from_before_a_change_submits_nothing_and_marks_the_change(
    platform: Platform,
) -> None:
    citizen = log_in(platform, "jonas")
    application = start(citizen, "lastenrad-zuschuss")
    _fill_lastenrad(citizen, application)
    first_tab = citizen.get(f"/applications/{application}/check").text
    assert "DE02" in first_tab
    # The second tab changes the IBAN while the first still shows the old one.
    r = citizen.post(
        f"/applications/{application}/topics/auszahlung",
        {"answer__iban": IBAN_OTHER, "return": "check"},
    )
    assert r.status_code == 303, r.text
    sent = citizen.post(
        f"/applications/{application}/submit", {"shown": _shown(first_tab), "remark": ""}
    )
    assert sent.status_code == 409, sent.text[:500]
    assert "Ihre Angaben wurden inzwischen geändert" in sent.text
    marked = re.findall(r'summary-row[^"]*is-changed[^"]*">\s*<dt>([^<]+)', sent.text)
    assert [label.strip() for label in marked] == ["IBAN"], marked
    assert "DE89" in sent.text
    api = platform.api("jonas")
    assert api.get(f"/applications/{application}").json()["status"] == "draft"
    # The page shown now carries the new version: submitting from it goes through.
    again = citizen.post(
        f"/applications/{application}/submit", {"shown": _shown(sent.text), "remark": ""}
    )
    assert again.status_code == 303, again.text[:500]


def test_a_post_that_cannot_say_what_it_showed_is_not_submitted(platform: Platform) -> None:
    citizen = log_in(platform, "jonas")
    application = start(citizen, "lastenrad-zuschuss")
    _fill_lastenrad(citizen, application)
    for shown in ("", "garbage", "iban=0000"):
        r = citizen.post(f"/applications/{application}/submit", {"shown": shown})
        assert r.status_code == 409, (shown, r.text[:300])
    english = citizen.client.get(
        f"/applications/{application}/check", headers={"Accept-Language": "en"}
    )
    assert english.status_code == 200
    assert citizen.submit(application).status_code == 303


def test_a_remark_typed_on_the_check_page_is_part_of_what_is_confirmed(
    platform: Platform,
) -> None:
    citizen = log_in(platform, "erika")
    application = start(citizen, "meldebescheinigung")
    assert citizen.post(f"/applications/{application}/held").status_code == 303
    r = citizen.submit(application, {"remark": "Bitte auch per Post."})
    assert r.status_code == 303, r.text[:500]


def test_api_submit_with_a_stale_version_gets_409_problem_json(platform: Platform) -> None:
    api = platform.api("erika")
    created = api.post("/applications", json={"service": "meldebescheinigung"})
    assert created.status_code == 201
    app_id = created.json()["id"]
    read = api.get(f"/applications/{app_id}")
    etag = read.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{24}"', etag)
    # The same content has the same version; a change gives a new one.
    assert api.get(f"/applications/{app_id}").headers["ETag"] == etag
    changed = api.patch(f"/applications/{app_id}", json={"remark": "Bitte per Post."})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    stale = api.post(f"/applications/{app_id}/submit", headers={"If-Match": etag})
    assert stale.status_code == 409, stale.text
    assert stale.headers["content-type"].startswith("application/problem+json")
    problem = stale.json()
    assert problem["status"] == 409 and problem["error"] == "draft_changed"
    assert problem["type"].endswith("/draft-changed") and problem["title"]
    assert f'"{problem["current_version"]}"' == changed.headers["ETag"]
    assert api.get(f"/applications/{app_id}").json()["status"] == "draft"
    ok = api.post(f"/applications/{app_id}/submit", headers={"If-Match": changed.headers["ETag"]})
    assert ok.status_code == 200, ok.text
    # Submitting again returns the case, whatever the precondition: it is already sent.
    assert (
        api.post(f"/applications/{app_id}/submit", headers={"If-Match": etag}).json()["case_id"]
        == ok.json()["case_id"]
    )
