"""Durable case processing: DBOS workflows whose steps are each idempotent and retried.

``process_case`` (queue ``cases``, id ``case-<id>``), one step up to the decision (issue 22):
    start (begin, route, decide, request the fee, in one transaction)
        → referred: stop (a person decides)
        → fee due:  the payment row and ``await_payment`` are queued, stop
        → external: hand over to the Fachverfahren, stop
        → else:     complete: in this workflow, one more step (documents, decided, notified),
                    unless a register entry is due: then ``complete_case`` is queued
    ``process_case_v2`` (queued every completion) and ``process_case_legacy`` (four steps) stay
    registered for cases queued before an upgrade.
``await_payment`` (queue ``payments``, id ``case-<id>-payment``): open the payment at the
    provider, wait durably for the 'paid' message (DBOS.recv), remind once, expire at the
    deadline (the application then counts as withdrawn), or complete once paid
    (backend/cases/payment_wait.py).
``complete_case`` (queue ``documents``, id ``case-<id>-complete``): write-back (register
    entries, each a child workflow) → documents (notice or certificate with signed QR) →
    decided → notified; for decisions with register entries, paid fees' retries and clerks'
    retries (backend/cases/completion_workflow.py).

Decision (issue 22; it reverses the earlier queueing of every completion): a completion without
register entries runs in the case's own workflow. A second workflow per case cost a quarter of
the engine's database work (enqueue, claim, status rows). The decision is still committed, and
shown, before the notice is rendered; a worker's ``--concurrency`` now counts cases with their
render, so it should be at least twice its render processes (docs/operations.md).
``processing: external`` services are delivered to the department's Fachverfahren instead
    (backend/handover) and decided there.

Waiting for a payment gets its own workflow on its own queue: a case that waits days for
its fee must not hold one of the ``cases`` queue's worker slots.

Scheduled workflows (watchdog, E-Akte hand-over, closing lapsed cases) are in
backend/cases/schedules.py; ``register_engine_queues`` stores their schedules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from dbos import DBOS, DBOSClient
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from backend.cases.completion_workflow import (
    STEP_RETRIES,
    complete_in_case_workflow,
    complete_later,
    guarded,
)
from backend.cases.deciding import decide_case
from backend.cases.lifecycle import CaseChanged, load_case, move_case, refer_or_note
from backend.cases.payment_wait import request_fee
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import ServiceDefinition
from backend.department.automation import is_paused
from backend.domain.case_state import Actor, CaseStatus
from backend.domain.decision import Decision
from backend.engine import (
    CLOSE_WORKFLOW,
    EAKTE_WORKFLOW,
    LEGACY_WORKFLOW,
    PAYMENT_QUEUE,
    WATCHDOG_WORKFLOW,
    WORKFLOW,
    WORKFLOW_V2,
    worker_context,
)
from backend.handover.delivery import deliver_submission
from backend.notifications.delivery import register_queue as register_notifications_queue
from backend.records.audit import record_event
from backend.records.models import Case

SYSTEM = Actor.system()


def register_engine_queues(client: DBOSClient, eakte_schedule: str = "0 */5 * * * *") -> None:
    """Queues and schedules of the engine besides ``cases``; stored in the database, so once
    per deployment start is enough, from any process."""
    # No concurrency cap: a waiting payment workflow only sleeps in DBOS.recv.
    client.register_queue(PAYMENT_QUEUE, polling_interval_sec=0.5, on_conflict="always_update")
    register_notifications_queue(client)
    client.apply_schedules(
        [
            {
                "schedule_name": CLOSE_WORKFLOW,
                "workflow_name": CLOSE_WORKFLOW,
                # Nightly, German time: a deadline ends at midnight in Germany.
                "schedule": "0 15 3 * * *",
                "cron_timezone": "Europe/Berlin",
            },
            {
                # Every minute: cases in a machine state longer than their service allows
                # become incidents (backend/cases/incidents.py).
                "schedule_name": WATCHDOG_WORKFLOW,
                "workflow_name": WATCHDOG_WORKFLOW,
                "schedule": "0 * * * * *",
            },
            {
                # Closed cases to the E-Akte as xdomea 0605 (backend/cases/eakte.py); a run
                # does nothing while no E-Akte is configured.
                "schedule_name": EAKTE_WORKFLOW,
                "workflow_name": EAKTE_WORKFLOW,
                "schedule": eakte_schedule,
            },
        ]
    )


# --- steps of process_case -------------------------------------------------------------------


def _begin(ctx: AppContext, session: Session, case: Case) -> None:
    """Submitted → processing, once (a rerun finds it processing already)."""
    if case.status == CaseStatus.SUBMITTED:
        move_case(
            ctx,
            session,
            case,
            CaseStatus.PROCESSING,
            actor=SYSTEM,
            event_type="processing_started",
            idempotency_key="begin",
        )


@DBOS.step(name="knopfdruck.begin", **STEP_RETRIES)
def begin_step(case_id: str) -> str:
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        _begin(ctx, session, case)
        return case.status


def machine_decision(
    session: Session,
    case: Case,
    definition: ServiceDefinition,
    *,
    qa_sample: bool = True,
) -> Decision:
    """The rules valid at the reference date, then the automation policy (backend.cases.deciding),
    with the department's automation switch read now."""
    return decide_case(
        definition,
        case.data,
        case.id,
        case.reference_date,
        paused=is_paused(session, case.service, case.department),
        qa_sample=qa_sample,
    )


