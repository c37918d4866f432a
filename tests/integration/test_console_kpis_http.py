"""Dashboard figures over real HTTP: counted from the real engine's cases, per department only.

The platform's database is shared by the session's tests, so every check compares the figures
before and after this test made its own cases.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html import unescape
from typing import Any

import httpx
from sqlmodel import Session, col, select

from backend.columns import aware, utcnow
from backend.records.models import Case, CaseEvent
from tests.conftest import Platform
from tests.integration.enginekit import engine, notified_case, objection_case, referred_case

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def console_api(platform: Platform, persona: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{platform.base_url}/api/v1/console",
        timeout=60,
        headers={"Authorization": f"Bearer {platform.token(persona)}"},
    )


class ClerkBrowser:
    """A clerk's browser without the browser: logged in through the sandbox IdP's code flow."""

    def __init__(self, platform: Platform, persona: str) -> None:
        self.client = httpx.Client(base_url=platform.base_url, timeout=60, follow_redirects=False)
        login = self.client.get("/console/login", params={"next": "/console/"})
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
        assert landed.status_code == 303 and landed.headers["location"] == "/console/"
        home = self.client.get("/console/")
        assert home.status_code == 200, home.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
        assert token is not None
        self.csrf = token.group(1)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict[str, str], **kw: Any) -> httpx.Response:
        return self.client.post(path, data={"csrf_token": self.csrf, **data}, **kw)


def _row(figures: dict[str, Any], service: str) -> dict[str, Any]:
    return next(row for row in figures["services"] if row["service"] == service)


def test_figures_follow_the_engine_and_stay_in_the_department(platform: Platform) -> None:
    own = console_api(platform, "clerk-buergeramt")
    other = console_api(platform, "clerk-ordnungsamt")
    before = own.get("/kpis").json()
    other_before = other.get("/kpis").json()

    notified_case(platform)  # decided by the machine
    referred_case(platform)  # the citizen disputed a value: a person decides

    after = own.get("/kpis").json()
    row, was = _row(after, "meldebescheinigung"), _row(before, "meldebescheinigung")
    assert row["cases_today"] - was["cases_today"] == 2
    assert row["cases_month"] - was["cases_month"] == 2
    assert row["automated"] - was["automated"] == 1
    assert row["time_automated"]["count"] - was["time_automated"]["count"] == 1
    assert row["time_automated"]["median_s"] is not None
    assert 0 <= row["time_automated"]["p95_s"] < 120
    assert row["referrals"] - was["referrals"] == 1
    assert (
        row["referral_reasons"]["disputed_data"] - was["referral_reasons"].get("disputed_data", 0)
        == 1
    )
    assert row["backlog"]["open"] - was["backlog"]["open"] == 1
    assert row["backlog"]["by_age"]["0-2"] - was["backlog"]["by_age"]["0-2"] == 1
    assert 0 < row["automation_rate"] <= 1
    assert after["total"]["cases_today"] - before["total"]["cases_today"] == 2
    assert after["department"] == "buergeramt"

    # The Ordnungsamt sees none of it: not the service, not the totals.
    other_after = other.get("/kpis").json()
    assert other_after["department"] == "ordnungsamt"
    assert "meldebescheinigung" not in [r["service"] for r in other_after["services"]]
    assert other_after["total"] == other_before["total"]
    assert other.get("/kpis/trend", params={"service": "meldebescheinigung"}).status_code == 404


def test_trend_and_csv(platform: Platform) -> None:
    own = console_api(platform, "clerk-buergeramt")
    trend = own.get("/kpis/trend", params={"days": 7}).json()["days"]
    assert len(trend) == 7 and trend == sorted(trend, key=lambda d: d["day"])
    before_today = trend[-1]["submitted"]
    notified_case(platform)
    today = own.get("/kpis/trend", params={"days": 7}).json()["days"][-1]
    assert today["submitted"] == before_today + 1
    assert today["automated"] >= 1

    response = own.get("/kpis.csv", params={"window_days": 7})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    by_service = {r["service"]: r for r in rows}
    assert set(by_service) >= {"meldebescheinigung", "*"}
    json_row = _row(own.get("/kpis", params={"window_days": 7}).json(), "meldebescheinigung")
    assert int(by_service["meldebescheinigung"]["cases_today"]) == json_row["cases_today"]
    assert int(by_service["meldebescheinigung"]["automated"]) == json_row["automated"]


def test_bad_requests_and_who_may_ask(platform: Platform) -> None:
    with httpx.Client(base_url=f"{platform.base_url}/api/v1/console", timeout=30) as anonymous:
        assert anonymous.get("/kpis").status_code == 401
    assert console_api(platform, "erika").get("/kpis").status_code == 403
    bad = console_api(platform, "clerk-buergeramt").get("/kpis", params={"window_days": 0})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_input"


def test_dashboard_page_and_csv_download(platform: Platform) -> None:
    notified_case(platform)
    own = ClerkBrowser(platform, "clerk-buergeramt")
    page = own.get("/console/", params={"window": "7"})
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html and 'role="img"' in html and 'id="trend-table"' in html
    assert "Meldebescheinigung" in html and 'id="kpi-table"' in html
    # A window the page does not offer falls back to the default instead of failing.
    assert own.get("/console/", params={"window": "abc"}).status_code == 200
    download = own.get("/console/kpis.csv", params={"window": "30"})
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert download.text.splitlines()[0].startswith("service,cases_today,")

    other = ClerkBrowser(platform, "clerk-ordnungsamt")
    theirs = other.get("/console/")
    assert theirs.status_code == 200
    assert "Meldebescheinigung" not in theirs.text
    assert "meldebescheinigung" not in other.get("/console/kpis.csv").text


def _recount(platform: Platform, department: str, service: str) -> tuple[int, int, list[float]]:
    """Decided and automated cases counted anew from cases and case_events, and the automated
    ones' seconds from submission to the engine's decision: the dashboard must agree."""
    with Session(engine(platform)) as session:
        cases = session.exec(
            select(Case).where(
                Case.department == department,  # type: ignore[arg-type]
                Case.service == service,  # type: ignore[arg-type]
                # The dashboard's window (30 days): other tests back-date decisions beyond it.
                col(Case.decided_at) >= utcnow() - timedelta(days=30),
            )
        ).all()
        decided, automated, seconds = 0, 0, []
        for case in cases:
            log = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()  # type: ignore[arg-type]
            decided += 1
            by_machine = [e for e in log if e.type == "decided" and e.actor == "system"]
            by_person = [
                e
                for e in log
                if e.type in ("clerk_decision", "automation_rerun")
                or (e.type == "incident_resolved" and e.payload.get("resolution") == "taken_over")
            ]
            if by_machine and not by_person:
                automated += 1
                first = min(aware(e.at) for e in by_machine)
                seconds.append((first - aware(case.submitted_at)).total_seconds())
    return decided, automated, seconds


def test_dashboard_counts_only_untouched_machine_decisions_as_automated(
    platform: Platform,
) -> None:
    """A mix through the real service layer; the figures must match a recount from the events."""
    clerk = console_api(platform, "clerk-buergeramt")
    supervisor = console_api(platform, "supervisor-buergeramt")
    before = _row(clerk.get("/kpis").json(), "meldebescheinigung")

    notified_case(platform)  # automatic
    _citizen, decided_by_clerk = referred_case(platform)
    done = clerk.post(
        f"/cases/{decided_by_clerk}/decision", json={"outcome": "approved", "reason": "Geprüft"}
    )
    assert done.status_code == 200, done.text
    _citizen, rerun = referred_case(platform)
    again = clerk.post(f"/cases/{rerun}/rerun", json={"reason": "Anschrift telefonisch geklärt"})
    assert again.status_code == 200, again.text
    for path in ("review", "objection"):
        # A Meldebescheinigung has no remedy (no administrative act): the objection goes
        # against a Bescheid of the same department, which the recount of its own row ignores.
        citizen, case_id = (notified_case if path == "review" else objection_case)(platform)
        lodged = citizen.post(f"/cases/{case_id}/{path}", json={"statement": "Bitte prüfen."})
        assert lodged.status_code == 201, lodged.text
        if path == "review":
            body: dict[str, str] = {"outcome": "rejected", "reason": "Nicht gemeldet."}
            changed = clerk.post(f"/cases/{case_id}/decision", json=body)
        else:
            # Taking the approval back (§ 48 VwVfG), the hearing recorded as dispensable.
            body = {
                "action": "remedy",
                "outcome": "rejected",
                "reason": "Abhilfe.",
                "withdrawal": "ruecknahme",
                "hearing_dispensable": "Der Widerspruchsführer hat sich bereits geäußert.",
            }
            changed = clerk.post(f"/cases/{case_id}/objection", json=body)
        assert changed.status_code == 200, changed.text
        if changed.json().get("pending_id"):
            ok = supervisor.post(
                f"/cases/{case_id}/pending", json={"confirm": True, "reason": "Bestätigt."}
            )
            assert ok.status_code == 200, ok.text

    row = _row(clerk.get("/kpis").json(), "meldebescheinigung")
    decided, automated, seconds = _recount(platform, "buergeramt", "meldebescheinigung")
    assert row["decided"] == decided and row["automated"] == automated
    assert row["time_automated"]["count"] == len(seconds)
    # Only the first case stayed the machine's; the other three were changed or re-run by people.
    assert row["automated"] - before["automated"] == 1
    assert row["decided"] - before["decided"] >= 3
    assert max(seconds) < 120, "time waiting for a clerk is not automated processing time"
