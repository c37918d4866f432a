"""Staff from the IdP's directory (issue 17, item 3): the console reads the sandbox IdP's SCIM 2.0
`/Users` over HTTP, lists every colleague of the department (also those who never logged in),
marks people the directory drops as inactive, and the SCIM endpoint refuses what it must."""

from __future__ import annotations

import httpx
from sqlmodel import Session, select

from backend.console.clerks import colleagues
from backend.console.directory import (
    ENTERPRISE_SCHEMA,
    StaffMember,
    apply_directory,
    directory_endpoint,
    read_directory,
    sync_directory,
)
from backend.context import build_context
from backend.department.models import ConsoleClerk
from sandbox.personas import PERSONAS
from tests.conftest import Platform
from tests.integration.enginekit import engine

USERS = {p.sub: p for p in PERSONAS if p.department}
"""Everyone the sandbox directory lists."""
STAFF = {p.sub: p for p in USERS.values() if "operator" not in p.roles}
"""Department staff; the data centre's operator is listed but is nobody's colleague."""


def test_the_scim_endpoint_speaks_scim_and_wants_its_token(platform: Platform) -> None:
    endpoint = directory_endpoint(platform.settings)
    assert endpoint is not None
    base, token = endpoint
    with httpx.Client(timeout=10) as http:
        anonymous = http.get(f"{base}/Users")
        assert anonymous.status_code == 401
        assert anonymous.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert (
            http.get(f"{base}/Users", headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        auth = {"Authorization": f"Bearer {token}"}
        bad = http.get(f"{base}/Users", params={"filter": 'userName eq "x"'}, headers=auth)
        assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"
        page = http.get(f"{base}/Users", params={"startIndex": 2, "count": 1}, headers=auth)
        body = page.json()
        assert page.headers["content-type"].startswith("application/scim+json")
        assert body["totalResults"] == len(USERS) and body["itemsPerPage"] == 1
        assert body["startIndex"] == 2 and body["Resources"][0]["id"] in USERS
        assert body["Resources"][0][ENTERPRISE_SCHEMA]["department"]


def test_every_colleague_is_listed_and_the_departed_are_not(platform: Platform) -> None:
    ctx = build_context(platform.settings)
    try:
        members = read_directory(*directory_endpoint(platform.settings))  # type: ignore[misc]
        assert {m.sub for m in members} == set(STAFF)
        report = sync_directory(ctx)
        assert report is not None and report.listed == len(STAFF)
        with Session(engine(platform)) as session:
            names = {c.name for c in colleagues(session, "buergeramt")}
            rows = {r.sub: r for r in session.exec(select(ConsoleClerk)).all()}
        assert {"Sabine Krüger", "Martin Hoffmann"} <= names
        # A town's clerks are its colleagues only: Bergheim's office of the same name is apart.
        verkehr = {c.name for c in colleagues(session, "strassenverkehrsamt")}
        assert "Lena Schmitz" in verkehr and "Jörg Esser" not in verkehr
        bergheim = {c.name for c in colleagues(session, "bergheim.strassenverkehrsamt")}
        assert bergheim == {"Jörg Esser"}
        assert all(rows[sub].in_directory and rows[sub].active for sub in STAFF)

        # Martin leaves the department: the directory drops him; he is kept but inactive.
        martin = next(s for s, p in STAFF.items() if p.id == "supervisor-buergeramt")
        remaining = [m for m in members if m.sub != martin]
        assert apply_directory(ctx, remaining).deactivated == 1
        with Session(engine(platform)) as session:
            names = {c.name for c in colleagues(session, "buergeramt")}
            assert "Martin Hoffmann" not in names
            row = session.get(ConsoleClerk, martin)
            assert row is not None and not row.active and row.name == "Martin Hoffmann"
        # Martin is back and a new colleague who never logged in appears at once.
        newcomer = StaffMember(
            "d0d0d0d0-0000-4000-8000-0000000000d1", "Nora Weiß", "buergeramt", ("clerk",)
        )
        back = apply_directory(ctx, [*members, newcomer])
        assert back.added == 1 and back.updated == 1
        with Session(engine(platform)) as session:
            names = {c.name for c in colleagues(session, "buergeramt")}
        assert {"Nora Weiß", "Martin Hoffmann"} <= names
        # The directory drops the newcomer again: back as before.
        assert apply_directory(ctx, members).deactivated == 1
    finally:
        ctx.close()
