"""Handover to a Fachverfahren over real HTTP: encrypted once, decryptable by jwcrypto, signed
status callbacks that expire after five minutes and count once."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from jwcrypto import jwe as cjwe
from jwcrypto import jwk as cjwk
from sqlmodel import Session, col, select

from backend.cases.handover_callbacks import (
    CallbackOutcome,
    StatusCallback,
    callback_secret,
    record_callback,
    sign,
)
from backend.cases.lifecycle import refer_or_note
from backend.context import AppContext, build_context
from backend.db import unit_of_work
from backend.handover.delivery import deliver_submission
from backend.handover.fitconnect import METADATA_SCHEMA
from backend.handover.models import Handover, HandoverCallback
from backend.records.models import Case, CaseEvent, Document
from backend.uploads.models import Upload
from sandbox.fitconnect import key_file
from tests.conftest import Platform
from tests.fitconnect import (
    exchange_errors,
    official_metadata_errors,
    openapi_errors,
    sender_client,
    sent_submission,
    submission_api,
)
from tests.integration.casekit import (
    context_for,
    identity,
    own_database,
    processing_case,
    settle,
    submit_cases,
)
from tests.livesrv import free_port

SERVICE = "sondernutzung-extern"
DESTINATION = "d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51"
ANSWERS = {"nutzung": "Umzugswagen vor dem Haus, 8 m", "beginn": "2026-05-02"}
PLAN = b"%PDF-1.7\n% Lageplan (test attachment)\n" + bytes(range(256)) * 40


@pytest.fixture(scope="module")
def platform_ctx(platform: Platform) -> Iterator[AppContext]:
    """A context on the platform's own database: callbacks land where the cases are."""
    ctx = build_context(platform.settings)
    yield ctx
    ctx.close()


def _submitted_case(platform: Platform, ctx: AppContext) -> str:
    """A case submitted by the service layer, with the citizen's upload attached to the draft."""
    who = identity()

    def attach(application_id: str) -> None:
        with Session(ctx.engine) as session:
            session.add(
                Upload(
                    application_id=application_id,
                    citizen_sub=who.sub,
                    field_id="lageplan",
                    display_name="Lageplan.pdf",
                    media_type="application/pdf",
                    size=len(PLAN),
                    sha256=hashlib.sha256(PLAN).hexdigest(),
                    content=PLAN,
                )
            )
            session.commit()

    [case_id] = submit_cases(ctx, SERVICE, [ANSWERS], who, before_submit=attach)
    # The platform's own worker processes the case too; let it finish first.
    settle(ctx, case_id, until_event="handed_over")
    return case_id


def _sandbox(platform: Platform) -> httpx.Client:
    """A client of the sandbox FIT-Connect logged in as the platform's sender."""
    return sender_client(platform.settings)


def _stored(platform: Platform, submission_id: str) -> dict[str, Any]:
    with _sandbox(platform) as sandbox:
        return sent_submission(sandbox, submission_id)


def _decrypt(token: str, key: cjwk.JWK) -> tuple[bytes, dict[str, Any]]:
    message = cjwe.JWE()
    message.deserialize(token, key=key)
    return message.payload, dict(message.jose_header)


