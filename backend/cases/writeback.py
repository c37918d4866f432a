"""Write-back: after the decision, enter the result in a register (a permit, a dog for the tax).

Each declared write-back of a case is written once, under the idempotency key
``case-<id>:writeback:<n>`` (n = its index in the definition's ``writeback`` list): the register
stores a key only once, so a retry or a recovered workflow can never enter a record twice.

``perform_writebacks(ctx, case_id)`` is the plain core (tested against the sandbox registers
over HTTP). In the worker, ``run_writebacks(case_id)`` runs each write-back as a child workflow
on the queue ``registry-writes``, partitioned by register, so every register has its own rate
limit and concurrency cap across all workers (see docs/architecture.md, "Scale-out").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Coroutine, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import cel
import httpx
from dbos import DBOS, SetEnqueueOptions, SetWorkflowID
from sqlmodel import Session, select

from backend.cases.audit import record_event
from backend.cases.lifecycle import CaseChanged, move_case
from backend.cases.worker import REGISTRY_WRITE_QUEUE, worker_context
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import ServiceDefinition, Writeback
from backend.domain.case_state import Actor, CaseStatus
from backend.domain.decision import REGISTRY_FAILURE
from backend.models import Case, CaseEvent, utcnow
from backend.rules import FUNCTIONS, CelSyntaxError, compile_expression
from prefill.connectors.base import WritableConnector, WriteRequest, WriteResult

log = logging.getLogger("knopfdruck.writeback")

WRITEBACK_WORKFLOW = "knopfdruck.writeback"
_WAITING_PREFIX = "Eintrag im "
_MAX_WAITING = 200  # Case.waiting_for column length


def writeback_key(case_id: str, index: int) -> str:
    """The idempotency key of one write-back; also the id of its child workflow."""
    return f"case-{case_id}:writeback:{index}"


@dataclass(frozen=True)
class WritebackOutcome:
    """What became of one declared write-back of a case."""

    index: int
    registry: str
    status: Literal["written", "duplicate", "failed"]
    record_id: str | None = None
    reason: str | None = None
    attempts: int = 0


class _RecordProblem(Exception):
    """A record expression could not be evaluated; no retry can fix that, a person must."""


def planned_writebacks(definition: ServiceDefinition, outcome: str | None) -> list[int]:
    """Indexes of the write-backs due for a case with this outcome, in definition order."""
    return [i for i, spec in enumerate(definition.writeback) if outcome in spec.on]


def _cel_value(value: Any) -> Any:
    """Stored JSON as CEL sees it in the rules: absent instead of null."""
    if isinstance(value, Mapping):
        return {str(k): _cel_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_cel_value(v) for v in value]
    return value


def _json_value(value: Any, key: str) -> Any:
    """A CEL result as JSON for the register; timestamps become ISO strings."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_value(v, key) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v, key) for k, v in value.items()}
    raise _RecordProblem(f"record field '{key}' is a {type(value).__name__}, not JSON")


def build_record(spec: Writeback, definition: ServiceDefinition, case: Case) -> dict[str, Any]:
    """Evaluate the record's CEL expressions over the case's values and decision."""
    decision = case.decision or {}
    amounts: dict[str, Any] = {k: float(v) for k, v in (decision.get("amounts") or {}).items()}
    amounts.update(decision.get("categories") or {})
    variables = {
        "fields": _cel_value(dict(case.data.get("values") or {})),
        "params": _cel_value(definition.parameters_on(case.reference_date)),
        "amounts": amounts,
        "reference_date": case.reference_date.isoformat(),
        "reference": case.reference,
    }
    record: dict[str, Any] = {}
    for key, source in spec.record.items():
        try:
            program = compile_expression(source)
            result = program.execute(cel.Context(variables=variables, functions=FUNCTIONS))
        # Like the rules: whatever the CEL runtime raises, a machine that cannot build the
        # entry hands the case to a person instead of guessing.
        except CelSyntaxError as exc:
            raise _RecordProblem(f"record field '{key}': {exc}") from exc
        except Exception as exc:
            detail = " ".join(str(exc).split())[:120] or type(exc).__name__
            raise _RecordProblem(f"record field '{key}': {detail}") from exc
        record[key] = _json_value(result, key)
    return record


