"""The Submission API flow survives a crash at every point, and a broken submission never
leaves the platform: announce, upload and submit checked through the sandbox's journal."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.cases.lifecycle import refer_or_note
from backend.handover.credentials import sender_credentials
from backend.handover.delivery import (
    _access_token,
    _announce,
    _handover_row,
    build_submission,
    deliver_submission,
)
from backend.handover.message import announcement
from backend.handover.models import Handover
from backend.records.models import Case, Document
from tests.conftest import Platform
from tests.fitconnect import exchange_errors, sender_client
from tests.integration.casekit import context_for, own_database, submit_cases

SERVICE = "sondernutzung-extern"
DESTINATION = "d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51"
ANSWERS = {"nutzung": "Umzugswagen vor dem Haus, 8 m", "beginn": "2026-05-02"}


def _journal(platform: Platform) -> list[dict[str, Any]]:
    """Every Submission API exchange of the platform's sender, as the sandbox recorded it."""
    with sender_client(platform.settings) as client:
        journal = client.get("/journal")
    journal.raise_for_status()
    exchanges: list[dict[str, Any]] = journal.json()["exchanges"]
    return exchanges


def _of_case(exchanges: list[dict[str, Any]], case_id: str) -> list[dict[str, Any]]:
    """The announcements of one case, and every later call about the submissions they made."""
    fit_case = str(uuid.UUID(case_id))
    announced = [
        e
        for e in exchanges
        if e["path"] == "submissions" and (e["body"] or {}).get("caseId") == fit_case
    ]
    ids = {e["response"]["submissionId"] for e in announced if e["status"] == 201}
    return announced + [e for e in exchanges if any(i in e["path"] for i in ids)]


def _with_document(ctx: Any, case_id: str, media_type: str) -> None:
    """A document issued for the case, so the submission carries an attachment."""
    content = b"%PDF-1.7 Bescheid"
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.status = "processing"
        session.add(case)
        session.add(
            Document(
                case_id=case_id,
                definition_id="bescheid",
                kind="notice",
                title="Bescheid",
                filename="Bescheid.pdf",
                media_type=media_type,
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
                content=content,
            )
        )
        session.commit()


def test_a_delivery_that_died_after_the_announcement_sends_that_submission_once(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "announced") as url:
        ctx = context_for(platform, url, tmp_path)
        try:
            [case_id] = submit_cases(ctx, SERVICE, [ANSWERS])
            _with_document(ctx, case_id, "application/pdf")
            # The first attempt announces, stores the id, and the process dies right there.
            row = _handover_row(ctx, case_id, DESTINATION)
            submission = build_submission(ctx, case_id, row.submission_id, DESTINATION)
            api = f"{ctx.settings.handover_base_url}/v1"
            with httpx.Client(timeout=30) as client:
                token = _access_token(client, sender_credentials(ctx.settings))
                client.headers["Authorization"] = f"Bearer {token}"
                first, resumed = _announce(ctx, client, api, case_id, announcement(submission))
            assert not resumed and first != row.submission_id
            with Session(ctx.engine) as session:
                stored = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
            assert stored.submission_id == first and stored.announced_at is not None

            # The recovered step delivers the announced submission: no second announcement.
            result = deliver_submission(ctx, case_id, refer=refer_or_note)
            assert result.status == "delivered" and result.submission_id == first
            calls = _of_case(_journal(platform), case_id)
            assert [e["path"] for e in calls if e["path"] == "submissions"] == ["submissions"]
            wire = str(uuid.UUID(first))
            uploads = [e for e in calls if "/attachments/" in e["path"]]
            assert len(uploads) == 1 and uploads[0]["status"] == 204
            assert [e["status"] for e in calls if e["path"] == f"submissions/{wire}"] == [202]
            assert all(exchange_errors(e) == [] for e in calls), [exchange_errors(e) for e in calls]

            # Died again after the submit, before the delivery was recorded: the verified event
            # log shows the submission sent, so nothing is uploaded or submitted twice.
            with Session(ctx.engine) as session:
                session.execute(
                    update(Handover)
                    .where(col(Handover.case_id) == case_id)
                    .values(status="pending", delivered_at=None)
                )
                session.commit()
            again = deliver_submission(ctx, case_id, refer=refer_or_note)
            assert again.status == "delivered" and again.submission_id == first
            assert _of_case(_journal(platform), case_id) == calls
        finally:
            ctx.close()


def test_a_broken_submission_is_caught_by_our_own_checks_before_anything_is_sent(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "broken") as url:
        ctx = context_for(platform, url, tmp_path)
        try:
            [case_id] = submit_cases(ctx, SERVICE, [ANSWERS])
            # A document whose media type the metadata schema refuses.
            _with_document(ctx, case_id, "PDF Dokument")
            before = len(_journal(platform))
            result = deliver_submission(ctx, case_id, refer=refer_or_note)
            assert result.status == "failed" and result.attempts == 1
            assert result.reason is not None and "mimeType" in result.reason
            assert "PDF Dokument" not in result.reason  # the rule, never the value
            journal = _journal(platform)
            assert _of_case(journal, case_id) == []
            assert all(str(uuid.UUID(case_id)) not in str(e) for e in journal[before:])
            with Session(ctx.engine) as session:
                case = session.get(Case, case_id)
                handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
            assert case is not None and case.status == "referred"
            assert handover.announced_at is None and handover.status == "failed"
        finally:
            ctx.close()
