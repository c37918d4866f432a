"""Incidents as the department sees them over HTTP (issue 14, item 1): the start page counts
them per service, the worklist and the case file show them with the technical reason, the
clerk takes one over with a CSRF-checked form, and the JSON API and /metrics agree."""

from __future__ import annotations

import re
from html import unescape

from sqlmodel import Session

from backend.cases import incidents
from backend.context import build_context
from backend.records.models import Incident
from tests.conftest import Platform
from tests.integration.enginekit import engine, notified_case
from tests.integration.test_console_isolation import Browser, console_api


def test_a_clerk_sees_an_incident_everywhere_and_takes_it_over(platform: Platform) -> None:
    _api, case_id = notified_case(platform)
    ctx = build_context(platform.settings)
    try:
        incident_id = incidents.raise_incident(
            ctx,
            case_id,
            stage="notify",
            workflow="complete",
            reason="SMTPDataError: 554 <ops-marker-7f3a>",
            key=f"test:{case_id}",
        )
    finally:
        ctx.close()
    assert incident_id is not None

    clerk = Browser(platform, "clerk-buergeramt")
    start = clerk.get("/console/")
    assert start.status_code == 200
    assert "Offene Störungen" in start.text
    assert "/console/worklist?reason=incident&amp;service=meldebescheinigung" in start.text
    listed = clerk.get("/console/worklist?reason=incident")
    assert listed.status_code == 200 and case_id in listed.text
    assert "Technische Störung" in listed.text
    page = clerk.get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    assert "ops-marker-7f3a" in unescape(page.text)
    assert re.search(rf'name="incident" value="{incident_id}"', page.text)

    # Another department's clerk: neither in the list nor to be acted on.
    other = console_api(platform, "clerk-ordnungsamt")
    assert all(i["id"] != incident_id for i in other.get("/incidents").json())
    refused = other.post(f"/incidents/{incident_id}/take-over", json={"note": "Nicht meins."})
    assert refused.status_code == 404

    api = console_api(platform, "clerk-buergeramt")
    [listed_json] = [i for i in api.get("/incidents").json() if i["id"] == incident_id]
    assert listed_json["stage"] == "notify" and listed_json["status"] == "open"
    metrics = clerk.client.get("/metrics")
    assert metrics.status_code == 200
    assert 'knopfdruck_incidents_open{service="meldebescheinigung",stage="notify"}' in metrics.text

    # Without a note nothing happens; with one the incident is resolved.
    empty = clerk.post(
        f"/console/cases/{case_id}/incident-takeover", {"incident": incident_id, "note": " "}
    )
    assert empty.status_code == 422 and "Begründung" in empty.text
    done = clerk.post(
        f"/console/cases/{case_id}/incident-takeover",
        {"incident": incident_id, "note": "Bescheid per Post zugestellt."},
    )
    assert done.status_code == 303
    assert done.headers["location"].endswith("done=incident_taken_over")
    with Session(engine(platform)) as session:
        row = session.get(Incident, incident_id)
    assert row is not None and row.status == "resolved" and row.resolution == "taken_over"
    again = clerk.post(f"/console/cases/{case_id}/incident-retry", {"incident": incident_id})
    assert again.status_code == 409
    assert all(i["id"] != incident_id for i in api.get("/incidents").json())
    assert [i["id"] for i in api.get("/incidents?resolved=true").json()].count(incident_id) == 1
