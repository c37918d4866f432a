"""Delivering a case processed externally to its department's Fachverfahren, exactly once.

The submission id is chosen and stored before the first attempt, so every retry (or a
recovered workflow) sends the same submission, which the destination stores only once.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import httpx
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.constraints import local_day
from backend.definitions.models import ServiceDefinition
from backend.domain.case_state import CaseStatus
from backend.domain.handover_state import ANSWERED_OR_DELIVERED, HandoverEvent, Step, advance
from backend.handover.credentials import (
    ClientCredentials,
    sender_credentials,
    trust_anchor_file,
)
from backend.handover.fitconnect import (
    FACHDATEN_SCHEMA_URN,
    PaymentInformation,
    transaction_id,
    wire_id,
)
from backend.handover.fitconnect_events import EventLogInvalid, LogEvent, verify_event_log
from backend.handover.fitconnect_keys import UnusableKey, encryption_key, load_anchors
from backend.handover.message import (
    JOSE,
    Attachment,
    Submission,
    announcement,
    canonical_json,
    check_complete,
    encrypted_body,
)
from backend.handover.models import Handover
from backend.handover.routing import RoutingFailed, route_destination, routing_url
from backend.payments.models import Payment
from backend.records.audit import record_event
from backend.records.models import Case, Document
from backend.uploads.models import Upload

log = logging.getLogger("knopfdruck.handover")

LEIKA_URN = "urn:de:fim:leika:leistung:"


@dataclass(frozen=True)
class HandoverResult:
    """What became of a delivery: delivered (or already answered), or failed with a reason."""

    submission_id: str
    status: Literal["delivered", "accepted", "rejected", "failed"]
    reason: str | None = None
    attempts: int = 0


class _Failure(Exception):
    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


def _load(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise LookupError(f"case {case_id} vanished")
    return case


def _destination(definition: ServiceDefinition) -> str:
    if definition.processing != "external" or definition.handover is None:
        raise ValueError(f"service {definition.id!r} is not processed externally")
    return definition.handover.destination


def _handover_row(ctx: AppContext, case_id: str, destination: str) -> Handover:
    """The one handover row of the case, created on the first attempt."""
    with unit_of_work(ctx.engine) as session:
        found = session.exec(select(Handover).where(Handover.case_id == case_id)).first()
        if found is not None:
            return found
    try:
        with unit_of_work(ctx.engine) as session:
            row = Handover(case_id=case_id, destination_id=destination)
            session.add(row)
            return row
    except IntegrityError:
        with Session(ctx.engine) as session:
            raced = session.exec(select(Handover).where(Handover.case_id == case_id)).first()
            assert raced is not None
            return raced


def _application_data(case: Case, definition: ServiceDefinition) -> bytes:
    """The Fachdaten: values with their origin and provenance, as the citizen confirmed them."""
    data = case.data
    return canonical_json(
        {
            "service": {"id": definition.id, "version": case.service_version},
            "reference": case.reference,
            "referenceDate": case.reference_date.isoformat(),
            "submittedAt": case.submitted_at.isoformat(),
            "applicant": data.get("addressee") or {},
            "fields": data.get("values") or {},
            "origin": data.get("origin") or {},
            "provenance": data.get("provenance") or {},
            "disputes": data.get("disputes") or {},
            "remark": data.get("remark"),
        }
    )


def build_submission(
    ctx: AppContext, case_id: str, submission_id: str, destination_id: str | None = None
) -> Submission:
    """The plaintext submission: data, and the citizen's uploads and issued documents."""
    with Session(ctx.engine) as session:
        case = _load(session, case_id)
        definition = ctx.case_definition(case)
        uploads = session.exec(
            select(Upload).where(Upload.case_id == case_id).order_by(col(Upload.created_at))
        ).all()
        documents = session.exec(
            select(Document).where(Document.case_id == case_id).order_by(col(Document.created_at))
        ).all()
        attachments = [
            Attachment(u.id, u.display_name, u.media_type, "attachment", u.content) for u in uploads
        ] + [Attachment(d.id, d.filename, d.media_type, "document", d.content) for d in documents]
        paid = session.exec(
            select(Payment).where(Payment.case_id == case_id, Payment.status == "paid")
        ).first()
        return Submission(
            submission_id=submission_id,
            destination_id=destination_id or _destination(definition),
            service_identifier=LEIKA_URN + definition.leika,
            service_name=definition.title.de,
            case_reference=case.reference,
            application_date=local_day(case.submitted_at),
            schema_uri=f"{FACHDATEN_SCHEMA_URN}{definition.id}:{case.service_version}",
            data=_application_data(case, definition),
            attachments=tuple(attachments),
            case_id=case.id,
            payment=None
            if paid is None
            else PaymentInformation(
                transaction_id=transaction_id(paid.provider_ref or paid.id),
                transaction_reference=case.reference,
                amount=paid.amount,
                paid_at=paid.paid_at,
            ),
        )