def test_a_submission_is_encrypted_to_the_destination_and_jwcrypto_can_read_it(
    platform: Platform, platform_ctx: AppContext
) -> None:
    case_id = _submitted_case(platform, platform_ctx)
    result = deliver_submission(platform_ctx, case_id, refer=refer_or_note)
    assert result.status in ("delivered", "accepted"), result
    # Delivering again sends nothing new.
    again = deliver_submission(platform_ctx, case_id, refer=refer_or_note)
    assert again.submission_id == result.submission_id

    with _sandbox(platform) as sandbox:
        listed = sandbox.get("/v1/submissions").json()["submissions"]
        exchanges = sandbox.get("/journal").json()["exchanges"]
    wire = str(uuid.UUID(result.submission_id))
    assert [s["submissionId"] for s in listed].count(wire) == 1
    body = _stored(platform, result.submission_id)
    assert {"encryptedMetadata", "encryptedData", "caseId", "serviceType"} <= set(body)
    assert body["caseId"] == str(uuid.UUID(case_id))
    # Announce, every attachment, submit: each request and answer as the OpenAPI defines them.
    ours = [e for e in exchanges if wire in e["path"] or e["path"] == "submissions"]
    assert [e["status"] for e in ours if wire in e["path"]][-1] == 202
    assert all(exchange_errors(e) == [] for e in ours), [exchange_errors(e) for e in ours]
    assert body["serviceType"]["identifier"] == "urn:de:fim:leika:leistung:99034004000000"

    pem = key_file(platform.settings.data_dir, DESTINATION).read_bytes()
    key = cjwk.JWK.from_pem(pem)
    metadata_bytes, header = _decrypt(body["encryptedMetadata"], key)
    assert header["alg"] == "RSA-OAEP-256" and header["enc"] == "A256GCM"
    with _sandbox(platform) as sandbox:
        about = sandbox.get(f"/v1/destinations/{DESTINATION}").json()
    assert header["kid"] == about["encryptionKid"]
    metadata = json.loads(metadata_bytes)
    data, _ = _decrypt(body["encryptedData"], key)

    structure = metadata["contentStructure"]
    assert structure["data"]["hash"] == {
        "type": "sha512",
        "content": hashlib.sha512(data).hexdigest(),
    }
    fields = json.loads(data)
    with Session(platform_ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
        uploads = session.exec(select(Upload).where(Upload.case_id == case_id)).all()
        documents = session.exec(select(Document).where(Document.case_id == case_id)).all()
    assert official_metadata_errors(metadata) == []
    assert metadata["$schema"] == METADATA_SCHEMA
    assert (
        metadata["additionalReferenceInfo"]["senderReference"]
        == case.reference
        == fields["reference"]
    )
    assert metadata["publicServiceType"]["identifier"] == body["serviceType"]["identifier"]
    assert fields["fields"]["nutzung"] == ANSWERS["nutzung"]
    assert fields["origin"]["familienname"] == "registry"
    assert handover.data_sha512 == hashlib.sha512(data).hexdigest()

    # Every attachment: announced with its hash, encrypted separately, content intact.
    # On the wire every id is a UUID, as the metadata schema requires.
    expected = {str(uuid.UUID(u.id)): u.content for u in uploads} | {
        str(uuid.UUID(d.id)): d.content for d in documents
    }
    assert {a["attachmentId"] for a in structure["attachments"]} == set(expected)
    assert set(body["encryptedAttachments"]) == set(expected)
    [plan] = [a for a in structure["attachments"] if a["filename"] == "Lageplan.pdf"]
    assert plan["mimeType"] == "application/pdf" and plan["purpose"] == "attachment"
    for announced in structure["attachments"]:
        content, attachment_header = _decrypt(
            body["encryptedAttachments"][announced["attachmentId"]], key
        )
        assert content == expected[announced["attachmentId"]]
        assert announced["hash"] == {
            "type": "sha512",
            "content": hashlib.sha512(content).hexdigest(),
        }
        assert attachment_header["cty"] == announced["mimeType"]


def test_the_destination_confirms_by_signed_callback(
    platform: Platform, platform_ctx: AppContext
) -> None:
    case_id = _submitted_case(platform, platform_ctx)
    result = deliver_submission(platform_ctx, case_id, refer=refer_or_note)
    deadline = time.monotonic() + 20
    while True:
        with Session(platform_ctx.engine) as session:
            handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
            events = [
                e.type for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id))
            ]
        if handover.status == "accepted":
            break
        assert time.monotonic() < deadline, _stored(platform, result.submission_id)["callbacks"]
        time.sleep(0.1)
    assert events.count("handed_over") == 1
    assert events.count("handover_accepted") == 1
    [callback] = _stored(platform, result.submission_id)["callbacks"]
    assert callback["status"] == "accepted" and callback["http_status"] == 200
    # On the wire it was the Submission API's own callback: news of the log, no answer in it.
    wire = {key: callback[key] for key in ("type", "submissions")}
    schema = submission_api()["components"]["schemas"]["CallbackNewEvents"]
    assert openapi_errors(schema, wire) == []
    assert wire["submissions"][0]["submissionId"] == str(uuid.UUID(result.submission_id))
    assert "status" not in json.dumps(wire)
    # The same news again (a retry, or a replay within the window) changes nothing.
    again = _post_callback(platform, wire)
    assert again.status_code == 200 and again.json() == {
        "status": "ignored",
        "reason": "no_new_answer",
    }
    forged = _post_callback(platform, wire, secret="x" * 64)
    assert forged.status_code == 401
    nobody = {"type": wire["type"], "submissions": []}
    assert _post_callback(platform, nobody).status_code == 422