def refer(
    ctx: AppContext, session: Session, case: Case, decision: Decision, *, idempotency_key: str
) -> None:
    """Hand the case to a person with the machine's reasons and proposal."""
    move_case(
        ctx,
        session,
        case,
        CaseStatus.REFERRED,
        actor=SYSTEM,
        event_type="referred",
        reason=", ".join(decision.referral_reasons),
        payload={
            "referral_reasons": decision.referral_reasons,
            "proposed_outcome": decision.proposed_outcome,
        },
        idempotency_key=idempotency_key,
        decision=decision.to_json(),
        outcome=decision.outcome,
        waiting_for="Prüfung durch die Sachbearbeitung",
    )


@DBOS.step(name="knopfdruck.decide", **STEP_RETRIES)
def decide_step(case_id: str) -> str:
    """Apply the rules valid at the reference date; refer when the policy says a person decides."""
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        if case.outcome is not None or case.status != CaseStatus.PROCESSING:
            return case.outcome or case.status
        definition = ctx.case_definition(case)
        decision = machine_decision(session, case, definition, qa_sample=ctx.settings.qa_sampling)
        if decision.outcome == "referred":
            refer(ctx, session, case, decision, idempotency_key="decide")
            return decision.outcome
        # Another writer that won since our read makes the step's retry return its status.
        _stamp_decision(ctx, session, case, decision)
        return decision.outcome


@DBOS.step(name="knopfdruck.request_payment", **STEP_RETRIES)
def request_payment_step(case_id: str) -> str:
    """When a fee is due: the payment row, the waiting workflow and the status, in one commit."""
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        if case.status == CaseStatus.AWAITING_PAYMENT:
            return "awaiting_payment"
        if case.status != CaseStatus.PROCESSING:
            return case.status
        if not request_fee(ctx, session, case, actor=SYSTEM, idempotency_key="payment:requested"):
            return "no_fee"
        return "awaiting_payment"


@DBOS.step(name="knopfdruck.handover")
def handover_step(case_id: str) -> dict[str, Any]:
    """The workflow's handover step: the result is checkpointed once delivered (or given up)."""
    return asdict(deliver_submission(worker_context(), case_id, refer=refer_or_note))