def _access_token(client: httpx.Client, credentials: ClientCredentials | None) -> str:
    """A bearer token for the submission API (OAuth2 client credentials, as in FIT-Connect)."""
    if credentials is None:
        raise _Failure("no client credentials for the submission API configured", retryable=False)
    response = client.post(
        credentials.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        },
    )
    _check(response, "token request")
    token = response.json().get("access_token")
    if not isinstance(token, str) or not token:
        raise _Failure("token response without access_token", retryable=False)
    return token


def _send(ctx: AppContext, submission: Submission, case_id: str) -> tuple[str, str]:
    """Token, key, our own checks, then announce, upload and submit as the Submission API wants.

    Returns the key id used and the submission id the Zustelldienst assigned. Everything is
    encrypted and checked before the first request that changes anything is made.
    """
    api = f"{ctx.settings.handover_base_url.rstrip('/')}/v1"
    destination = f"{api}/destinations/{submission.destination_id}"
    timeout = ctx.settings.registry_timeout_s
    try:
        metadata = submission.metadata()
        with httpx.Client(timeout=timeout, headers={"User-Agent": "Knopfdruck/0.1"}) as client:
            token = _access_token(client, sender_credentials(ctx.settings))
            client.headers["Authorization"] = f"Bearer {token}"
            about = client.get(destination)
            _check(about, "destination lookup")
            kid = about.json().get("encryptionKid")
            if not isinstance(kid, str) or not kid or "/" in kid:
                raise _Failure("destination names no encryption key", retryable=False)
            public = client.get(f"{destination}/keys/{kid}")
            _check(public, "key lookup")
            anchors = trust_anchor_file(ctx.settings)
            jwks = {"keys": [public.json()]}
            key = encryption_key(jwks, [] if anchors is None else load_anchors(anchors))
            body = encrypted_body(submission, key)
            announced = announcement(submission)
            check_complete(announced, body, metadata)
            submission_id, resumed = _announce(ctx, client, api, case_id, announced)
            if resumed and _already_submitted(ctx, case_id, submission_id):
                return str(key["kid"]), submission_id
            on_wire = wire_id(submission_id)
            for attachment_id, token in body["encryptedAttachments"].items():
                uploaded = client.put(
                    f"{api}/submissions/{on_wire}/attachments/{attachment_id}",
                    content=token.encode(),
                    headers={"Content-Type": JOSE},
                )
                _check(uploaded, "attachment upload")
            sent = client.put(
                f"{api}/submissions/{on_wire}",
                json={
                    "encryptedMetadata": body["encryptedMetadata"],
                    "encryptedData": body["encryptedData"],
                },
            )
            _check(sent, "submission")
    except httpx.TimeoutException:
        raise _Failure("Fachverfahren timed out", retryable=True) from None
    except (httpx.NetworkError, httpx.RemoteProtocolError):
        raise _Failure("Fachverfahren unreachable", retryable=True) from None
    except (UnusableKey, ValueError) as exc:
        raise _Failure(str(exc), retryable=False) from None
    return str(key["kid"]), submission_id


def _announce(
    ctx: AppContext, client: httpx.Client, api: str, case_id: str, body: dict[str, Any]
) -> tuple[str, bool]:
    """The submission's id at the Zustelldienst: announced once, stored before any upload.

    A retry (or a recovered workflow) finds the id on the row and announces nothing again; the
    flag says whether the submission was announced by an earlier attempt.
    """
    with Session(ctx.engine) as session:
        row = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
        if row.announced_at is not None:
            return row.submission_id, True
    created = client.post(f"{api}/submissions", json=body)
    if created.status_code != 201:
        _check(created, "announcement")
        raise _Failure(f"announcement answered HTTP {created.status_code}", retryable=False)
    try:
        submission_id = uuid.UUID(str(created.json()["submissionId"])).hex
    except (KeyError, ValueError, TypeError):
        raise _Failure("announcement answered no submission id", retryable=False) from None
    with unit_of_work(ctx.engine) as session:
        stored = session.execute(
            update(Handover)
            .where(col(Handover.case_id) == case_id, col(Handover.announced_at).is_(None))
            .values(submission_id=submission_id, announced_at=utcnow(), updated_at=utcnow())
        )
        if stored.rowcount != 1:  # type: ignore[attr-defined]
            # Another attempt announced meanwhile: its submission is the one, ours stays empty.
            row = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
            return row.submission_id, True
    return submission_id, False


