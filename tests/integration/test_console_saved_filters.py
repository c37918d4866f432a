"""Saved worklist filters (issue 17, item 2) over HTTP as a clerk uses them: a filter is kept
under a name, opens the worklist with it, is the clerk's own, and bad input changes nothing."""

from __future__ import annotations

import re
from html import unescape

from sqlmodel import Session, select

from backend.console.models import SavedFilter
from tests.conftest import Platform
from tests.integration.enginekit import engine, referred_case
from tests.integration.test_console_isolation import Browser


def _kept(platform: Platform) -> list[SavedFilter]:
    with Session(engine(platform)) as session:
        return list(session.exec(select(SavedFilter)).all())


def test_a_clerk_keeps_a_filter_and_only_they_see_and_delete_it(platform: Platform) -> None:
    _citizen, case_id = referred_case(platform, "erika")
    before = len(_kept(platform))
    clerk = Browser(platform, "clerk-buergeramt")
    query = "/console/worklist/filters?reason=referred&sort=newest&page=2"
    for bad, status in (
        ({"name": "   "}, 422),
        ({"name": "x" * 61}, 422),
    ):
        refused = clerk.post(query, bad)
        assert refused.status_code == status and "nicht gespeichert" in refused.text
    assert (
        clerk.post("/console/worklist/filters?reason=nope", {"name": "Kaputt"}).status_code == 422
    )
    no_token = clerk.client.post(query, data={"name": "Ohne Token"})
    assert no_token.status_code in (400, 403)
    assert len(_kept(platform)) == before, "a refused save stores nothing"

    saved = clerk.post(query, {"name": "Verwiesene, neueste zuerst"})
    assert saved.status_code == 303
    assert saved.headers["location"] == (
        "/console/worklist?reason=referred&sort=newest&done=filter_saved"
    ), "the page number is not part of a filter"
    page = clerk.get(saved.headers["location"]).text
    assert "Der Filter ist gespeichert." in page and case_id in page
    link = re.search(r'<a href="([^"]+)">Verwiesene, neueste zuerst</a>', page)
    assert link and unescape(link.group(1)) == "/console/worklist?reason=referred&sort=newest"
    assert clerk.post(query, {"name": "Verwiesene,  neueste zuerst"}).status_code == 409

    # A colleague neither sees nor deletes it.
    [kept] = [f for f in _kept(platform) if f.name == "Verwiesene, neueste zuerst"]
    boss = Browser(platform, "supervisor-buergeramt")
    assert "Verwiesene, neueste zuerst" not in boss.get("/console/worklist").text
    assert boss.post(f"/console/worklist/filters/{kept.id}/delete", {}).status_code == 404
    assert clerk.post(f"/console/worklist/filters/{kept.id}/delete", {}).status_code == 303
    assert "Verwiesene, neueste zuerst" not in clerk.get("/console/worklist").text
    assert len(_kept(platform)) == before