def _run(coroutine: Coroutine[Any, Any, WriteResult]) -> WriteResult:
    """Run async connector code from a sync step, also where a loop already runs (tests)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _write_once(
    ctx: AppContext, connector: WritableConnector, registry: str, request: WriteRequest
) -> WriteResult:
    async def send() -> WriteResult:
        # A client per call: worker steps run on threads without the web process's event loop.
        async with httpx.AsyncClient(headers={"User-Agent": "Knopfdruck/0.1"}) as client:
            return await connector.write(client, ctx.connector_configs[registry], request)

    return _run(send())


def _short(text: str) -> str:
    return text if len(text) <= _MAX_WAITING else text[: _MAX_WAITING - 1] + "…"


def _load(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise LookupError(f"case {case_id} vanished")
    return case


def _done(session: Session, case_id: str, index: int) -> CaseEvent | None:
    return session.exec(
        select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.idempotency_key == f"writeback:{index}"
        )
    ).first()


def _mark_waiting(ctx: AppContext, case_id: str, text: str) -> None:
    """While retrying, the case says what it waits for, so nothing is stuck silently."""
    with unit_of_work(ctx.engine) as session:
        case = _load(session, case_id)
        case.waiting_for = _short(text)
        case.updated_at = utcnow()
        session.add(case)


def perform_writeback(ctx: AppContext, case_id: str, index: int) -> WritebackOutcome:
    """Write one declared entry, retrying retryable failures with exponential backoff.

    When the register keeps failing (or refuses the entry), the case is referred to a
    person with the reason, and its ``waiting_for`` names the register.
    """
    settings = ctx.settings
    with Session(ctx.engine) as session:
        case = _load(session, case_id)
        definition = ctx.catalogue.get(case.service, case.service_version)
        spec = definition.writeback[index]
        done = _done(session, case_id, index)
        if done is not None:
            return WritebackOutcome(
                index, spec.connector, "duplicate", record_id=done.payload.get("record_id")
            )
    connector_class = ctx.connectors.get(spec.connector)
    if not issubclass(connector_class, WritableConnector):
        raise TypeError(f"connector {spec.connector!r} does not accept writes")
    connector = connector_class()
    title = connector.title
    try:
        record = build_record(spec, definition, case)
    except _RecordProblem as problem:
        return _give_up(ctx, case_id, index, spec, title, str(problem), attempts=0)
    request = WriteRequest(
        idempotency_key=writeback_key(case_id, index),
        operation=spec.operation,
        record=record,
        purpose=spec.purpose,
        legal_basis=spec.legal_basis,
        service=case.service,
        case_id=case_id,
    )
    attempts = max(1, settings.registry_write_attempts)
    for attempt in range(1, attempts + 1):
        result = _write_once(ctx, connector, spec.connector, request)
        if result.status != "failed":
            return _written(ctx, case_id, index, spec, result, attempt)
        log.warning("write to %s failed (attempt %d): %s", spec.connector, attempt, result.reason)
        if not result.retryable or attempt == attempts:
            return _give_up(ctx, case_id, index, spec, title, result.reason or "", attempt)
        delay = settings.registry_write_backoff_s * 2 ** (attempt - 1)
        _mark_waiting(
            ctx,
            case_id,
            f"{_WAITING_PREFIX}{title} (Versuch {attempt + 1} von {attempts} in {delay:g} s; "
            f"{result.reason})",
        )
        time.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns")


def _written(
    ctx: AppContext,
    case_id: str,
    index: int,
    spec: Writeback,
    result: WriteResult,
    attempts: int,
) -> WritebackOutcome:
    with unit_of_work(ctx.engine) as session:
        case = _load(session, case_id)
        record_event(
            session,
            case_id,
            "registry_written",
            actor="system",
            payload={
                "registry": spec.connector,
                "operation": spec.operation,
                "record_id": result.record_id,
                "idempotency_key": writeback_key(case_id, index),
                "attempts": attempts,
            },
            idempotency_key=f"writeback:{index}",
        )
        if (case.waiting_for or "").startswith(_WAITING_PREFIX):
            case.waiting_for = None
            case.updated_at = utcnow()
            session.add(case)
    status: Literal["written", "duplicate"] = (
        "duplicate" if result.status == "duplicate" else "written"
    )
    return WritebackOutcome(
        index, spec.connector, status, record_id=result.record_id, attempts=attempts
    )


def _give_up(
    ctx: AppContext,
    case_id: str,
    index: int,
    spec: Writeback,
    title: str,
    reason: str,
    attempts: int,
) -> WritebackOutcome:
    """A person takes over: the decision stands, but the entry must be made by hand."""
    waiting = _short(f"Sachbearbeitung: {_WAITING_PREFIX}{title} fehlgeschlagen ({reason})")
    payload = {
        "referral_reasons": [REGISTRY_FAILURE],
        "registry": spec.connector,
        "operation": spec.operation,
        "idempotency_key": writeback_key(case_id, index),
        "attempts": attempts,
    }
    refer_or_note(ctx, case_id, f"{title}: {reason}", payload, waiting, f"writeback:{index}")
    return WritebackOutcome(index, spec.connector, "failed", reason=reason, attempts=attempts)


def refer_or_note(
    ctx: AppContext,
    case_id: str,
    reason: str,
    payload: dict[str, Any],
    waiting_for: str,
    key: str,
) -> None:
    """Refer a case not yet decided (processing, or paid and awaiting completion) to a person;
    otherwise log the failure on the case.

    Either way ``waiting_for`` names what is missing, so the case never waits silently.
    """
    with unit_of_work(ctx.engine) as session:
        case = _load(session, case_id)
        if case.status in (CaseStatus.PROCESSING, CaseStatus.AWAITING_PAYMENT):
            try:
                move_case(
                    ctx,
                    session,
                    case,
                    CaseStatus.REFERRED,
                    actor=Actor.system(),
                    event_type="referred",
                    reason=reason,
                    payload=payload,
                    idempotency_key=f"{key}:failed",
                    waiting_for=waiting_for,
                )
                return
            except CaseChanged:
                case = _load(session, case_id)
        case.waiting_for = waiting_for
        case.updated_at = utcnow()
        session.add(case)
        record_event(
            session,
            case_id,
            f"{key.split(':')[0]}_failed",
            actor=Actor.system().label,
            reason=reason,
            payload=payload,
            idempotency_key=f"{key}:failed",
        )


def perform_writebacks(ctx: AppContext, case_id: str) -> list[WritebackOutcome]:
    """Every write-back due for the case's outcome, in order; stops at the first failure."""
    with Session(ctx.engine) as session:
        case = _load(session, case_id)
        indexes = planned_writebacks(
            ctx.catalogue.get(case.service, case.service_version), case.outcome
        )
    outcomes: list[WritebackOutcome] = []
    for index in indexes:
        outcome = perform_writeback(ctx, case_id, index)
        outcomes.append(outcome)
        if outcome.status == "failed":
            # The case is with a person now; later entries are theirs to make or not.
            break
    return outcomes


