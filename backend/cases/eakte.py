"""Hand-over of closed cases to the E-Akte as xdomea 0605, once per case version, with receipt.

Configured by ``eakte_url`` (HTTP: the ZIP is POSTed, the E-Akte answers with a 0630
ImportBestaetigen) or ``eakte_dir`` (a folder the E-Akte imports from: the ZIP is written
atomically and the written file is the receipt). Without either, nothing is handed over and
retention does not wait for it.

- The DBOS schedule ``knopfdruck.eakte_handover`` (``eakte_schedule``) hands over closed and
  withdrawn cases whose current version has no acknowledged hand-over yet; clerks do the same
  per case or for all of their department's closed cases from the console.
- One ``eakte_handovers`` row per case and version (unique), claimed with a lease before
  sending, so two workers never send the same version at once; the ProzessID is derived from
  case and version, so a resend after a lost answer is the same message to the E-Akte (which
  answers 0000009, already processed: counted as filed).
- A failure is retried by the next run; after ``eakte_attempts`` the row is ``failed`` and
  shown on the console's E-Akte page, where a clerk retries it once the cause is fixed.
- A message that does not validate against the xdomea XSDs is never sent (XdomeaInvalid).
- No event in the case log: the hand-over would change the version it hands over. The
  ``eakte_handovers`` row (kept after retention) is the record.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.cases.xdomea import XdomeaPackage, build_package, case_version
from backend.cases.xdomea_check import (
    SUCCESS,
    Acknowledgement,
    XdomeaInvalid,
    check_package,
    parse_acknowledgement,
)
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.department.access import department_case
from backend.department.identity import ClerkIdentity, Permission
from backend.domain.case_state import TERMINAL
from backend.errors import Conflict, NotFound
from backend.records.models import Case, CaseEvent, EAkteHandover
from backend.settings import Settings

log = logging.getLogger("knopfdruck.eakte")

ACKNOWLEDGED = "acknowledged"
PENDING = "pending"
FAILED = "failed"
_CLOSED = [str(s) for s in TERMINAL]


class DeliveryFailed(Exception):
    """The E-Akte did not take the message (unreachable, refused, or no valid receipt)."""


@dataclass(frozen=True)
class HandoverResult:
    case_id: str
    status: str
    """acknowledged, pending (failed this time, retried later), failed, or busy."""
    process_id: str
    error: str | None = None


def configured(settings: Settings) -> bool:
    return bool(settings.eakte_url or settings.eakte_dir)


def target(settings: Settings) -> str:
    return settings.eakte_url or str(settings.eakte_dir or "")


def acknowledged(session: Session, case_id: str) -> bool:
    """Whether the case as it is now was filed in the E-Akte (retention waits for this)."""
    version = case_version(session, case_id)
    return (
        session.exec(
            select(EAkteHandover.id).where(
                col(EAkteHandover.case_id) == case_id,
                col(EAkteHandover.version) == version,
                col(EAkteHandover.status) == ACKNOWLEDGED,
            )
        ).first()
        is not None
    )


def due_case_ids(session: Session, limit: int, department: str | None = None) -> list[str]:
    """Closed or withdrawn cases whose current version is neither filed nor failed for good."""
    latest = (
        select(func.max(CaseEvent.seq))
        .where(col(CaseEvent.case_id) == col(Case.id))
        .correlate(Case)
        .scalar_subquery()
    )
    settled = (
        select(EAkteHandover.id)
        .where(
            col(EAkteHandover.case_id) == col(Case.id),
            col(EAkteHandover.version) == latest,
            col(EAkteHandover.status).in_([ACKNOWLEDGED, FAILED]),
        )
        .correlate(Case)
        .exists()
    )
    query = select(Case.id).where(col(Case.status).in_(_CLOSED), ~settled)
    if department is not None:
        query = query.where(col(Case.department) == department)
    return list(session.exec(query.order_by(col(Case.updated_at)).limit(limit)).all())


def _row(ctx: AppContext, package: XdomeaPackage, requested_by: str) -> str:
    """The hand-over row of this case version, created on first sight; returns its id."""
    with Session(ctx.engine) as session:
        found = session.exec(
            select(EAkteHandover).where(
                col(EAkteHandover.case_id) == package.case_id,
                col(EAkteHandover.version) == package.version,
            )
        ).first()
        if found is not None:
            return found.id
        case = session.get(Case, package.case_id)
        if case is None:
            raise NotFound("Diesen Vorgang gibt es nicht. (Case not found.)")
        service, department = case.service, case.department
    try:
        with unit_of_work(ctx.engine) as session:
            row = EAkteHandover(
                case_id=package.case_id,
                reference=package.reference,
                service=service,
                department=department,
                version=package.version,
                process_id=package.process_id,
                target=target(ctx.settings)[:500],
                requested_by=requested_by[:200],
            )
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:  # another worker created it first: use theirs
        with Session(ctx.engine) as session:
            other = session.exec(
                select(EAkteHandover).where(col(EAkteHandover.process_id) == package.process_id)
            ).one()
            return other.id


def _claim(ctx: AppContext, row_id: str, *, retry_failed: bool) -> bool:
    """Take the row for one attempt (a lease as long as two upload timeouts)."""
    now = utcnow()
    statuses = [PENDING, FAILED] if retry_failed else [PENDING]
    with unit_of_work(ctx.engine) as session:
        result = session.exec(
            update(EAkteHandover)
            .where(
                col(EAkteHandover.id) == row_id,
                col(EAkteHandover.status).in_(statuses),
                or_(
                    col(EAkteHandover.claimed_until).is_(None),
                    col(EAkteHandover.claimed_until) < now,
                ),
            )
            .values(
                claimed_until=now + timedelta(seconds=2 * ctx.settings.eakte_timeout_s + 30),
                status=PENDING,
                attempts=EAkteHandover.attempts + 1,
            )
        )
        return bool(result.rowcount)


def _deliver_http(settings: Settings, package: XdomeaPackage) -> tuple[Acknowledgement, bytes]:
    headers = {"Content-Type": "application/zip", "X-Xdomea-ProzessID": package.process_id}
    if settings.eakte_token:
        headers["Authorization"] = f"Bearer {settings.eakte_token}"
    try:
        with httpx.Client(timeout=settings.eakte_timeout_s, trust_env=False) as client:
            response = client.post(settings.eakte_url, content=package.content, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"E-Akte nicht erreichbar: {type(exc).__name__}") from None
    if response.status_code >= 500 or response.status_code in (401, 403, 404, 405):
        raise DeliveryFailed(f"E-Akte antwortet mit HTTP {response.status_code}")
    try:
        ack = parse_acknowledgement(response.content)
    except XdomeaInvalid as exc:
        raise DeliveryFailed(
            f"keine gültige Importbestätigung (HTTP {response.status_code}): {exc}"[:500]
        ) from None
    return ack, response.content


def _deliver_folder(folder: Any, package: XdomeaPackage) -> Acknowledgement:
    """Write the ZIP atomically: a temporary name, flushed to disk, then renamed."""
    os.makedirs(folder, exist_ok=True)
    final = os.path.join(folder, package.filename)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".knopfdruck-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(package.content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, final)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise DeliveryFailed(f"Ablageordner nicht beschreibbar: {exc.strerror}") from None
    return Acknowledgement(package.process_id, [SUCCESS], f"abgelegt als {package.filename}")


def deliver(settings: Settings, package: XdomeaPackage) -> tuple[Acknowledgement, bytes | None]:
    """Send one package; the message is checked again first, so nothing invalid leaves."""
    check_package(package.content)
    if settings.eakte_url:
        ack, raw = _deliver_http(settings, package)
        if ack.process_id != package.process_id:
            raise DeliveryFailed("Importbestätigung für eine andere ProzessID")
        if not ack.filed:
            raise DeliveryFailed(f"E-Akte lehnt ab: {', '.join(ack.codes)} {ack.note}"[:500])
        return ack, raw
    if settings.eakte_dir is not None:
        return _deliver_folder(settings.eakte_dir, package), None
    raise DeliveryFailed("keine E-Akte konfiguriert")


def _finish(
    ctx: AppContext,
    row_id: str,
    package: XdomeaPackage,
    *,
    ack: Acknowledgement | None,
    raw: bytes | None,
    error: str | None,
) -> str:
    with unit_of_work(ctx.engine) as session:
        row = session.get(EAkteHandover, row_id)
        assert row is not None
        row.claimed_until = None
        row.package_sha256 = package.sha256
        row.package_size = len(package.content)
        row.documents = package.xml.count(b"<xdomea:Dokument>")
        if ack is not None:
            row.status = ACKNOWLEDGED
            row.acknowledged_at = utcnow()
            row.ack_codes = ",".join(ack.codes)[:200]
            row.ack_note = ack.note[:500]
            row.ack_xml = raw.decode("utf-8", "replace") if raw else None
            row.last_error = None
        else:
            row.last_error = (error or "")[:2000]
            row.status = FAILED if row.attempts >= ctx.settings.eakte_attempts else PENDING
        session.add(row)
        return row.status


def hand_over(
    ctx: AppContext, case_id: str, *, requested_by: str = "schedule", retry_failed: bool = False
) -> HandoverResult:
    """Hand one case's current version over (once); the result says what became of it."""
    if not configured(ctx.settings):
        raise Conflict(
            "Es ist keine E-Akte angebunden (KNOPFDRUCK_EAKTE_URL oder _DIR). "
            "(No E-Akte is configured.)"
        )
    package = build_package(ctx, case_id, created_at=utcnow())  # raises XdomeaInvalid
    row_id = _row(ctx, package, requested_by)
    with Session(ctx.engine) as session:
        row = session.get(EAkteHandover, row_id)
        if row is not None and row.status == ACKNOWLEDGED:
            return HandoverResult(case_id, ACKNOWLEDGED, package.process_id)
    if not _claim(ctx, row_id, retry_failed=retry_failed):
        with Session(ctx.engine) as session:
            row = session.get(EAkteHandover, row_id)
            status = row.status if row is not None else PENDING
        return HandoverResult(case_id, status if status != PENDING else "busy", package.process_id)
    try:
        ack, raw = deliver(ctx.settings, package)
    except (DeliveryFailed, XdomeaInvalid) as exc:
        status = _finish(ctx, row_id, package, ack=None, raw=None, error=str(exc))
        # Ids only: the error names the E-Akte's answer, never the case's content.
        log.warning("eakte: case %s version %s not handed over: %s", case_id, package.version, exc)
        return HandoverResult(case_id, status, package.process_id, str(exc))
    _finish(ctx, row_id, package, ack=ack, raw=raw, error=None)
    log.info("eakte: case %s version %s filed (%s)", case_id, package.version, package.process_id)
    return HandoverResult(case_id, ACKNOWLEDGED, package.process_id)


