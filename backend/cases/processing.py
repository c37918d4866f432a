"""Durable case processing: one DBOS workflow per case, each step idempotent and retried."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from dbos import DBOS
from sqlmodel import Session, select

from backend.cases.audit import record_event
from backend.cases.worker import WORKFLOW, worker_context
from backend.context import AppContext
from backend.db import unit_of_work
from backend.domain.case_state import CaseStatus, transition
from backend.domain.decision import Decision
from backend.domain.policy import CaseSignals, referral_reasons
from backend.models import Case, Document, utcnow
from backend.rules.evaluate import decide

log = logging.getLogger("knopfdruck.processing")

# --- steps -------------------------------------------------------------------------------


def _load(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise LookupError(f"case {case_id} vanished")
    return case


@DBOS.step(name="knopfdruck.begin", retries_allowed=True, max_attempts=5, interval_seconds=0.5)
def begin_step(case_id: str) -> str:
    with unit_of_work(worker_context().engine) as session:
        case = _load(session, case_id)
        if case.status == CaseStatus.SUBMITTED:
            case.status = transition(case.status, CaseStatus.PROCESSING)
            case.updated_at = utcnow()
            session.add(case)
            record_event(
                session, case_id, "processing_started", actor="system", idempotency_key="begin"
            )
        return case.status


def _signals(case: Case, decision: Decision) -> CaseSignals:
    data = case.data
    return CaseSignals(
        disputed_fields=list((data.get("disputes") or {}).keys()),
        has_remark=bool(data.get("remark")),
        failed_fields=list(data.get("failed_fields") or []),
        rule_referred=False,  # decide() already refers on its own rules; not counted twice
    )


@DBOS.step(name="knopfdruck.decide", retries_allowed=True, max_attempts=5, interval_seconds=0.5)
def decide_step(case_id: str) -> str:
    """Apply the rules valid at the reference date; refer when the policy says a person decides."""
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = _load(session, case_id)
        if case.outcome is not None:
            return case.outcome
        definition = ctx.catalogue.get(case.service)
        decision = decide(definition, dict(case.data.get("values", {})), case.reference_date)
        automation = definition.automation
        for code in referral_reasons(
            legal_basis=automation.legal_basis,
            triggers=automation.referral_triggers,
            signals=_signals(case, decision),
            case_id=case.id,
            qa_sample_rate=automation.qa_sample_rate,
        ):
            decision = decision.refer(code)
        stored: dict[str, Any] = decision.to_json()
        case.decision = stored
        case.outcome = decision.outcome
        if decision.outcome == "referred":
            case.status = transition(case.status, CaseStatus.REFERRED)
            case.waiting_for = "Prüfung durch die Sachbearbeitung"
            record_event(
                session,
                case_id,
                "referred",
                actor="system",
                reason=", ".join(decision.referral_reasons),
                payload={
                    "referral_reasons": decision.referral_reasons,
                    "proposed_outcome": decision.proposed_outcome,
                },
                idempotency_key="decide",
            )
        else:
            record_event(
                session,
                case_id,
                "decided",
                actor="system",
                payload={"outcome": decision.outcome, "rule_version": decision.rule_version},
                idempotency_key="decide",
            )
        case.updated_at = utcnow()
        session.add(case)
        return decision.outcome


def _document_context(ctx: AppContext, case: Case) -> dict[str, Any]:
    values = dict(case.data.get("values", {}))
    typed: dict[str, Any] = {}
    definition = ctx.catalogue.get(case.service)
    for field in definition.fields:
        raw = values.get(field.id)
        if field.type == "date" and isinstance(raw, str):
            try:
                typed[field.id] = date.fromisoformat(raw)
            except ValueError:
                typed[field.id] = raw
        else:
            typed[field.id] = raw
    provenance: dict[str, Any] = {}
    for fid, prov in (case.data.get("provenance") or {}).items():
        if prov:
            from datetime import datetime

            provenance[fid] = {
                "registry_title": prov.get("registry_title") or prov.get("registry"),
                "as_of": datetime.fromisoformat(prov["as_of"]).date()
                if prov.get("as_of")
                else None,
            }
    address_lines = [
        f"{typed.get('strasse') or ''} {typed.get('hausnummer') or ''}".strip(),
        f"{typed.get('plz') or ''} {typed.get('ort') or ''}".strip(),
    ]
    return {
        "authority": ctx.settings.authority_name,
        "reference": case.reference,
        "issued_on": (case.decided_at or utcnow()).date(),
        "addressee": {
            "name": (case.data.get("addressee") or {}).get("name", ""),
            "lines": [line for line in address_lines if line],
        },
        "automated": True,
        "fields": typed,
        "provenance": provenance,
        "decision": case.decision or {},
        "service_title": definition.title.de,
    }


@DBOS.step(name="knopfdruck.documents", retries_allowed=True, max_attempts=5, interval_seconds=0.5)
def documents_step(case_id: str) -> list[str]:
    """Render every document the definition issues for this outcome, once per case."""
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = _load(session, case_id)
        definition = ctx.catalogue.get(case.service)
        folder = ctx.catalogue.folder(case.service)
        issued: list[str] = []
        for doc in definition.documents:
            if case.outcome not in doc.on:
                continue
            exists = session.exec(
                select(Document).where(
                    Document.case_id == case_id, Document.definition_id == doc.id
                )
            ).first()
            if exists is not None:
                issued.append(exists.id)
                continue
            pdf = ctx.renderer.render(folder, doc.template, _document_context(ctx, case))
            import hashlib

            document = Document(
                case_id=case_id,
                definition_id=doc.id,
                kind=doc.kind,
                title=doc.title.de,
                filename=f"{doc.id}-{case.reference}.pdf",
                sha256=hashlib.sha256(pdf).hexdigest(),
                size=len(pdf),
                content=pdf,
            )
            session.add(document)
            session.flush()
            record_event(
                session,
                case_id,
                "document_issued",
                actor="system",
                payload={"document": document.id, "kind": doc.kind, "sha256": document.sha256},
                idempotency_key=f"document:{doc.id}",
            )
            issued.append(document.id)
        return issued


@DBOS.step(name="knopfdruck.finish", retries_allowed=True, max_attempts=5, interval_seconds=0.5)
def finish_step(case_id: str) -> str:
    with unit_of_work(worker_context().engine) as session:
        case = _load(session, case_id)
        if case.status == CaseStatus.PROCESSING:
            case.status = transition(case.status, CaseStatus.DECIDED)
            case.decided_at = utcnow()
            case.waiting_for = None
            case.updated_at = utcnow()
            session.add(case)
            record_event(
                session,
                case_id,
                "case_decided",
                actor="system",
                payload={"outcome": case.outcome},
                idempotency_key="finish",
            )
        return case.status


@DBOS.workflow(name=WORKFLOW)
def process_case(case_id: str) -> str:
    """Submitted → processing → decided (with documents) or referred to a person."""
    begin_step(case_id)
    outcome = decide_step(case_id)
    if outcome == "referred":
        return outcome
    documents_step(case_id)
    finish_step(case_id)
    return outcome