def _already_submitted(ctx: AppContext, case_id: str, submission_id: str) -> bool:
    """Whether the verified event log shows this submission sent (a crash after the submit)."""
    try:
        events = read_event_log(ctx, case_id)
    except (EventLogUnavailable, EventLogInvalid):
        return False
    return any(e.event == "submitted" and e.submission_id == submission_id for e in events)


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 500 or response.status_code == 429:
        raise _Failure(f"{what} failed (HTTP {response.status_code})", retryable=True)
    if response.status_code not in (200, 201, 202, 204):
        raise _Failure(f"{what} refused (HTTP {response.status_code})", retryable=False)


class Referral(Protocol):
    """Hands a case to a person: passed in by the workflow (``cases.lifecycle.refer_or_note``),
    since the hand-over sits below the case workflow and must not import it (issue 18)."""

    def __call__(
        self,
        ctx: AppContext,
        case_id: str,
        reason: str,
        payload: dict[str, Any],
        waiting_for: str,
        key: str,
    ) -> None: ...


def deliver_submission(ctx: AppContext, case_id: str, *, refer: Referral) -> HandoverResult:
    """Deliver the case to its Fachverfahren, retrying transient failures with backoff.

    When delivery keeps failing (or the destination refuses it), the case goes to a person
    with the reason, and its ``waiting_for`` says so.
    """
    with Session(ctx.engine) as session:
        case = _load(session, case_id)
        destination = _destination(ctx.case_definition(case))
    row = _handover_row(ctx, case_id, destination)
    if row.status in ANSWERED_OR_DELIVERED:
        return HandoverResult(row.submission_id, row.status)  # type: ignore[arg-type]
    attempts = max(1, ctx.settings.handover_attempts)
    submission: Submission | None = None
    for attempt in range(1, attempts + 1):
        try:
            if submission is None:
                destination = _routed(ctx, case_id, row)
                submission = build_submission(ctx, case_id, row.submission_id, destination)
            key_id, submission_id = _send(ctx, submission, case_id)
            submission = replace(submission, submission_id=submission_id)
        except _Failure as failure:
            log.warning("handover attempt %d failed: %s", attempt, failure.reason)
            if not failure.retryable or attempt == attempts:
                return _give_up(ctx, case_id, row.submission_id, failure.reason, attempt, refer)
            _note_failure(ctx, case_id, failure.reason, attempt, attempts)
            time.sleep(ctx.settings.handover_backoff_s * 2 ** (attempt - 1))
            continue
        return _delivered(ctx, case_id, submission, key_id, attempt)
    raise AssertionError("unreachable: the last attempt returns")


def _routed(ctx: AppContext, case_id: str, row: Handover) -> str:
    """The destination the Routing API names (when one is configured), kept on the row."""
    base = routing_url(ctx.settings)
    if base is None:
        return row.destination_id
    with Session(ctx.engine) as session:
        case = _load(session, case_id)
        leika = ctx.case_definition(case).leika
    try:
        with httpx.Client(
            timeout=ctx.settings.registry_timeout_s, headers={"User-Agent": "Knopfdruck/0.1"}
        ) as client:
            destination = route_destination(client, base, leika, ctx.settings.handover_region_key)
    except RoutingFailed as failed:
        raise _Failure(failed.reason, retryable=failed.retryable) from None
    if destination != row.destination_id:
        with unit_of_work(ctx.engine) as session:
            session.execute(
                update(Handover)
                .where(col(Handover.id) == row.id)
                .values(destination_id=destination, updated_at=utcnow())
            )
    return destination


def _note_failure(ctx: AppContext, case_id: str, reason: str, attempt: int, attempts: int) -> None:
    with unit_of_work(ctx.engine) as session:
        row = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
        row.last_error = reason[:500]
        row.updated_at = utcnow()
        session.add(row)
        case = _load(session, case_id)
        case.waiting_for = (
            f"Übermittlung an das Fachverfahren (Versuch {attempt + 1} von {attempts}; {reason})"
        )[:200]
        case.updated_at = utcnow()
        session.add(case)


