"""Issue 14, item 3: text that must never give a 500. Over the real HTTP app, on SQLite and
PostgreSQL: a lone surrogate, NUL, a bidi override, 10 001 characters, JSON nested too deep and
bytes that are not UTF-8 are refused with a 422 naming the field, in the API, portal forms,
console forms, uploads and query strings; nothing is stored; what was stored before the rule is
still readable; and a failing statement leaves none of its values in any log."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import text, update
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.db import build_engine
from backend.records.models import Application, Case
from tests.conftest import Platform
from tests.integration.enginekit import engine, referred_case, wait_for_status
from tests.integration.portalkit import log_in, start
from tests.integration.test_console_isolation import Browser, console_api

SERVICE = "maengelmelder"
"""Erika may start it (substanziell), and it has free-text answers next to held names."""
BASELINE = {"answers": {"fundort_strasse": "Domstraße 1"}, "remark": "Bitte anrufen."}
NESTED = "[" * 40 + "]" * 40
BAD_JSON: list[tuple[str, bytes, str, str]] = [
    # (case, raw JSON body, the field named, the kind of refusal)
    (
        "surrogate",
        b'{"answers": {"fundort_strasse": "Dom\\ud800"}}',
        "answers.fundort_strasse",
        "text.surrogate",
    ),
    ("nul", b'{"remark": "Bitte \\u0000 anrufen"}', "remark", "text.control"),
    (
        "bidi",
        b'{"disputes": {"familienname": "Name \\u202eesaelp"}}',
        "disputes.familienname",
        "text.bidi",
    ),
    (
        "too long",
        b'{"answers": {"fundort_strasse": "' + b"x" * 10_001 + b'"}}',
        "answers.fundort_strasse",
        "text.too_long",
    ),
    (
        "too deep",
        b'{"answers": {"fundort_strasse": ' + NESTED.encode() + b"}}",
        "answers.fundort_strasse",
        "json.too_deep",
    ),
    ("not utf-8", b'{"remark": "Gr\xfc\xdfe"}', "body", "text.invalid_utf8"),
]


def _draft(api: httpx.Client) -> str:
    started = api.post("/applications", json={"service": SERVICE})
    assert started.status_code == 201, started.text
    app_id: str = started.json()["id"]
    saved = api.patch(f"/applications/{app_id}", json=BASELINE)
    assert saved.status_code == 200, saved.text
    return app_id


def _stored(api: httpx.Client, app_id: str) -> tuple[object, object, object]:
    """(fundort_strasse, familienname dispute, remark) as the API shows the draft."""
    view = api.get(f"/applications/{app_id}")
    assert view.status_code == 200, view.text
    fields = {f["id"]: f for f in view.json()["fields"]}
    return (
        fields["fundort_strasse"]["value"],
        fields["familienname"].get("disputed"),
        view.json()["remark"],
    )


def _assert_refused(response: httpx.Response, field: str, kind: str | None = None) -> None:
    assert response.status_code == 422, (response.status_code, response.text[:500])
    body = response.json()
    assert body["error"] == "invalid_input"
    detail = body["details"][0]
    assert detail["field"] == field, detail
    if kind is not None:
        assert detail["type"] == kind, detail


@pytest.fixture(scope="module")
def erika(platform: Platform) -> Iterator[httpx.Client]:
    with platform.api("erika") as api:
        yield api


@pytest.mark.parametrize(
    ("body", "field", "kind"), [c[1:] for c in BAD_JSON], ids=[c[0] for c in BAD_JSON]
)
def test_api_refuses_bad_text_and_stores_nothing(
    erika: httpx.Client, body: bytes, field: str, kind: str
) -> None:
    app_id = _draft(erika)
    before = _stored(erika, app_id)
    refused = erika.patch(
        f"/applications/{app_id}", content=body, headers={"Content-Type": "application/json"}
    )
    _assert_refused(refused, field, kind)
    assert "esaelp" not in refused.text and "xxxxxxxxxx" not in refused.text  # never echoed
    assert _stored(erika, app_id) == before == ("Domstraße 1", None, "Bitte anrufen.")


def test_accepted_text_is_stored_in_nfc(erika: httpx.Client) -> None:
    app_id = _draft(erika)
    decomposed = "Ko\u0308lner Straße 1"
    saved = erika.patch(
        f"/applications/{app_id}", json={"answers": {"fundort_strasse": decomposed}}
    )
    assert saved.status_code == 200, saved.text
    assert _stored(erika, app_id)[0] == "Kölner Straße 1"


def test_case_actions_and_console_api_refuse_bad_text(platform: Platform) -> None:
    citizen, case_id = referred_case(platform)
    objection = citizen.post(
        f"/cases/{case_id}/review",
        content=b'{"statement": "Bitte pr\\u00fcfen \\ud83d"}',
        headers={"Content-Type": "application/json"},
    )
    _assert_refused(objection, "statement", "text.surrogate")
    clerk = console_api(platform, "clerk-buergeramt")
    asked = clerk.post(
        f"/cases/{case_id}/question",
        content=b'{"question": "Seit wann \\u0000?"}',
        headers={"Content-Type": "application/json"},
    )
    _assert_refused(asked, "question", "text.control")
    assert clerk.get(f"/cases/{case_id}").json()["status"] == "referred"  # nothing happened
    assert "review" not in json.dumps(citizen.get(f"/cases/{case_id}/timeline").json())


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("q=%00", "query.q"),
        ("q=%E2%80%AE", "query.q"),  # U+202E
        ("q=%ED%A0%80", "query.q"),  # a surrogate in UTF-8 form: not UTF-8
        ("q=%FF", "query.q"),
        ("q=" + "x" * 10_001, "query.q"),
    ],
)
def test_query_strings_are_checked(
    platform: Platform, erika: httpx.Client, query: str, field: str
) -> None:
    _assert_refused(erika.get(f"/services?{query}"), field)
    with platform.client() as browser:
        page = browser.get(f"/services?{query}")
        assert page.status_code == 422
        assert page.headers["content-type"].startswith("text/html")
        assert "„query.q“" in page.text


def test_paths_are_checked(platform: Platform, erika: httpx.Client) -> None:
    _assert_refused(erika.get("/applications/%00"), "path", "text.control")
    _assert_refused(erika.get("/applications/%C0%80"), "path", "text.invalid_utf8")
    with platform.client() as browser:
        assert browser.get("/services/%E2%80%AEx").status_code == 422


def test_portal_forms_refuse_bad_text_and_store_nothing(
    platform: Platform, erika: httpx.Client
) -> None:
    citizen = log_in(platform, "erika")
    app_id = start(citizen, SERVICE)
    saved = citizen.post(
        f"/applications/{app_id}/topics/ort",
        {"answer__fundort_strasse": "Domstraße 1", "answer__fundort_plz": "50667"},
    )
    assert saved.status_code == 303, saved.text
    for value, kind in [("Dom\x00", "nul"), ("Dom\u202e1", "bidi"), ("x" * 10_001, "long")]:
        page = citizen.post(
            f"/applications/{app_id}/topics/ort", {"answer__fundort_strasse": value}
        )
        assert page.status_code == 422, (kind, page.status_code)
        assert page.headers["content-type"].startswith("text/html")
        assert "„answer__fundort_strasse“" in page.text
        assert value not in page.text
    raw = f"csrf_token={citizen.csrf}&answer__fundort_strasse=Dom%ED%A0%80".encode()
    page = citizen.client.post(
        f"/applications/{app_id}/topics/ort",
        content=raw,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 422
    assert _stored(erika, app_id)[0] == "Domstraße 1"
    # The remark on submit: refused, and the draft is not submitted.
    sent = citizen.post(f"/applications/{app_id}/submit", {"remark": "Bitte\x07"})
    assert sent.status_code == 422
    assert erika.get(f"/applications/{app_id}").json()["status"] == "draft"


def test_uploads_check_their_text_parts_but_not_the_file(platform: Platform) -> None:
    citizen = log_in(platform, "erika")
    app_id = start(citizen, SERVICE)
    image = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(image, format="PNG")
    content = image.getvalue()
    for data, filename, field in [
        ({"answer__beschreibung": "Sofa\x00"}, "sofa.png", "„answer__beschreibung“"),
        ({"answer__beschreibung": "Sofa"}, "sofa\u202egnp.exe", "„file__foto“"),
        ({"answer__beschreibung": "ä" * 25_000}, "sofa.png", "„answer__beschreibung“"),
    ]:
        page = citizen.client.post(
            f"/applications/{app_id}/topics/abfall",
            data={"csrf_token": citizen.csrf, "answer__kategorie": "sperrmuell", **data},
            files={"file__foto": (filename, content, "image/png")},
        )
        assert page.status_code == 422, page.text[:300]
        assert field in page.text
    with platform.api("erika") as api:
        draft = api.post("/applications", json={"service": SERVICE}).json()["id"]
        refused = api.put(
            f"/applications/{draft}/files/foto",
            files={"file": ("sofa\u202egnp.exe", content, "image/png")},
        )
        _assert_refused(refused, "file", "text.bidi")
        fields = {f["id"]: f for f in api.get(f"/applications/{draft}").json()["fields"]}
        assert not fields["foto"]["value"]
    # Bytes in the file itself that would be refused as text are the file's business.
    page = citizen.client.post(
        f"/applications/{app_id}/topics/abfall",
        data={
            "csrf_token": citizen.csrf,
            "answer__kategorie": "sperrmuell",
            "answer__beschreibung": "Sofa",
        },
        files={"file__foto": ("sofa.png", b"\x00\xff\xfe" + content, "image/png")},
    )
    assert page.status_code != 500 and "„file__foto“" not in page.text


def test_console_forms_refuse_bad_text(platform: Platform) -> None:
    _citizen, case_id = referred_case(platform)
    clerk = Browser(platform, "clerk-buergeramt")
    for value in ["Seit wann?\x00", "Seit wann?\u2067", "?" * 10_001]:
        page = clerk.post(f"/console/cases/{case_id}/ask", {"question": value})
        assert page.status_code == 422, page.text[:300]
        assert page.headers["content-type"].startswith("text/html")
        assert "„question“" in page.text
    status = console_api(platform, "clerk-buergeramt").get(f"/cases/{case_id}").json()["status"]
    assert status == "referred"


def test_rows_stored_before_the_rule_are_still_readable(platform: Platform) -> None:
    """Drafts and cases that got a lone surrogate in before the fix: every reader answers 200."""
    citizen, case_id = referred_case(platform)
    draft = citizen.post("/applications", json={"service": SERVICE}).json()["id"]
    with Session(engine(platform)) as session:
        case = session.exec(select(Case).where(Case.id == case_id)).one()
        data = dict(case.data)
        data["disputes"] = {**data.get("disputes", {}), "strasse": "Umgezogen \ud800"}
        # Written as the code before the rule wrote them: JSON keeps the \ud800 escapes.
        session.execute(update(Case).where(col(Case.id) == case_id).values(data=data))
        session.execute(
            update(Application)
            .where(col(Application.id) == draft)
            .values(answers={"fundort_strasse": "Dom\udfff"}, disputes={"familienname": "\ud83d"})
        )
        session.commit()

    shown = citizen.get(f"/applications/{draft}")
    assert shown.status_code == 200, shown.text
    assert "Dom\ufffd" in shown.text
    assert citizen.get(f"/cases/{case_id}").status_code == 200
    portal = log_in(platform, "erika")
    for path in (
        f"/applications/{draft}/check",
        f"/applications/{draft}/held",
        f"/cases/{case_id}",
    ):
        assert portal.get(path).status_code == 200, path
    clerk = console_api(platform, "clerk-buergeramt")
    file = clerk.get(f"/cases/{case_id}")
    assert file.status_code == 200, file.text
    assert "Umgezogen \ufffd" in file.text
    assert Browser(platform, "clerk-buergeramt").get(f"/console/cases/{case_id}").status_code == 200
    definition = (
        Path(platform.settings.services_dir) / "meldebescheinigung" / "service.yaml"
    ).read_text()
    boss = console_api(platform, "supervisor-buergeramt")
    impact = boss.post(
        "/impact", json={"service": "meldebescheinigung", "definition": definition, "days": 1}
    )
    assert impact.status_code == 200, impact.text
    impact_page = Browser(platform, "supervisor-buergeramt")
    page = impact_page.post(
        "/console/impact", {"service": "meldebescheinigung", "definition": definition, "days": "1"}
    )
    assert page.status_code == 200, page.text[:300]
    wait_for_status(citizen, case_id, {"referred"})


def test_a_database_error_logs_no_parameter_values(
    database_url: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """The NUL in a remark on PostgreSQL used to print the remark with the traceback."""
    from knopfdruck.app import UnexpectedErrors

    remark = f"Meine Anmerkung {secrets.token_hex(6)}"
    db = build_engine(database_url)

    def failing_statement() -> None:
        with db.begin() as conn:
            conn.execute(text("INSERT INTO no_such_table_kd (remark) VALUES (:r)"), {"r": remark})

    with pytest.raises(Exception) as raised:
        failing_statement()
    assert remark not in str(raised.value) and remark not in repr(raised.value)

    async def boom(request: Request) -> Response:
        failing_statement()
        return Response()

    app = UnexpectedErrors(Starlette(routes=[Route("/api/boom", boom, methods=["POST"])]))
    caplog.set_level(logging.DEBUG)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kd") as client:
            return await client.post("/api/boom", params={"q": remark}, data={"remark": remark})

    answer = asyncio.run(call())
    assert answer.status_code == 500
    assert remark not in answer.text
    logged = (
        caplog.text + "".join(str(r.__dict__) for r in caplog.records) + "".join(capfd.readouterr())
    )
    assert "unhandled error on POST /api/boom" in logged
    assert re.search(r"(Operational|Programming)Error", logged)
    assert remark not in logged
    db.dispose()


def test_a_definition_for_the_impact_analysis_may_be_longer_than_any_answer(
    platform: Platform,
) -> None:
    """The one text over 10 000 characters: a whole service.yaml, in the API and the console."""
    live = (
        Path(platform.settings.services_dir) / "meldebescheinigung" / "service.yaml"
    ).read_text()
    long = live + "\n# " + "Anmerkung " * 1_500 + "\n"
    assert len(long) > 15_000
    boss = console_api(platform, "supervisor-buergeramt")
    request = {"service": "meldebescheinigung", "definition": long, "days": 1}
    assert boss.post("/impact", json=request).status_code == 200
    refused = boss.post("/impact", json={**request, "definition": long + "\x00"})
    _assert_refused(refused, "definition", "text.control")
    page = Browser(platform, "supervisor-buergeramt").post(
        "/console/impact", {"service": "meldebescheinigung", "definition": long, "days": "1"}
    )
    assert page.status_code == 200, page.text[:300]
