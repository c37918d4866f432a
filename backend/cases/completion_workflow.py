"""The decided case's completion workflow, and the guard every case workflow runs under.

``complete_case`` (queue ``documents``, id ``case-<id>-complete``): write-back (register
entries, each a child workflow) → documents (notice or certificate with signed QR) → decided
→ notified. The case workflow (backend/cases/processing.py) queues it once the decision is
stored, and the payment wait (backend/cases/payment_wait.py) runs it once the fee is paid.
``guarded`` turns a step that fails for good into an incident instead of a stuck case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbos import DBOS, SetWorkflowID
from sqlmodel import Session

from backend.cases.completion import (
    DecisionRound,
    awaits_completion,
    correct_register,
    decision_round,
    failed_stage,
    finish,
    finish_and_notify,
    issue_notice,
    notify,
    register_gap,
)
from backend.cases.incidents import describe_failure, raise_incident, settle_retried
from backend.cases.lifecycle import load_case
from backend.cases.writeback import run_writebacks, writeback_plan
from backend.context import AppContext
from backend.domain.case_state import CaseStatus
from backend.engine import (
    COMPLETE_WORKFLOW,
    COMPLETE_WORKFLOW_V2,
    DOCUMENTS_QUEUE,
    LEGACY_COMPLETE_WORKFLOW,
    worker_context,
)

STEP_RETRIES: dict[str, Any] = {"retries_allowed": True, "max_attempts": 5, "interval_seconds": 0.5}
"""How every engine step retries before its failure counts (and becomes an incident)."""


# --- steps of completion -------------------------------------------------------------------


@DBOS.step(name="knopfdruck.status", **STEP_RETRIES)
def status_step(case_id: str) -> str:
    """The case's status now, read once and checkpointed (workflow code must not read the DB)."""
    with Session(worker_context().engine) as session:
        return str(load_case(session, case_id).status)


@DBOS.step(name="knopfdruck.documents", **STEP_RETRIES)
def documents_step(case_id: str) -> list[str]:
    """Render every document the definition issues for this outcome, once per case and round."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        if not awaits_completion(session, case_id):
            return []
        # Decided by the rules without a person: the § 35a VwVfG statement goes on the notice;
        # a clerk's decision (also one that waited for its fee) is the clerk's notice.
        rnd = decision_round(session, case_id)
    return issue_notice(ctx, case_id, rnd)


@DBOS.step(name="knopfdruck.round", **STEP_RETRIES)
def round_step(case_id: str) -> int:
    """Which decision round the completion runs for (0: the first decision)."""
    with Session(worker_context().engine) as session:
        return decision_round(session, case_id).number


@DBOS.step(name="knopfdruck.register.correct", **STEP_RETRIES)
def correct_register_step(case_id: str) -> str:
    """A changed decision: cancel what the earlier rounds entered; the failure, or ''."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        rnd = decision_round(session, case_id)
    return correct_register(ctx, case_id, rnd) or ""


def _register_check(ctx: AppContext, session: Session, case_id: str, rnd: DecisionRound) -> str:
    """'referred' (the machine's write-back failed), 'gap' (an entry of the round is missing or
    an old one stands: no notice may claim it), or '' (the register holds what the round needs).
    """
    if load_case(session, case_id).status == CaseStatus.REFERRED and rnd.automated:
        return "referred"
    if awaits_completion(session, case_id) and register_gap(ctx, session, case_id, rnd):
        return "gap"
    return ""


@DBOS.step(name="knopfdruck.register.check", **STEP_RETRIES)
def register_check_step(case_id: str) -> str:
    """The register check as a step of its own (the earlier completion's shape)."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        return _register_check(ctx, session, case_id, decision_round(session, case_id))


@DBOS.step(name="knopfdruck.finish", **STEP_RETRIES)
def finish_step(case_id: str) -> str:
    ctx = worker_context()
    with Session(ctx.engine) as session:
        rnd = decision_round(session, case_id)
    return finish(ctx, case_id, rnd)


@DBOS.step(name="knopfdruck.notify", **STEP_RETRIES)
def notify_step(case_id: str) -> str:
    """Tell the citizen (mailbox, and a mail if they asked for one) that the notice is there."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        rnd = decision_round(session, case_id)
    return notify(ctx, case_id, rnd)


class RegisterOutOfStep(RuntimeError):
    """The register does not hold what the decision needs; no notice may go out yet."""