@DBOS.step(name="knopfdruck.route", **STEP_RETRIES)
def route_step(case_id: str) -> str:
    """``external`` when the service's Fachverfahren decides, else ``automated``."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        case = load_case(session, case_id)
    return ctx.definition(case.service, tenant=case.tenant).processing


def _process(case_id: str, at: list[str]) -> str:
    status = begin_step(case_id)
    if status != CaseStatus.PROCESSING:
        return status
    if route_step(case_id) == "external":
        # The department's Fachverfahren decides; its signed status callbacks move the case on
        # (backend/api/handover_callbacks.py).
        at[0] = "handover"
        return str(handover_step(case_id)["status"])
    outcome = decide_step(case_id)
    if outcome not in ("approved", "rejected"):
        return outcome
    at[0] = "payment"
    if request_payment_step(case_id) == "awaiting_payment":
        return "awaiting_payment"
    at[0] = "documents"
    return complete_later(case_id)


@DBOS.workflow(name=LEGACY_WORKFLOW)
def process_case_legacy(case_id: str) -> str:
    """The four-step workflow of cases queued before the one-step start (issue 22)."""
    return guarded(case_id, "process", "decide", lambda at: _process(case_id, at))


# --- the lean case workflow (issue 22) ------------------------------------------------------


def _stamp_decision(ctx: AppContext, session: Session, case: Case, decision: Decision) -> None:
    """Store the machine's decision on the case (still processing, undecided) and log it."""
    stamped = session.execute(
        update(Case)
        .where(
            col(Case.id) == case.id,
            col(Case.status) == CaseStatus.PROCESSING,
            col(Case.outcome).is_(None),
        )
        .values(decision=decision.to_json(), outcome=decision.outcome, updated_at=utcnow())
    )
    if stamped.rowcount != 1:  # type: ignore[attr-defined]
        # Someone else (a withdrawal) won since our read: the step's retry reads the case
        # afresh and returns where it now stands. In ``start`` this transaction moved the case
        # itself and holds its row, so there nobody can.
        raise CaseChanged("the case changed while it was decided")
    # What the UPDATE wrote, without reading the row again.
    for name, value in (("decision", decision.to_json()), ("outcome", decision.outcome)):
        set_committed_value(case, name, value)
    record_event(
        session,
        case.id,
        "decided",
        actor=SYSTEM.label,
        payload={"outcome": decision.outcome, "rule_version": decision.rule_version},
        idempotency_key="decide",
    )


@DBOS.step(name="knopfdruck.start", **STEP_RETRIES)
def start_step(case_id: str) -> str:
    """Begin, route, decide and request the fee in one transaction: one load, one checkpoint.

    Returns what the workflow does next: ``complete``, ``external`` (the Fachverfahren decides),
    or where it stops (``referred``, ``awaiting_payment``, or the status someone else moved the
    case to). A rerun after the commit finds the case moved on and answers the same.
    """
    ctx = worker_context()
    with unit_of_work(ctx.engine) as session:
        case = load_case(session, case_id)
        _begin(ctx, session, case)
        if case.status != CaseStatus.PROCESSING:
            return str(case.status)
        definition = ctx.case_definition(case)
        if definition.processing == "external":
            return "external"
        if case.outcome is None:
            decision = machine_decision(
                session, case, definition, qa_sample=ctx.settings.qa_sampling
            )
            if decision.outcome == "referred":
                refer(ctx, session, case, decision, idempotency_key="decide")
                return "referred"
            _stamp_decision(ctx, session, case, decision)
        if case.outcome not in ("approved", "rejected"):
            return str(case.outcome)
        if request_fee(ctx, session, case, actor=SYSTEM, idempotency_key="payment:requested"):
            return "awaiting_payment"
        return "complete"


def _process_lean(case_id: str, at: list[str], complete: Callable[[str, list[str]], str]) -> str:
    next_step = start_step(case_id)
    if next_step == "external":
        # The department's Fachverfahren decides; its signed status callbacks move the case on
        # (backend/api/handover_callbacks.py).
        at[0] = "handover"
        return str(handover_step(case_id)["status"])
    if next_step != "complete":
        return next_step
    at[0] = "documents"
    return complete(case_id, at)


@DBOS.workflow(name=WORKFLOW_V2)
def process_case_v2(case_id: str) -> str:
    """The case workflow that queued every completion, for cases queued before v3."""
    return guarded(
        case_id,
        "process",
        "decide",
        lambda at: _process_lean(case_id, at, lambda c, _: complete_later(c)),
    )


@DBOS.workflow(name=WORKFLOW)
def process_case(case_id: str) -> str:
    """Submitted → processing → decided and notified, referred, or waiting for the fee.

    The decision is committed (and shown) before the notice is rendered; the completion runs
    in this workflow unless a register entry is due (backend/cases/completion_workflow.py).
    """
    return guarded(
        case_id,
        "process",
        "decide",
        lambda at: _process_lean(case_id, at, complete_in_case_workflow),
    )
