"""Department isolation in the console: a clerk sees only their department's services and
cases (another department's case is 404, never its data), and every read of a case file is
in the access log with the clerk's id and purpose, which the citizen sees in the cockpit."""

from __future__ import annotations

import re
from html import unescape

import httpx
from sqlmodel import Session, col, select

from backend.records.models import RegistryAccess
from sandbox.personas import persona_by_id
from tests.conftest import Platform
from tests.integration.enginekit import engine, referred_case

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def sub_of(persona: str) -> str:
    found = persona_by_id(persona)
    assert found is not None
    return found.sub


def console_api(platform: Platform, persona: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{platform.base_url}/api/v1/console",
        timeout=60,
        headers={"Authorization": f"Bearer {platform.token(persona)}"},
    )


class Browser:
    """A clerk's browser without the browser: logged in through the sandbox IdP's code flow."""

    def __init__(self, platform: Platform, persona: str, start: str = "/console/") -> None:
        self.client = httpx.Client(base_url=platform.base_url, timeout=60, follow_redirects=False)
        login = self.client.get("/console/login", params={"next": start})
        assert login.status_code == 303
        to_idp = self.client.get(login.headers["location"])
        assert to_idp.status_code == 303
        form = self.client.get(to_idp.headers["location"])
        hidden = {k: unescape(v) for k, v in _HIDDEN.findall(form.text)}
        back = self.client.post(
            f"{platform.base_url}/sandbox/idp/authorize",
            data={**hidden, "persona": persona, "action": "login"},
        )
        assert back.status_code == 303, back.text
        landed = self.client.get(back.headers["location"])
        assert landed.status_code == 303 and landed.headers["location"] == start
        page = self.client.get("/console/worklist")
        assert page.status_code == 200, page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        self.csrf = token.group(1)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.client.post(path, data={"csrf_token": self.csrf, **data})


def file_reads(platform: Platform, case_id: str) -> list[RegistryAccess]:
    with Session(engine(platform)) as session:
        return list(
            session.exec(
                select(RegistryAccess)
                .where(RegistryAccess.case_id == case_id, RegistryAccess.registry_id == "Fallakte")
                .order_by(col(RegistryAccess.id))
            ).all()
        )


def test_another_departments_case_is_404_and_absent_from_lists(platform: Platform) -> None:
    _citizen, case_id = referred_case(platform)
    own, other = (
        console_api(platform, "clerk-buergeramt"),
        console_api(platform, "clerk-ordnungsamt"),
    )

    seen = own.get(f"/cases/{case_id}")
    assert seen.status_code == 200, seen.text
    assert seen.json()["status"] == "referred"
    hidden = other.get(f"/cases/{case_id}")
    assert hidden.status_code == 404
    assert case_id not in hidden.text and seen.json()["reference"] not in hidden.text

    assert case_id in [
        i["case_id"]
        for i in own.get("/worklist", params={"reason": "referred", "sort": "newest"}).json()[
            "items"
        ]
    ]
    assert case_id not in [i["case_id"] for i in other.get("/worklist").json()["items"]]
    assert seen.json()["reference"] not in other.get("/worklist.csv").text
    assert "meldebescheinigung" not in [s["id"] for s in other.get("/services").json()]
    assert "meldebescheinigung" in [s["id"] for s in own.get("/services").json()]

    # Actions on a foreign case are 404 too, and leave no trace in its log.
    before = len(own.get(f"/cases/{case_id}").json()["events"])
    for path, body in (
        ("decision", {"outcome": "approved", "reason": "x"}),
        ("question", {"question": "x"}),
        ("assign", {}),
        ("rerun", {"reason": "x"}),
    ):
        assert other.post(f"/cases/{case_id}/{path}", json=body).status_code == 404, path
    # A role check comes before the case is looked up, so its 403 reveals nothing either.
    assert other.post(f"/cases/{case_id}/cancel", json={"reason": "x"}).status_code == 403
    assert len(own.get(f"/cases/{case_id}").json()["events"]) == before
    # Switching another department's service is 404 as well.
    boss = console_api(platform, "supervisor-buergeramt")
    assert other.post(
        "/services/meldebescheinigung/automation", json={"paused": True, "reason": "x"}
    ).status_code in (403, 404)
    assert boss.get("/me").json()["department"] == "buergeramt"


def test_every_case_file_read_is_logged_with_clerk_and_purpose(platform: Platform) -> None:
    citizen, case_id = referred_case(platform)
    own = console_api(platform, "clerk-buergeramt")
    before = len(file_reads(platform, case_id))
    assert own.get(f"/cases/{case_id}", params={"purpose": "qa"}).status_code == 200
    assert own.get(f"/cases/{case_id}", params={"purpose": "unsinn"}).status_code == 422
    reads = file_reads(platform, case_id)
    assert len(reads) == before + 1
    assert reads[-1].actor == f"clerk:{sub_of('clerk-buergeramt')}"
    assert reads[-1].purpose.startswith("Qualitätssicherung")
    # The other department's attempt is not a read: nothing was shown.
    console_api(platform, "clerk-ordnungsamt").get(f"/cases/{case_id}")
    assert len(file_reads(platform, case_id)) == before + 1
    # The citizen sees the clerk's read in the data cockpit (§ 10 OZG).
    cockpit = citizen.get("/me/data-access").json()
    text = str(cockpit)
    assert "Fallakte" in text and f"clerk:{sub_of('clerk-buergeramt')}" in text


def test_tokens_without_a_console_role_are_refused(platform: Platform) -> None:
    with httpx.Client(base_url=f"{platform.base_url}/api/v1/console", timeout=30) as anonymous:
        assert anonymous.get("/worklist").status_code == 401
    assert console_api(platform, "erika").get("/worklist").status_code == 403
    bad = console_api(platform, "clerk-buergeramt").get("/worklist", params={"reason": "x"})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "reason"


def test_html_console_isolation_and_logged_reads(platform: Platform) -> None:
    _citizen, case_id = referred_case(platform)
    own = Browser(platform, "clerk-buergeramt")
    other = Browser(platform, "clerk-ordnungsamt")
    home = own.get("/console/")
    assert home.status_code in (200, 303)
    page = own.get(f"/console/cases/{case_id}")
    assert page.status_code == 200 and "Angaben und Herkunft" in page.text
    assert "Ich bin im Oktober umgezogen." in page.text  # the citizen's correction
    assert other.get(f"/console/cases/{case_id}").status_code == 404
    worklist = other.get("/console/worklist")
    assert worklist.status_code == 200 and case_id not in worklist.text
    # A citizen's session does not open the console; no session is sent to log in.
    anonymous = httpx.Client(base_url=platform.base_url, timeout=30, follow_redirects=False)
    bounced = anonymous.get("/console/worklist")
    assert bounced.status_code == 303 and bounced.headers["location"].startswith("/login")
    # Form posts need the CSRF token.
    forged = own.client.post(f"/console/cases/{case_id}/assign", data={"csrf_token": "x"})
    assert forged.status_code == 403