def complete_case(case_id: str, at: list[str] | None = None) -> str:
    """Register entries, the decided case's documents, the decision itself, the notification.

    The write-back comes first: after the payment, before any notice exists, so an entry that
    fails for good refers the case to a person without a notice that claims it was made.
    ``at`` names the stage reached, for the incident if a step fails for good.
    """
    stage = at if at is not None else [""]
    stage[0] = "writeback"
    round_no = round_step(case_id)
    if round_no > 0:
        failure = correct_register_step(case_id)
        if failure:
            raise RegisterOutOfStep(f"cancelling the earlier entry failed: {failure}")
    run_writebacks(case_id, retry_run(), round_no)
    check = register_check_step(case_id)
    if check == "referred":
        return CaseStatus.REFERRED
    if check == "gap":
        # A person's decision whose entry failed (the failure is in the case log): no notice
        # that claims it; the incident brings the case to the department.
        raise RegisterOutOfStep("a register entry of this decision is missing")
    stage[0] = "documents"
    documents_step(case_id)
    status = finish_step(case_id)
    if status != CaseStatus.DECIDED:
        return status
    stage[0] = "notify"
    return notify_step(case_id)


def retry_run() -> str:
    """``-retry-…`` inside a clerk's retry after an incident, else empty: children of a retry
    get ids of their own, so the failed first run's records do not answer for them."""
    _, sep, rest = (DBOS.workflow_id or "").partition("-retry-")
    return f"-retry-{rest}" if sep else ""


@DBOS.step(name="knopfdruck.incident", **STEP_RETRIES)
def incident_step(case_id: str, stage: str, workflow: str, reason: str, key: str) -> str:
    """A step failed for good: the case goes to its department as an incident."""
    raise_incident(
        worker_context(), case_id, stage=stage, workflow=workflow, reason=reason, key=key
    )
    return "incident"


@DBOS.step(name="knopfdruck.incident.settle", **STEP_RETRIES)
def settle_retried_step(case_id: str) -> int:
    return settle_retried(worker_context(), case_id)


def guarded(case_id: str, workflow: str, first_stage: str, body: Callable[[list[str]], str]) -> str:
    """Run a workflow body; a step that fails for good becomes an incident, not a stuck case.

    DBOS's own control flow (cancellation, a lost ownership) derives from BaseException and
    passes through. On replay the failed step's recorded error takes the same path, and the
    incident step's recorded result is returned: one incident per run.
    """
    at = [first_stage]
    try:
        result = body(at)
    except Exception as exc:
        stage = failed_stage(exc, at[0])
        key = f"{DBOS.workflow_id}:{stage}"
        return incident_step(case_id, stage, workflow, describe_failure(exc), key)
    if retry_run():
        settle_retried_step(case_id)
    return result


@DBOS.workflow(name=LEGACY_COMPLETE_WORKFLOW)
def complete_case_legacy_workflow(case_id: str) -> str:
    """The six-step completion of cases queued before the upgrade (issue 22)."""
    return guarded(case_id, "complete", "writeback", lambda at: complete_case(case_id, at))


# --- the lean completion (issue 22) ---------------------------------------------------------


