"""Retention: delete cases, their documents and everything attached after the service's period.

Art. 5 Abs. 1 lit. e DSGVO (storage limitation): a service definition names how long its case
data is kept after the case is closed (``retention.days``) and on which legal basis. Once that
time has passed since a closed or withdrawn case last changed, the case is deleted in one
transaction with every row that refers to it (documents, case log, mailbox messages and their
mails, tasks, payments, uploads, …, found through the foreign keys, so tables added later are
covered), the application it came from, and its durable-execution records.

What stays: a tombstone in ``retention_log`` (reference, service, dates, counts, legal basis and
the head hash of the deleted case log), itself hash-chained, and a line in the operations log,
both without any content of the case. The protocol of registry reads (``registry_accesses``,
the citizen's data cockpit, § 10 OZG) is a record of its own and is kept.

Several workers may run this at once: each case goes in its own transaction and the tombstone's
unique case id and sequence number let only one of them record (and so commit) a deletion.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as sm_select

from backend.columns import aware, utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import ServiceDefinition
from backend.domain.case_state import TERMINAL
from backend.notifications.models import EmailOutbox, MailboxMessage
from backend.records.models import Case, CaseEvent, Document, RetentionRecord

log = logging.getLogger("knopfdruck.retention")

GENESIS = "0" * 64
RETAINED_TABLES = frozenset({"registry_accesses"})
"""Referring to a case, yet kept: the data cockpit protocol has its own retention."""
ACTIVE_WORKFLOW = ("ENQUEUED", "PENDING", "DELAYED")


@dataclass
class RetentionReport:
    cases: int = 0
    documents: int = 0
    by_service: Counter[str] = field(default_factory=Counter)
    case_ids: list[str] = field(default_factory=list)
    waiting_for_eakte: list[str] = field(default_factory=list)
    """Due, but kept: the E-Akte has not acknowledged their hand-over yet (issue 16)."""


def _record_digest(record: RetentionRecord) -> str:
    body = json.dumps(
        {
            "seq": record.seq,
            "case": record.case_id,
            "reference": record.reference,
            "service": record.service,
            "service_version": record.service_version,
            "retention_days": record.retention_days,
            "legal_basis": record.legal_basis,
            "closed_at": aware(record.closed_at).isoformat(timespec="microseconds"),
            "deleted_at": aware(record.deleted_at).isoformat(timespec="microseconds"),
            "events": record.events,
            "documents": record.documents,
            "chain_head": record.chain_head,
            "prev": record.prev_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _scopes(ctx: AppContext) -> list[tuple[str | None, ServiceDefinition]]:
    """Each (tenant, service) with its retention period: rows without a tenant follow the home
    tenant's activation (or the template), every other tenant its own (issue 13, item 5)."""
    scopes: list[tuple[str | None, ServiceDefinition]] = [
        (None, ctx.definition(d.id)) for d in ctx.catalogue.all()
    ]
    for tenant_id, tenant in ctx.tenancy.tenants.items():
        if not tenant.home:
            scopes += [(tenant_id, d) for d in ctx.tenancy.catalogue_of(tenant_id).all()]
    return scopes


def due_cases(ctx: AppContext, session: Session, now: datetime, limit: int) -> list[Case]:
    """Closed or withdrawn cases whose retention period, as their authority set it, has run out."""
    due: list[Case] = []
    for tenant, definition in _scopes(ctx):
        cutoff = now - timedelta(days=definition.retention.days)
        owner = col(Case.tenant).is_(None) if tenant is None else col(Case.tenant) == tenant
        due.extend(
            session.exec(
                sm_select(Case)
                .where(
                    col(Case.service) == definition.id,
                    owner,
                    col(Case.status).in_([str(s) for s in TERMINAL]),
                    col(Case.updated_at) < cutoff,
                )
                .order_by(col(Case.updated_at))
                .limit(max(0, limit - len(due)))
            ).all()
        )
        if len(due) >= limit:
            break
    return due


def _filed_in_eakte(ctx: AppContext, session: Session, case_id: str) -> bool:
    """With an E-Akte configured, a case is deleted only after the E-Akte acknowledged the
    hand-over of the case as it is now (backend/cases/eakte.py): the record must survive us."""
    from backend.cases import eakte

    return not eakte.configured(ctx.settings) or eakte.acknowledged(session, case_id)


def _tables() -> dict[str, Table]:
    import backend.all_models  # noqa: F401  (every table, so every reference is known)

    return dict(SQLModel.metadata.tables)


def _delete_rows(session: Session, table: Table, column: str, values: list[Any]) -> int:
    """Delete the rows of ``table`` whose ``column`` is in ``values``, children first."""
    if not values:
        return 0
    for child in _tables().values():
        if child.name in RETAINED_TABLES:
            continue
        for fk in child.foreign_keys:
            if fk.column.table.name != table.name:
                continue
            keys = list(
                session.connection()
                .execute(select(fk.column).where(table.c[column].in_(values)))
                .scalars()
            )
            _delete_rows(session, child, fk.parent.name, keys)
    result = session.connection().execute(delete(table).where(table.c[column].in_(values)))
    return int(result.rowcount or 0)