def run_scheduled(ctx: AppContext) -> list[HandoverResult]:
    """One scheduled run: the oldest due closed cases, at most ``eakte_batch``."""
    if not configured(ctx.settings):
        return []
    with Session(ctx.engine) as session:
        due = due_case_ids(session, max(1, ctx.settings.eakte_batch))
    results = []
    for case_id in due:
        try:
            results.append(hand_over(ctx, case_id))
        except NotFound:
            with Session(ctx.engine) as session:
                if session.get(Case, case_id) is None:
                    continue  # deleted meanwhile
            # The case is there, its service definition (version) is not: an operator's matter.
            _record_error(ctx, case_id, "Dienstdefinition nicht gefunden", final=False)
        except XdomeaInvalid as exc:
            # A message we cannot build validly is a defect: shown as failed, never sent.
            log.error("eakte: case %s gives an invalid xdomea message: %s", case_id, exc)
            _record_error(ctx, case_id, f"xdomea-Nachricht ungültig: {exc}", final=True)
        except Exception as exc:  # one case must not stop the others behind it
            log.exception("eakte: case %s not handed over", case_id)
            _record_error(ctx, case_id, f"{type(exc).__name__}", final=False)
    return results


def _record_error(ctx: AppContext, case_id: str, error: str, *, final: bool) -> None:
    """A failure before sending: counted like a failed delivery (failed at once if final)."""
    # IntegrityError: another worker wrote the row at this moment; the next run counts again.
    with contextlib.suppress(IntegrityError):
        _count_error(ctx, case_id, error, final=final)


