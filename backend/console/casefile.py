"""The case file as a clerk sees it: every value with its provenance (citizen corrections
next to the registry value), the rule trace, documents, payment, mailbox thread, the audit
trail with its chain check, and who read which data for this case. Reading it is logged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from backend.cases.views import Text
from backend.columns import aware
from backend.console.casefile_rows import (
    AccessRow,
    Allowed,
    CaseFile,
    ChainStatus,
    DocumentRow,
    EventRow,
    MessageRow,
    PendingRow,
    ReasonRow,
    RemedyRow,
    RereadRow,
    TaskRow,
    Trace,
    ValueRow,
)
from backend.console.clerks import names_by_actor, roles_by_actor
from backend.console.decisions import machine_outcome, open_pending
from backend.console.models import CaseAssignment
from backend.console.qa import is_qa_sample
from backend.console.reread import (
    REGISTER_KEYS,
    REREADABLE,
    REREADS,
    STATEMENTS,
    typed_held_fields,
)
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.display import display_value
from backend.department.access import department_case, log_case_read
from backend.department.automation import is_paused
from backend.department.identity import ClerkIdentity, Permission
from backend.domain.case_state import CaseStatus
from backend.domain.decision import stated_reasons
from backend.domain.policy import REFERRAL_TEXT
from backend.domain.provenance import value_sources
from backend.domain.remedy import remedy_for
from backend.errors import NotFound
from backend.notifications.models import MailboxMessage
from backend.payments.models import Payment
from backend.records.audit import verify_case_chain
from backend.records.models import CaseEvent, CaseTask, Document, RegistryAccess


def _values(ctx: AppContext, case: Any) -> list[ValueRow]:
    definition = ctx.case_definition(case)
    data = case.data or {}
    values = data.get("values") or {}
    origin = data.get("origin") or {}
    provenance = data.get("provenance") or {}
    disputes = data.get("disputes") or {}
    blocked = set(data.get("blocked_fields") or [])
    failed = set(data.get("failed_fields") or []) - blocked
    statements = data.get(STATEMENTS) or {}
    rereads = data.get(REREADS) or {}
    sources = value_sources(data)
    rows = []
    for field in definition.fields:
        if field.id not in values and field.id not in disputes:
            continue
        value = values.get(field.id)
        prov = provenance.get(field.id) or {}
        as_of = prov.get("as_of")
        source = sources.get(field.id)
        clerk = source if source is not None and source.kind == "clerk" else None
        rows.append(
            ValueRow(
                field=field.id,
                label=Text(de=field.label.de, en=field.label.en),
                value=value,
                display=Text(
                    de=display_value(field, value, "de"), en=display_value(field, value, "en")
                ),
                origin="clerk"
                if clerk is not None
                else origin.get(field.id, "registry" if prov else "citizen"),
                confirmed_by=clerk.by if clerk else None,
                confirmed_on=clerk.at if clerk else None,
                evidence=clerk.evidence if clerk else None,
                registry_title=prov.get("registry_title") or prov.get("registry"),
                record_id=prov.get("record_id"),
                as_of=aware(datetime.fromisoformat(as_of)) if as_of else None,
                correction=(
                    str(disputes[field.id].get("statement") or disputes[field.id])
                    if isinstance(disputes.get(field.id), dict)
                    else (str(disputes[field.id]) if field.id in disputes else None)
                ),
                registry_failed=field.id in failed,
                registry_blocked=field.id in blocked,
                statement=statements.get(field.id),
                statement_display=Text(
                    de=display_value(field, statements[field.id], "de"),
                    en=display_value(field, statements[field.id], "en"),
                )
                if field.id in statements
                else None,
                reread=RereadRow(
                    at=aware(datetime.fromisoformat(rereads[field.id]["at"])),
                    by=rereads[field.id].get("by") or "",
                    status=rereads[field.id].get("status") or "failed",
                    blocked=bool(rereads[field.id].get("blocked")),
                    same=bool(rereads[field.id].get("same")),
                )
                if field.id in rereads
                else None,
            )
        )
    return rows


def _trace(session: Session, case: Any) -> Trace | None:
    stored = case.decision
    if not stored:
        return None
    # The console shows every rule's result; the citizen's view only what carried the outcome.
    stated = stated_reasons(stored.get("outcome"), stored.get("reasons") or [])
    return Trace(
        outcome=stored.get("outcome"),
        proposed_outcome=stored.get("proposed_outcome"),
        machine_outcome=machine_outcome(session, case),
        referral_reasons=[
            (code, Text(**REFERRAL_TEXT.get(code, {"de": code, "en": code})))
            for code in stored.get("referral_reasons") or []
        ],
        reasons=[
            ReasonRow(
                rule_id=r.get("rule_id", ""),
                legal_reference=r.get("legal_reference", ""),
                effect=r.get("outcome_effect", ""),
                text=Text(
                    de=(r.get("text") or {}).get("de", ""), en=(r.get("text") or {}).get("en", "")
                ),
                stated=any(r is s for s in stated),
                detail=r.get("detail"),
            )
            for r in stored.get("reasons") or []
        ],
        inputs=dict(stored.get("inputs") or {}),
        amounts={k: str(v) for k, v in (stored.get("amounts") or {}).items()},
        categories=dict(stored.get("categories") or {}),
        rule_version=str(stored.get("rule_version") or ""),
        reference_date=stored.get("reference_date"),
    )


def _remedy_row(procedure: Any) -> RemedyRow | None:
    """What the service's regime gives, for the objection box and the JSON case file."""
    if procedure is None:
        return None
    remedy = remedy_for(procedure)
    return RemedyRow(
        kind=remedy.kind,
        name=remedy.name("de"),
        legal_basis=remedy.legal_basis,
        reexamination_basis=remedy.reexamination_basis,
        lodged_with=remedy.lodge_with.name if remedy.lodge_with else None,
    )