def _post_callback(
    platform: Platform,
    payload: dict[str, Any] | bytes,
    *,
    secret: str | None = None,
    age_s: int = 0,
    tamper: bool = False,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = str(int(time.time()) - age_s)
    signature = sign(secret or callback_secret(platform.settings), timestamp, body)
    if tamper:
        body = body.replace(b"rejected", b"accepted")
    return httpx.post(
        f"{platform.base_url}/api/handover/callbacks",
        content=body,
        headers={
            "callback-authentication": signature,
            "callback-timestamp": timestamp,
            "Content-Type": "application/json",
        },
    )


def _rejection(submission_id: str) -> dict[str, Any]:
    return {
        "eventId": uuid.uuid4().hex,
        "submissionId": submission_id,
        "status": "rejected",
        "reason": "Flurstück liegt nicht im Zuständigkeitsbereich",
    }


def _awaiting_answer(ctx: AppContext) -> tuple[str, str]:
    """A decided case handed over to a Fachverfahren that has not answered yet.

    The sandbox destination answers every submission within moments, so the row is written
    here: the callbacks below must meet a handover that is still waiting for its answer.
    """
    [case_id] = submit_cases(ctx, "meldebescheinigung", [{}])
    settle(ctx, case_id)
    row = Handover(case_id=case_id, destination_id=DESTINATION, status="delivered")
    with Session(ctx.engine) as session:
        session.add(row)
        session.commit()
        return case_id, row.submission_id


def test_callbacks_must_be_signed_fresh_and_count_once(
    platform: Platform, platform_ctx: AppContext
) -> None:
    case_id, submission_id = _awaiting_answer(platform_ctx)
    payload = _rejection(submission_id)

    unsigned = httpx.post(f"{platform.base_url}/api/handover/callbacks", json=payload)
    assert unsigned.status_code == 401
    assert _post_callback(platform, payload, tamper=True).status_code == 401
    assert _post_callback(platform, payload, secret="not-the-secret").status_code == 401
    stale = _post_callback(platform, payload, age_s=301)
    assert stale.status_code == 401
    assert "älter als fünf Minuten" in stale.json()["message"]
    assert _post_callback(platform, payload, age_s=-120).status_code == 401
    malformed = _post_callback(platform, b'{"status": "vielleicht"}')
    assert malformed.status_code == 422
    unknown = _post_callback(platform, _rejection(uuid.uuid4().hex))
    assert unknown.status_code == 404

    first = _post_callback(platform, payload, age_s=290)
    assert first.status_code == 200 and first.json() == {"status": "recorded"}
    replay = _post_callback(platform, payload)
    assert replay.status_code == 200 and replay.json() == {"status": "duplicate"}

    with Session(platform_ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        rejected = session.exec(
            select(CaseEvent).where(
                CaseEvent.case_id == case_id, CaseEvent.type == "handover_rejected"
            )
        ).all()
    assert len(rejected) == 1
    assert rejected[0].reason == "Flurstück liegt nicht im Zuständigkeitsbereich"
    assert case.waiting_for == (
        "Sachbearbeitung: Fachverfahren hat die Übermittlung abgelehnt "
        "(Flurstück liegt nicht im Zuständigkeitsbereich)"
    )


def test_an_unreachable_fachverfahren_is_retried_then_the_case_goes_to_a_person(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "handover") as url:
        ctx = context_for(
            platform,
            url,
            tmp_path,
            handover_base_url=f"http://127.0.0.1:{free_port()}/fitconnect",
            handover_attempts=3,
            handover_backoff_s=0.05,
        )
        try:
            case_id = processing_case(ctx, SERVICE, ANSWERS)

            result = deliver_submission(ctx, case_id, refer=refer_or_note)

            assert result.status == "failed" and result.attempts == 3
            assert result.reason == "Fachverfahren unreachable"
            with Session(ctx.engine) as session:
                case = session.get(Case, case_id)
                handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
                [referred] = session.exec(
                    select(CaseEvent).where(
                        CaseEvent.case_id == case_id, CaseEvent.type == "referred"
                    )
                ).all()
            assert case is not None and case.status == "referred"
            assert case.waiting_for == (
                "Sachbearbeitung: Übermittlung an das Fachverfahren fehlgeschlagen "
                "(Fachverfahren unreachable)"
            )
            assert handover.status == "failed"
            assert referred.payload["referral_reasons"] == ["handover_failed"]
        finally:
            ctx.close()


def _log(ctx: AppContext, submission_id: str) -> list[HandoverCallback]:
    with Session(ctx.engine) as session:
        return list(
            session.exec(
                select(HandoverCallback)
                .where(HandoverCallback.submission_id == submission_id)
                .order_by(col(HandoverCallback.sequence))
            ).all()
        )


def _events(ctx: AppContext, case_id: str) -> list[CaseEvent]:
    with Session(ctx.engine) as session:
        return list(
            session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
            ).all()
        )


def test_a_late_rejection_after_the_acceptance_leaves_the_case_accepted_and_is_logged(
    platform: Platform, platform_ctx: AppContext
) -> None:
    case_id = _submitted_case(platform, platform_ctx)
    submission_id = deliver_submission(platform_ctx, case_id, refer=refer_or_note).submission_id
    deadline = time.monotonic() + 20
    while True:  # the sandbox destination accepts by a signed callback of its own
        with Session(platform_ctx.engine) as session:
            handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
            case = session.get(Case, case_id)
        if handover.status == "accepted":
            break
        assert time.monotonic() < deadline, handover.status
        time.sleep(0.1)
    assert case is not None
    status_before = case.status

    late = _post_callback(platform, _rejection(submission_id))

    with Session(platform_ctx.engine) as session:
        case = session.get(Case, case_id)
        handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
    assert case is not None
    assert handover.status == "accepted"
    assert case.status == status_before != "referred"
    assert "abgelehnt" not in (case.waiting_for or "")
    types = [e.type for e in _events(platform_ctx, case_id)]
    assert "handover_rejected" not in types and "referred" not in types
    [ignored] = [e for e in _events(platform_ctx, case_id) if e.type == "handover_callback_ignored"]
    assert ignored.payload["status"] == "rejected"
    assert ignored.payload["handover_status"] == "accepted"
    assert late.status_code == 200, late.text
    assert late.json() == {
        "status": "ignored",
        "reason": "already_final",
        "handover_status": "accepted",
    }
    accepted, rejected = _log(platform_ctx, submission_id)
    assert (accepted.sequence, accepted.status, accepted.outcome) == (1, "accepted", "applied")
    assert (rejected.sequence, rejected.status, rejected.outcome) == (2, "rejected", "ignored")
    assert rejected.handover_status == "accepted"
    assert rejected.ignored_reason == "already_final"


def _callback(submission_id: str, status: str, event_id: str | None = None) -> StatusCallback:
    return StatusCallback.model_validate(
        {
            "eventId": event_id or uuid.uuid4().hex,
            "submissionId": submission_id,
            "status": status,
            "reason": None if status == "accepted" else "Unterlagen unvollständig",
        }
    )


def test_duplicate_and_out_of_order_callbacks_are_applied_once_in_the_senders_order(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "handover_order") as url:
        # Delivered for real to the sandbox, whose own answer goes to the platform's database:
        # here the handover waits for the callbacks this test sends, in the order it sends them.
        ctx = context_for(platform, url, tmp_path)
        try:
            [case_id] = submit_cases(ctx, SERVICE, [ANSWERS])
            with unit_of_work(ctx.engine) as session:
                case = session.get(Case, case_id)
                assert case is not None
                case.status = "processing"
                session.add(case)
            submission_id = deliver_submission(ctx, case_id, refer=refer_or_note).submission_id
            now = int(time.time())
            accepted = _callback(submission_id, "accepted")

            first = record_callback(ctx, accepted, now - 60)
            replay = record_callback(ctx, accepted, now - 60)
            # Sent before the acceptance, arriving after it (a retry that overtook nothing).
            older = record_callback(ctx, _callback(submission_id, "rejected"), now - 120)
            with Session(ctx.engine) as session:
                case = session.get(Case, case_id)
                handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
            assert case is not None
            assert handover.status == "accepted"
            assert case.status == "processing", "an older rejection moved the accepted case"
            newer = record_callback(ctx, _callback(submission_id, "rejected"), now)
            with Session(ctx.engine) as session:
                case = session.get(Case, case_id)
                handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
            assert case is not None
            assert handover.status == "accepted" and case.status == "processing"

            assert first == CallbackOutcome("recorded")
            assert replay == CallbackOutcome("duplicate")
            assert older == CallbackOutcome("ignored", "out_of_order", "accepted")
            assert newer == CallbackOutcome("ignored", "already_final", "accepted")
            log = _log(ctx, submission_id)
            assert [(e.sequence, e.status, e.outcome, e.ignored_reason) for e in log] == [
                (1, "accepted", "applied", None),
                (2, "rejected", "ignored", "out_of_order"),
                (3, "rejected", "ignored", "already_final"),
            ]
            assert log[0].event_id == accepted.event_id
            types = [e.type for e in _events(ctx, case_id)]
            assert types.count("handover_accepted") == 1
            assert types.count("handover_callback_ignored") == 2
            assert "handover_rejected" not in types and "referred" not in types
        finally:
            ctx.close()


def test_a_rejection_stays_final_and_sends_the_case_to_a_person_once(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "handover_reject") as url:
        ctx = context_for(platform, url, tmp_path)
        try:
            [case_id] = submit_cases(ctx, SERVICE, [ANSWERS])
            with unit_of_work(ctx.engine) as session:
                case = session.get(Case, case_id)
                assert case is not None
                case.status = "processing"
                session.add(case)
            submission_id = deliver_submission(ctx, case_id, refer=refer_or_note).submission_id
            now = int(time.time())
            rejected = record_callback(ctx, _callback(submission_id, "rejected"), now - 10)
            accepted = record_callback(ctx, _callback(submission_id, "accepted"), now)
            with Session(ctx.engine) as session:
                case = session.get(Case, case_id)
                handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
            assert case is not None
            assert handover.status == "rejected" and case.status == "referred"
            assert rejected == CallbackOutcome("recorded")
            assert accepted == CallbackOutcome("ignored", "already_final", "rejected")
            types = [e.type for e in _events(ctx, case_id)]
            assert types.count("referred") == 1 and "handover_accepted" not in types
        finally:
            ctx.close()


def test_concurrent_answers_to_one_submission_apply_exactly_one(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "handover_race") as url:
        ctx = context_for(platform, url, tmp_path)
        try:
            case_ids = submit_cases(ctx, SERVICE, [ANSWERS] * 3)
            for case_id in case_ids:
                sent = int(time.time())
                submission_id = deliver_submission(ctx, case_id, refer=refer_or_note).submission_id
                answers = [_callback(submission_id, s) for s in ("accepted", "rejected")]
                gate = threading.Barrier(len(answers))

                def answer(
                    callback: StatusCallback, gate: threading.Barrier = gate, sent: int = sent
                ) -> CallbackOutcome:
                    gate.wait()
                    return record_callback(ctx, callback, sent)

                with ThreadPoolExecutor(len(answers)) as pool:
                    outcomes = list(pool.map(answer, answers))

                assert sorted(o.status for o in outcomes) == ["ignored", "recorded"], outcomes
                [won] = [a for a, o in zip(answers, outcomes, strict=True) if o.status != "ignored"]
                with Session(ctx.engine) as session:
                    handover = session.exec(
                        select(Handover).where(Handover.case_id == case_id)
                    ).one()
                assert handover.status == won.status
                log = _log(ctx, submission_id)
                assert [e.sequence for e in log] == [1, 2]
                assert [e.outcome for e in log] == ["applied", "ignored"]
                assert log[0].event_id == won.event_id
        finally:
            ctx.close()


def test_an_answer_that_arrives_while_delivery_fails_stands_and_no_person_is_asked(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    """The destination got the submission although its responses were lost: when our delivery
    gives up afterwards, the destination's answer stands and the case is not referred."""
    with own_database(database_url, tmp_path, "handover_lost") as url:
        ctx = context_for(
            platform,
            url,
            tmp_path,
            handover_base_url=f"http://127.0.0.1:{free_port()}/fitconnect",
            handover_client_id="knopfdruck",
            handover_client_secret="irrelevant-nobody-listens",
            handover_attempts=2,
            handover_backoff_s=1.0,
        )
        try:
            [case_id] = submit_cases(ctx, SERVICE, [ANSWERS])
            with unit_of_work(ctx.engine) as session:
                case = session.get(Case, case_id)
                assert case is not None
                case.status = "processing"
                session.add(case)
            with ThreadPoolExecutor(1) as pool:
                delivery = pool.submit(deliver_submission, ctx, case_id, refer=refer_or_note)
                deadline = time.monotonic() + 20
                while True:  # the first attempt has failed; the second waits for its backoff
                    with Session(ctx.engine) as session:
                        row = session.exec(
                            select(Handover).where(Handover.case_id == case_id)
                        ).first()
                    if row is not None and row.last_error:
                        break
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                answer = record_callback(
                    ctx, _callback(row.submission_id, "accepted"), int(time.time())
                )
                result = delivery.result(timeout=30)
            with Session(ctx.engine) as session:
                case = session.get(Case, case_id)
                handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
            assert answer == CallbackOutcome("recorded")
            assert handover.status == "accepted", "giving up overwrote the destination's answer"
            assert case is not None and case.status == "processing"
            assert result.status == "accepted"
            assert "referred" not in [e.type for e in _events(ctx, case_id)]
        finally:
            ctx.close()