def _count_error(ctx: AppContext, case_id: str, error: str, *, final: bool) -> None:
    from backend.cases.xdomea import process_id

    with unit_of_work(ctx.engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            return
        version = case_version(session, case_id)
        row = session.exec(
            select(EAkteHandover).where(
                col(EAkteHandover.case_id) == case_id, col(EAkteHandover.version) == version
            )
        ).first() or EAkteHandover(
            case_id=case_id,
            reference=case.reference,
            service=case.service,
            department=case.department,
            version=version,
            process_id=process_id(case_id, version),
            target=target(ctx.settings)[:500],
        )
        if row.status == ACKNOWLEDGED:
            return
        row.attempts += 1
        row.status = FAILED if final or row.attempts >= ctx.settings.eakte_attempts else PENDING
        row.last_error = error[:2000]
        session.add(row)


# --- the console's side ----------------------------------------------------------------------


def clerk_hand_over(ctx: AppContext, clerk: ClerkIdentity, case_id: str) -> HandoverResult:
    """A clerk hands one closed case of their department over now (also retries a failed one)."""
    clerk.require(Permission.WORK_CASES)
    with Session(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        if case.status not in _CLOSED:
            raise Conflict(
                "Nur abgeschlossene oder zurückgenommene Vorgänge gehen an die E-Akte. "
                "(Only closed or withdrawn cases go to the E-Akte.)"
            )
    try:
        return hand_over(ctx, case_id, requested_by=clerk.actor.label, retry_failed=True)
    except XdomeaInvalid as exc:
        _record_error(ctx, case_id, f"xdomea-Nachricht ungültig: {exc}", final=True)
        return HandoverResult(case_id, FAILED, "", str(exc))


def clerk_hand_over_all(ctx: AppContext, clerk: ClerkIdentity) -> list[HandoverResult]:
    """A clerk hands over every closed case of their department not yet filed (one batch)."""
    clerk.require(Permission.WORK_CASES)
    if not configured(ctx.settings):
        raise Conflict(
            "Es ist keine E-Akte angebunden (KNOPFDRUCK_EAKTE_URL oder _DIR). "
            "(No E-Akte is configured.)"
        )
    with Session(ctx.engine) as session:
        due = due_case_ids(session, max(1, ctx.settings.eakte_batch), clerk.department)
    return [clerk_hand_over(ctx, clerk, case_id) for case_id in due]


def department_handovers(
    session: Session, department: str, limit: int = 200
) -> list[EAkteHandover]:
    """The department's hand-overs, failed first, then newest."""
    rows = session.exec(
        select(EAkteHandover)
        .where(col(EAkteHandover.department) == department)
        .order_by(col(EAkteHandover.created_at).desc())
        .limit(limit)
    ).all()
    return sorted(rows, key=lambda r: r.status != FAILED)


def waiting_count(session: Session, department: str) -> int:
    return len(due_case_ids(session, 10000, department))