@DBOS.step(name="knopfdruck.prepare", **STEP_RETRIES)
def prepare_step(case_id: str) -> tuple[int, list[tuple[int, str]]]:
    """The decision round and the write-backs it needs, read in one transaction."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        return decision_round(session, case_id).number, writeback_plan(ctx, session, case_id)


@DBOS.step(name="knopfdruck.issue", **STEP_RETRIES)
def issue_step(case_id: str) -> str:
    """Check the register, issue the documents, mark the case decided: one checkpoint.

    'referred' or 'gap' from the register check (nothing issued), else the status ``finish``
    leaves. Each part is idempotent on its own (once per case and round), so a rerun after a
    crash between them repeats nothing.
    """
    ctx = worker_context()
    with Session(ctx.engine) as session:
        rnd = decision_round(session, case_id)
        check = _register_check(ctx, session, case_id, rnd)
        if check:
            return check
        due = awaits_completion(session, case_id)
    if due:
        issue_notice(ctx, case_id, rnd)
    return finish(ctx, case_id, rnd)


def complete_case_lean(case_id: str, at: list[str]) -> str:
    """What ``complete_case`` does, with the reads and checks of a stage in one step each."""
    at[0] = "writeback"
    round_no, plan = prepare_step(case_id)
    return _complete_with_writebacks(case_id, at, round_no, plan)


@DBOS.workflow(name=COMPLETE_WORKFLOW_V2)
def complete_case_v2_workflow(case_id: str) -> str:
    """The three-step completion of cases queued before the one-step completion (issue 22)."""
    return guarded(case_id, "complete", "writeback", lambda at: complete_case_lean(case_id, at))


# --- the one-step completion (issue 22) -----------------------------------------------------


@DBOS.step(name="knopfdruck.complete", **STEP_RETRIES)
def complete_step(case_id: str) -> tuple[str, int, list[tuple[int, str]]]:
    """A first decision with nothing to enter in a register, completed in one checkpoint.

    Most automated cases: documents, then decided and notified in one transaction. Returns
    (the status it leaves, or 'referred'/'gap' from the register check, 0, []), or
    ('plan', round, write-backs) when a register entry or a changed decision needs the
    workflow's own steps; nothing is done then. Each part is idempotent (once per case and
    round), so a rerun after a crash repeats nothing.
    """
    ctx = worker_context()
    with Session(ctx.engine) as session:
        rnd = decision_round(session, case_id)
        plan = writeback_plan(ctx, session, case_id)
        if rnd.number > 0 or plan:
            return "plan", rnd.number, plan
        check = _register_check(ctx, session, case_id, rnd)
        if check:
            return check, 0, []
        due = awaits_completion(session, case_id)
    if due:
        issue_notice(ctx, case_id, rnd)
    return finish_and_notify(ctx, case_id, rnd), 0, []


def complete_case_one_step(case_id: str, at: list[str]) -> str:
    """``complete_case_lean`` with one checkpoint when no register entry is due."""
    at[0] = "documents"
    result, round_no, plan = complete_step(case_id)
    if result == "plan":
        return _complete_with_writebacks(case_id, at, round_no, plan)
    return _settled(result, at)


def complete_in_case_workflow(case_id: str, at: list[str]) -> str:
    """The completion inside the case's own workflow when no register entry is due (issue 22):
    one workflow and two checkpoints per automated case. Register entries and changed
    decisions go the long way, as their own workflow on the ``documents`` queue."""
    at[0] = "documents"
    result, _, _ = complete_step(case_id)
    if result == "plan":
        return complete_later(case_id)
    return _settled(result, at)


def _settled(result: str, at: list[str]) -> str:
    """Where ``complete_step`` left the case: its status, or the register check's finding."""
    if result == "referred":
        return CaseStatus.REFERRED
    if result == "gap":
        at[0] = "writeback"
        raise RegisterOutOfStep("a register entry of this decision is missing")
    return result


def _complete_with_writebacks(
    case_id: str, at: list[str], round_no: int, plan: list[tuple[int, str]]
) -> str:
    """The long way: cancel what earlier rounds entered, enter this round's, then issue."""
    at[0] = "writeback"
    if round_no > 0:
        failure = correct_register_step(case_id)
        if failure:
            raise RegisterOutOfStep(f"cancelling the earlier entry failed: {failure}")
    if plan:
        run_writebacks(case_id, retry_run(), round_no, plan=[(i, r) for i, r in plan])
    at[0] = "documents"
    result = issue_step(case_id)
    if result == "referred":
        return CaseStatus.REFERRED
    if result == "gap":
        at[0] = "writeback"
        raise RegisterOutOfStep("a register entry of this decision is missing")
    if result != CaseStatus.DECIDED:
        return result
    at[0] = "notify"
    return notify_step(case_id)


@DBOS.workflow(name=COMPLETE_WORKFLOW)
def complete_case_workflow(case_id: str) -> str:
    """The decided case's completion as its own workflow on the ``documents`` queue."""
    return guarded(case_id, "complete", "documents", lambda at: complete_case_one_step(case_id, at))


def complete_later(case_id: str) -> str:
    """Hand the completion to the ``documents`` queue (from inside the case workflow).

    The decision is stored and shown to the citizen at once; rendering the notice takes most
    of a case's CPU time and must not hold a ``cases`` slot that the next decision needs.
    The child's id is fixed, so a recovered workflow enqueues it once.
    """
    queue = DBOS.retrieve_queue(DOCUMENTS_QUEUE)
    if queue is None:
        raise RuntimeError(f"queue {DOCUMENTS_QUEUE!r} is not registered")
    with SetWorkflowID(complete_workflow_id(case_id) + retry_run()):
        queue.enqueue(complete_case_workflow, case_id)
    return "completing"


def complete_workflow_id(case_id: str) -> str:
    return f"case-{case_id}-complete"