def case_file(ctx: AppContext, clerk: ClerkIdentity, case_id: str, purpose: str | None) -> CaseFile:
    """Everything about one case of the clerk's department; the read goes to the access log
    in the same transaction, so no file is shown unlogged."""
    clerk.require(Permission.VIEW)
    with unit_of_work(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        log_case_read(session, clerk, case, purpose or "bearbeitung")
        definition = ctx.case_definition(case)
        documents = session.exec(
            select(Document).where(Document.case_id == case.id).order_by(col(Document.created_at))
        ).all()
        payment = session.exec(select(Payment).where(Payment.case_id == case.id)).first()
        messages = session.exec(
            select(MailboxMessage)
            .where(MailboxMessage.case_id == case.id)
            .order_by(col(MailboxMessage.created_at))
        ).all()
        tasks = session.exec(
            select(CaseTask).where(CaseTask.case_id == case.id).order_by(col(CaseTask.created_at))
        ).all()
        events = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.seq))
        ).all()
        chain = verify_case_chain(session, case.id)
        accesses = session.exec(
            select(RegistryAccess)
            .where(
                or_(
                    col(RegistryAccess.case_id) == case.id,
                    col(RegistryAccess.application_id) == case.application_id,
                )
            )
            .order_by(col(RegistryAccess.at).desc())
            .limit(500)
        ).all()
        assignment = session.get(CaseAssignment, case.id)
        pending = open_pending(session, case.id)
        actors = [e.actor for e in events] + [a.actor for a in accesses]
        names, roles = names_by_actor(session, actors), roles_by_actor(session, actors)
        open_objection = any(t.kind == "objection" and t.status == "open" for t in tasks)
        undecided = case.status in (
            CaseStatus.REFERRED,
            CaseStatus.IN_REVIEW,
            CaseStatus.AWAITING_CITIZEN,
        )
        works = clerk.can(Permission.WORK_CASES)
        allowed = Allowed(
            decide=works and undecided and pending is None,
            ask=works
            and case.status in (CaseStatus.REFERRED, CaseStatus.IN_REVIEW)
            and pending is None,
            rerun=works and case.status == CaseStatus.REFERRED and pending is None,
            reread=works
            and case.status in REREADABLE
            and pending is None
            and bool(typed_held_fields(ctx, case))
            and bool((case.data or {}).get(REGISTER_KEYS)),
            amend=works and case.status in REREADABLE and pending is None,
            objection=works
            and case.status == CaseStatus.OBJECTION
            and open_objection
            and pending is None,
            cancel=clerk.can(Permission.CANCEL) and undecided and case.decided_at is None,
            confirm_pending=pending is not None
            and clerk.can(Permission.SECOND_APPROVAL)
            and pending.proposed_by != clerk.sub,
            assign_others=clerk.can(Permission.ASSIGN_OTHERS),
        )
        return CaseFile(
            id=case.id,
            reference=case.reference,
            service=case.service,
            service_title=Text(de=definition.title.de, en=definition.title.en),
            status=case.status,
            waiting_for=case.waiting_for,
            submitted_at=aware(case.submitted_at),
            decided_at=aware(case.decided_at) if case.decided_at else None,
            reference_date=case.reference_date.isoformat(),
            remark=(case.data or {}).get("remark"),
            qa_sample=is_qa_sample(case),
            four_eyes=definition.automation.four_eyes_on_overturn,
            service_paused=is_paused(session, case.service, case.department),
            values=_values(ctx, case),
            trace=_trace(session, case),
            documents=[
                DocumentRow(
                    id=d.id,
                    title=d.title,
                    kind=d.kind,
                    size=d.size,
                    sha256=d.sha256,
                    created_at=aware(d.created_at),
                )
                for d in documents
            ],
            payment=(
                {
                    "status": payment.status,
                    "amount": payment.amount,
                    "currency": payment.currency,
                    "paid_at": aware(payment.paid_at) if payment.paid_at else None,
                }
                if payment
                else None
            ),
            messages=[
                MessageRow(
                    at=aware(m.created_at),
                    subject=Text(de=m.subject_de, en=m.subject_en),
                    body=Text(de=m.body_de, en=m.body_en),
                    read=m.read_at is not None,
                )
                for m in messages
            ],
            tasks=[
                TaskRow(
                    id=t.id,
                    kind=t.kind,
                    status=t.status,
                    statement=t.statement,
                    legal_basis=t.legal_basis,
                    created_at=aware(t.created_at),
                    due_on=t.due_on,
                )
                for t in tasks
            ],
            events=[
                EventRow(
                    seq=e.seq,
                    at=aware(e.at),
                    type=e.type,
                    actor=e.actor,
                    actor_name=names.get(e.actor),
                    actor_roles=roles.get(e.actor, []),
                    reason=e.reason,
                    payload=dict(e.payload or {}),
                )
                for e in events
            ],
            chain=ChainStatus(
                ok=chain.ok, events=chain.events, broken_at=chain.broken_at, problem=chain.problem
            ),
            accesses=[
                AccessRow(
                    at=aware(a.at),
                    registry=a.registry_id,
                    registry_title=(
                        ctx.connectors.get(a.registry_id).title
                        if a.registry_id in ctx.connectors
                        else a.registry_id
                    ),
                    attributes=list(a.attributes_requested or []),
                    purpose=a.purpose,
                    legal_basis=a.legal_basis,
                    actor=a.actor,
                    actor_name=names.get(a.actor),
                    actor_roles=roles.get(a.actor, []),
                    outcome=a.outcome,
                )
                for a in accesses
            ],
            assignee=assignment.assignee if assignment else None,
            assignee_name=assignment.assignee_name if assignment else None,
            pending=(
                PendingRow(
                    id=pending.id,
                    action=pending.action,
                    outcome=pending.outcome,
                    reason=pending.reason,
                    proposed_by=pending.proposed_by,
                    proposed_by_name=pending.proposed_by_name,
                    proposed_at=aware(pending.proposed_at),
                    machine_outcome=pending.machine_outcome,
                )
                if pending
                else None
            ),
            allowed=allowed,
            remedy=_remedy_row(definition.procedure),
        )


def case_document(
    ctx: AppContext, clerk: ClerkIdentity, case_id: str, document_id: str
) -> Document:
    """A notice of the case as a PDF; opening it is a read of the file, so it is logged."""
    clerk.require(Permission.VIEW)
    with unit_of_work(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        document = session.get(Document, document_id)
        if document is None or document.case_id != case.id:
            raise NotFound("Dieses Dokument gibt es nicht. (Document not found.)")
        log_case_read(session, clerk, case, "bearbeitung", what=f"Dokument: {document.title}")
        return document