def _move(session: Session, case_id: str, event: HandoverEvent) -> tuple[Handover, Step]:
    """Advance the handover by compare-and-set, so a callback committed meanwhile survives."""
    for _ in range(5):
        row = session.exec(
            select(Handover).where(Handover.case_id == case_id).with_for_update()
        ).one()
        step = advance(row.status, event)
        if not step.applied or step.status == row.status:
            return row, step
        moved = session.execute(
            update(Handover)
            .where(col(Handover.id) == row.id, col(Handover.status) == row.status)
            .values(status=step.status, updated_at=utcnow())
        )
        session.expire(row)
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            return session.exec(select(Handover).where(Handover.id == row.id)).one(), step
    raise RuntimeError(f"handover of case {case_id} keeps changing under the delivery")


def _delivered(
    ctx: AppContext, case_id: str, submission: Submission, key_id: str, attempts: int
) -> HandoverResult:
    with unit_of_work(ctx.engine) as session:
        # A callback may already have answered while we waited for the response: it stays.
        row, _ = _move(session, case_id, HandoverEvent.DELIVERED)
        row.key_id = key_id
        row.data_sha512 = submission.data_sha512
        row.attachments = [
            {
                "id": a.attachment_id,
                "filename": a.filename,
                "media_type": a.media_type,
                "sha512": a.sha512,
            }
            for a in submission.attachments
        ]
        row.last_error = None
        row.delivered_at = row.delivered_at or utcnow()
        row.updated_at = utcnow()
        session.add(row)
        case = _load(session, case_id)
        if case.status == CaseStatus.PROCESSING:
            case.waiting_for = f"Bearbeitung im Fachverfahren ({case.department})"[:200]
            case.updated_at = utcnow()
            session.add(case)
        record_event(
            session,
            case_id,
            "handed_over",
            actor="system",
            payload={
                "destination": submission.destination_id,
                "submission_id": submission.submission_id,
                "key_id": key_id,
                "data_sha512": submission.data_sha512,
                "attachments": [
                    {"id": a.attachment_id, "sha512": a.sha512} for a in submission.attachments
                ],
            },
            idempotency_key="handover",
        )
        status = row.status
    return HandoverResult(submission.submission_id, status, attempts=attempts)  # type: ignore[arg-type]


def _give_up(
    ctx: AppContext,
    case_id: str,
    submission_id: str,
    reason: str,
    attempts: int,
    refer: Referral,
) -> HandoverResult:
    """A person must deliver the case another way; the reason is on the case for them."""
    with unit_of_work(ctx.engine) as session:
        row, step = _move(session, case_id, HandoverEvent.FAILED)
        row.last_error = reason[:500]
        row.updated_at = utcnow()
        session.add(row)
    if not step.applied:
        # The destination answered although our requests failed (a lost response): its answer
        # stands, and no person needs to deliver the case again.
        log.warning("handover gave up, but the destination already answered: %s", step.status)
        return HandoverResult(submission_id, step.status, attempts=attempts)  # type: ignore[arg-type]
    refer(
        ctx,
        case_id,
        reason,
        {"referral_reasons": ["handover_failed"], "submission_id": submission_id},
        f"Sachbearbeitung: Übermittlung an das Fachverfahren fehlgeschlagen ({reason})"[:200],
        "handover",
    )
    return HandoverResult(submission_id, "failed", reason=reason, attempts=attempts)


class EventLogUnavailable(Exception):
    """The Zustelldienst could not be asked for the event log; nothing was concluded."""


def read_event_log(ctx: AppContext, case_id: str) -> list[LogEvent]:
    """The case's FIT-Connect event log, every Security Event Token verified (PS512, claims)."""
    base = ctx.settings.handover_base_url.rstrip("/")
    fit_case = wire_id(case_id)
    anchors_file = trust_anchor_file(ctx.settings)
    try:
        with httpx.Client(
            timeout=ctx.settings.registry_timeout_s, headers={"User-Agent": "Knopfdruck/0.1"}
        ) as client:
            keys = client.get(f"{base}/.well-known/jwks.json")
            _check(keys, "signing key lookup")
            token = _access_token(client, sender_credentials(ctx.settings))
            client.headers["Authorization"] = f"Bearer {token}"
            log = client.get(f"{base}/v1/cases/{fit_case}/events")
            _check(log, "event log")
    except _Failure as failure:
        raise EventLogUnavailable(failure.reason) from None
    except httpx.HTTPError as exc:
        raise EventLogUnavailable(f"Zustelldienst unreachable ({type(exc).__name__})") from None
    try:
        body, jwks = log.json(), keys.json()
    except ValueError:
        raise EventLogInvalid("the Zustelldienst answered no JSON") from None
    anchors = [] if anchors_file is None else load_anchors(anchors_file)
    return verify_event_log(body, jwks, anchors, fit_case)
