"""Admission control: above capacity the API answers 503 + Retry-After (problem JSON) and the
portal a "come back at <time>" page, at once; the draft is kept and can be submitted later."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col

from backend.admission import MAX_WAIT_S, AdmissionControl, Busy, estimated_wait_s
from backend.db import build_engine, unit_of_work
from backend.records.models import Case
from backend.settings import Settings
from knopfdruck.app import create_app
from tests.conftest import ROOT, Platform
from tests.integration.casekit import own_database
from tests.integration.portalkit import log_in, start
from tests.livesrv import TEST_SETTINGS, free_port, serve_in_thread

RETRY_AFTER_S = 120


@pytest.fixture
def crowded(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    """A platform whose intake takes one waiting case: the second must come back later."""
    with own_database(database_url, tmp_path, "admission") as url:
        services = tmp_path / "services"
        shutil.copytree(ROOT / "services" / "meldebescheinigung", services / "meldebescheinigung")
        port = free_port()
        settings = Settings(
            base_url=f"http://127.0.0.1:{port}",
            data_dir=tmp_path / "data",
            database_url=url,
            services_dir=services,
            worker_in_process=False,  # nothing drains the queue unless the test does
            admission_max_queue_depth=1,
            admission_check_interval_s=0,
            admission_retry_after_s=RETRY_AFTER_S,
            _env_file=None,
            **TEST_SETTINGS,
        )
        with serve_in_thread(create_app(settings), port) as base:
            yield Platform(base, settings)


def _drain(platform: Platform) -> None:
    """What a worker does to the backlog: the waiting cases get decided."""
    engine = build_engine(platform.settings.database_url)
    with unit_of_work(engine) as session:
        session.exec(update(Case).where(col(Case.status) == "submitted").values(status="decided"))
    engine.dispose()


def test_api_says_come_back_later_and_keeps_the_draft(crowded: Platform) -> None:
    api = crowded.api("erika")
    first, second = (
        api.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
        for _ in range(2)
    )
    assert api.post(f"/applications/{first}/submit").status_code == 200

    started = time.monotonic()
    busy = api.post(f"/applications/{second}/submit")
    assert time.monotonic() - started < 5, "a refusal must be quick"
    assert busy.status_code == 503, busy.text
    assert busy.headers["content-type"].startswith("application/problem+json")
    assert int(busy.headers["Retry-After"]) >= RETRY_AFTER_S
    problem = busy.json()
    assert problem["status"] == 503 and problem["error"] == "busy"
    assert problem["reason"] == "queue_depth" and problem["draft_kept"] is True
    assert problem["retry_after_s"] == int(busy.headers["Retry-After"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", problem["come_back_at"])

    draft = api.get(f"/applications/{second}")
    assert draft.status_code == 200 and draft.json()["status"] == "draft"
    # Starting and saving drafts stays possible while intake is full.
    assert api.post("/applications", json={"service": "meldebescheinigung"}).status_code == 201

    _drain(crowded)
    later = api.post(f"/applications/{second}/submit")
    assert later.status_code == 200, later.text
    # The refused attempt left nothing behind: one case per application.
    assert api.post(f"/applications/{second}/submit").json() == later.json()


def test_portal_shows_a_come_back_page_in_both_languages(crowded: Platform) -> None:
    citizen = log_in(crowded, "erika")
    blocker = crowded.api("erika")
    held = blocker.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
    assert blocker.post(f"/applications/{held}/submit").status_code == 200

    application = start(citizen, "meldebescheinigung")
    page = citizen.post(f"/applications/{application}/submit", {"remark": ""})
    assert page.status_code == 503, page.text[:500]
    assert int(page.headers["Retry-After"]) >= RETRY_AFTER_S
    assert "Gerade gehen sehr viele Anträge ein" in page.text
    assert re.search(r"Bitte senden Sie ihn ab \d\d\.\d\d\.\d{4}, \d\d:\d\d Uhr ab", page.text)
    assert f'href="/applications/{application}/check"' in page.text

    citizen.client.cookies.set("kd_lang", "en")
    english = citizen.post(f"/applications/{application}/submit", {"remark": ""})
    assert english.status_code == 503
    assert "Very many applications are arriving right now" in english.text
    assert "Please submit it from" in english.text

    # The draft is still there, and goes through once the backlog is worked off.
    assert citizen.get(f"/applications/{application}/check").status_code == 200
    _drain(crowded)
    done = citizen.submit(application, {"remark": ""})
    assert done.status_code == 303, done.text[:500]
    assert re.fullmatch(r"/cases/[0-9a-f]{32}/submitted", done.headers["location"])


def test_submissions_in_flight_above_the_limit_are_refused_at_once(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        admission_max_inflight_submits=1,
        admission_max_queue_depth=0,  # only the in-flight limit: no database needed
        admission_retry_after_s=30,
        _env_file=None,
    )
    admission = AdmissionControl(settings, build_engine(settings.database_url))
    inside, release = threading.Event(), threading.Event()

    def slow_submission() -> None:
        with admission.submission():
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=slow_submission)
    holder.start()
    assert inside.wait(10)
    with pytest.raises(Busy) as refused, admission.submission():
        pass
    assert refused.value.reason == "in_flight" and refused.value.retry_after_s == 30
    release.set()
    holder.join(10)
    assert admission.in_flight == 0
    with admission.submission():  # the slot is free again
        assert admission.in_flight == 1


def test_the_wait_follows_the_workers_recent_pace() -> None:
    """Backlog / decisions per second of the last five minutes, within floor and ceiling."""
    assert estimated_wait_s(10_000, 0, 60) == 60  # no recent decisions: the floor
    assert estimated_wait_s(3000, 300, 60) == 3000  # 1 decision/s, 3000 ahead
    assert estimated_wait_s(10, 300, 60) == 60  # nearly through: still the floor
    assert estimated_wait_s(10**9, 1, 60) == MAX_WAIT_S