def delete_case(ctx: AppContext, case_id: str, now: datetime) -> RetentionRecord | None:
    """Delete one due case and write its tombstone; None when it is no longer due or gone."""
    definition_of = {d.id: d for d in ctx.catalogue.all()}
    try:
        with unit_of_work(ctx.engine) as session:
            case = session.get(Case, case_id)
            if case is None or case.status not in {str(s) for s in TERMINAL}:
                return None
            definition = definition_of.get(case.service)
            if definition is None:
                return None
            if aware(case.updated_at) >= now - timedelta(days=definition.retention.days):
                return None
            if not _filed_in_eakte(ctx, session, case_id):
                return None
            workflows = ctx.dbos_client.list_workflows(
                workflow_id_prefix=f"case-{case_id}", load_input=False, load_output=False
            )
            # Notification mails run as workflows of their own (email-<outbox id>).
            mails = [
                f"email-{outbox_id}"
                for outbox_id in session.exec(
                    sm_select(EmailOutbox.id)
                    .join(MailboxMessage, col(MailboxMessage.id) == col(EmailOutbox.message_id))
                    .where(col(MailboxMessage.case_id) == case_id)
                ).all()
            ]
            if mails:
                workflows += ctx.dbos_client.list_workflows(
                    workflow_ids=mails, load_input=False, load_output=False
                )
            if any(wf.status in ACTIVE_WORKFLOW for wf in workflows):
                log.warning("retention: case %s still has a running workflow; kept", case_id)
                return None
            last = session.exec(
                sm_select(CaseEvent)
                .where(col(CaseEvent.case_id) == case_id)
                .order_by(col(CaseEvent.seq).desc())
            ).first()
            events = int(
                session.exec(sm_select(func.count()).where(col(CaseEvent.case_id) == case_id)).one()
            )
            documents = int(
                session.exec(sm_select(func.count()).where(col(Document.case_id) == case_id)).one()
            )
            previous = session.exec(
                sm_select(RetentionRecord).order_by(col(RetentionRecord.seq).desc())
            ).first()
            record = RetentionRecord(
                seq=(previous.seq + 1) if previous else 1,
                case_id=case.id,
                reference=case.reference,
                service=case.service,
                service_version=case.service_version,
                retention_days=definition.retention.days,
                legal_basis=definition.retention.legal_basis[:300],
                closed_at=aware(case.updated_at),
                deleted_at=now,
                events=events,
                documents=documents,
                chain_head=last.hash if last else GENESIS,
                prev_hash=previous.hash if previous else GENESIS,
                hash="",
            )
            record.hash = _record_digest(record)
            # The tombstone first: a second worker deleting the same case fails here.
            session.add(record)
            session.flush()
            application_id = case.application_id
            tables = _tables()
            _delete_rows(session, tables["cases"], "id", [case_id])
            _delete_rows(session, tables["applications"], "id", [application_id])
    except IntegrityError:
        return None  # another worker recorded this case (or the next seq) first; it is done
    # The workflow rows hold step outputs (decision inputs): they go too, after the commit,
    # so a failure here leaves at worst records a later run or DBOS's own cleanup removes.
    try:
        ids = [wf.workflow_id for wf in workflows]
        if ids:
            ctx.dbos_client.delete_workflows(ids, delete_children=True)
    except Exception:  # the case is gone either way; leftovers are found by the next check
        log.warning("retention: workflow records of case %s not deleted", case_id, exc_info=True)
    log.info(
        "retention: deleted case %s (service %s, %d days, %d events, %d documents)",
        case_id,
        record.service,
        record.retention_days,
        record.events,
        record.documents,
        extra={"case_id": case_id},
    )
    return record


def run_retention(
    ctx: AppContext, *, dry_run: bool = False, now: datetime | None = None
) -> RetentionReport:
    """Delete every due case (in batches of ``retention_batch``); dry_run only counts."""
    moment = now or utcnow()
    batch = max(1, ctx.settings.retention_batch)
    report = RetentionReport()
    seen: set[str] = set()
    while True:
        with Session(ctx.engine) as session:
            due = [
                c for c in due_cases(ctx, session, moment, batch + len(seen)) if c.id not in seen
            ]
            waiting = [c.id for c in due if not _filed_in_eakte(ctx, session, c.id)]
            report.waiting_for_eakte.extend(waiting)
            seen.update(waiting)
            due = [c for c in due if c.id not in waiting]
            if dry_run:
                for case in due:
                    report.cases += 1
                    report.by_service[case.service] += 1
                    report.case_ids.append(case.id)
                    report.documents += int(
                        session.exec(
                            sm_select(func.count()).where(col(Document.case_id) == case.id)
                        ).one()
                    )
                return report
        if not due:
            if waiting:
                continue  # this batch was all waiting for the E-Akte; look further
            return report
        for case in due[:batch]:
            seen.add(case.id)
            record = delete_case(ctx, case.id, moment)
            if record is not None:
                report.cases += 1
                report.documents += record.documents
                report.by_service[record.service] += 1
                report.case_ids.append(record.case_id)


@dataclass(frozen=True)
class RetentionLogReport:
    records: int
    ok: bool
    broken_at: int | None = None
    problem: str | None = None


def verify_retention_log(session: Session) -> RetentionLogReport:
    """Check the tombstones' chain: none removed, none altered."""
    records = session.exec(sm_select(RetentionRecord).order_by(col(RetentionRecord.seq))).all()
    prev = GENESIS
    for expected, record in enumerate(records, start=1):
        if record.seq != expected:
            return RetentionLogReport(len(records), False, expected, "record missing")
        if record.prev_hash != prev:
            return RetentionLogReport(len(records), False, record.seq, "link broken")
        if _record_digest(record) != record.hash:
            return RetentionLogReport(len(records), False, record.seq, "content altered")
        prev = record.hash
    return RetentionLogReport(len(records), True)


class RetentionSchedule:
    """Runs retention every ``retention_interval_s`` in a worker process (every worker may)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.interval_s = ctx.settings.retention_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_s <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="knopfdruck-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        # The first run soon after start, not at once: start-up recovers cases first.
        wait = min(60.0, self.interval_s)
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                report = run_retention(self.ctx)
                if report.cases:
                    log.info("retention: %d case(s) deleted", report.cases)
            except Exception:
                # A database hiccup must not end the schedule; the next run catches up.
                log.exception("retention run failed")
