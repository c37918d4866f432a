"""A lost callback is recovered from the verified event log on the worker's schedule; a log
that fails verification goes to a person once and is never applied or read in a loop."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlmodel import Session, select

from backend.cases.handover_log import LOG_REFUSED, reconcile_handovers
from backend.cases.lifecycle import refer_or_note
from backend.handover.delivery import deliver_submission
from backend.handover.models import Handover, HandoverCallback
from backend.records.models import Case, CaseEvent
from tests.conftest import Platform
from tests.integration.casekit import context_for, own_database, processing_case
from tests.livesrv import free_port, serve_in_thread

SERVICE = "sondernutzung-extern"
ANSWERS = {"nutzung": "Umzugswagen vor dem Haus, 8 m", "beginn": "2026-05-02"}


def _delivered(ctx: Any) -> str:
    """A case delivered to the sandbox whose callback never reaches this database.

    The sandbox calls back the platform it belongs to, which knows nothing of this database's
    submissions: for this database the callback is lost, as on a network that drops it.
    """
    case_id = processing_case(ctx, SERVICE, ANSWERS)
    result = deliver_submission(ctx, case_id, refer=refer_or_note)
    assert result.status == "delivered", result
    return case_id


def _handover(ctx: Any, case_id: str) -> Handover:
    with Session(ctx.engine) as session:
        return session.exec(select(Handover).where(Handover.case_id == case_id)).one()


def _wait_for_log(ctx: Any, case_id: str) -> None:
    """The sandbox writes its answer to the log shortly after the submit."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if reconcile_handovers(ctx, older_than_s=0).applied:
            return
        time.sleep(0.2)
    raise AssertionError("the event log never showed the answer")


def test_an_accept_whose_callback_was_lost_is_taken_from_the_event_log(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "eventlog") as url:
        ctx = context_for(platform, url, tmp_path)
        try:
            case_id = _delivered(ctx)
            # Not yet due: a freshly delivered handover waits for its callback first.
            assert reconcile_handovers(ctx).applied == []
            assert _handover(ctx, case_id).status == "delivered"
            _wait_for_log(ctx, case_id)
            handover = _handover(ctx, case_id)
            assert handover.status == "accepted"
            with Session(ctx.engine) as session:
                [applied] = session.exec(
                    select(HandoverCallback).where(
                        HandoverCallback.submission_id == handover.submission_id
                    )
                ).all()
                accepted = session.exec(
                    select(CaseEvent).where(
                        CaseEvent.case_id == case_id, CaseEvent.type == "handover_accepted"
                    )
                ).all()
            assert applied.outcome == "applied" and applied.status == "accepted"
            assert len(accepted) == 1
            # Read again (the next run, or a second worker): nothing changes.
            assert reconcile_handovers(ctx, older_than_s=0).applied == []
        finally:
            ctx.close()


@pytest.fixture
def tampering_zustelldienst(platform: Platform) -> Iterator[str]:
    """The sandbox Zustelldienst behind a man in the middle who flips a byte of every SET."""
    upstream = platform.settings.handover_base_url
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/.well-known/jwks.json")
    def jwks() -> Any:
        return httpx.get(f"{upstream}/.well-known/jwks.json").json()

    @app.get("/v1/cases/{case_id}/events")
    def events(case_id: str, request: Request) -> Any:
        got = httpx.get(
            f"{upstream}/v1/cases/{case_id}/events",
            headers={"Authorization": request.headers.get("authorization", "")},
        )
        body = got.json()
        tampered = []
        for token in body.get("eventLog", []):
            header, payload, signature = token.split(".")
            raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
            raw[0] ^= 1
            forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
            tampered.append(f"{header}.{payload}.{forged}")
        return {"eventLog": tampered}

    port = free_port()
    with serve_in_thread(app, port) as base:
        yield base


def test_a_tampered_event_log_is_refused_and_goes_to_a_person_once(
    platform: Platform, database_url: str, tmp_path: Path, tampering_zustelldienst: str
) -> None:
    with own_database(database_url, tmp_path, "tampered") as url:
        ctx = context_for(platform, url, tmp_path)
        try:
            case_id = _delivered(ctx)
        finally:
            ctx.close()
        reader = context_for(
            platform,
            url,
            tmp_path,
            handover_base_url=tampering_zustelldienst,
            handover_token_url=f"{platform.settings.handover_base_url}/token",
        )
        try:
            deadline = time.monotonic() + 20
            while True:  # until the sandbox has logged its answer (the log is not empty)
                result = reconcile_handovers(reader, older_than_s=0)
                if result.refused or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert result.refused == [case_id] and result.applied == []
            handover = _handover(reader, case_id)
            assert handover.status == "delivered"
            assert handover.last_error is not None and handover.last_error.startswith(LOG_REFUSED)
            with Session(reader.engine) as session:
                case = session.get(Case, case_id)
                assert case is not None
                referred = session.exec(
                    select(CaseEvent).where(
                        CaseEvent.case_id == case_id, CaseEvent.type == "referred"
                    )
                ).all()
            assert case.status == "referred" and len(referred) == 1
            assert "Ereignisprotokoll" in (case.waiting_for or "")
            # Surfaced once: the next run neither reads that log again nor refers twice.
            again = reconcile_handovers(reader, older_than_s=0)
            assert again.refused == [] and again.applied == []
        finally:
            reader.close()