# --- durable execution ---------------------------------------------------------------------


@DBOS.step(name="knopfdruck.writeback.plan")
def plan_step(case_id: str) -> list[tuple[int, str]]:
    """Which write-backs are due, and at which register (the rate-limit partition)."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        case = _load(session, case_id)
        definition = ctx.catalogue.get(case.service, case.service_version)
        return [
            (i, definition.writeback[i].connector)
            for i in planned_writebacks(definition, case.outcome)
        ]


@DBOS.step(name="knopfdruck.writeback.write")
def write_step(case_id: str, index: int) -> dict[str, Any]:
    """One write-back with its own retries; the step's result is checkpointed once done."""
    return asdict(perform_writeback(worker_context(), case_id, index))


@DBOS.workflow(name=WRITEBACK_WORKFLOW)
def writeback_workflow(case_id: str, index: int) -> dict[str, Any]:
    """A write-back as its own workflow, so its register's queue partition can pace it."""
    return write_step(case_id, index)


def run_writebacks(case_id: str, run: str = "") -> list[str]:
    """Call from inside the case workflow before the documents: the record ids written.

    Write-backs run one after another (a later entry may rely on an earlier one); a failed
    one has referred the case (see ``perform_writeback``), and the rest are left to the clerk.
    ``run`` tells a clerk's retry after an incident from the first run: its children get ids of
    their own (the register's idempotency key stays the same, so nothing is entered twice).
    """
    queue = DBOS.retrieve_queue(REGISTRY_WRITE_QUEUE)
    if queue is None:
        raise RuntimeError(f"queue {REGISTRY_WRITE_QUEUE!r} is not registered")
    record_ids: list[str] = []
    for index, registry in plan_step(case_id):
        with (
            SetWorkflowID(writeback_key(case_id, index) + run),
            SetEnqueueOptions(queue_partition_key=registry),
        ):
            handle = queue.enqueue(writeback_workflow, case_id, index)
        outcome = handle.get_result(polling_interval_sec=0.1)
        if outcome["status"] == "failed":
            break
        if outcome["record_id"]:
            record_ids.append(outcome["record_id"])
    return record_ids
