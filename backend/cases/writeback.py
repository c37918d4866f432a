"""Write-back: after the decision, enter the result in a register (a permit, a dog for the tax).

Each declared write-back of a case is written once, under the idempotency key
``case-<id>:writeback:<n>`` (n = its index in the definition's ``writeback`` list): the register
stores a key only once, so a retry or a recovered workflow can never enter a record twice.

A changed decision (a person's review, an objection remedied, a withdrawal) is a new *round*
(``round_no`` > 0): before its entries are written, every entry of an earlier round is cancelled
at its register (``cancel_stale_entries``), and the round's entries carry keys of their own
(``…:writeback:<n>:r<round>``), so an approval after a rejection after an approval enters the
dog once more instead of meeting the first, cancelled key. Approved again with other values is
the same: cancelled and entered anew, which is how a register corrects an entry.

``perform_writebacks(ctx, case_id)`` is the plain core (tested against the sandbox registers
over HTTP). In the worker, ``run_writebacks(case_id)`` runs each write-back as a child workflow
on the queue ``registry-writes``, partitioned by register, so every register has its own rate
limit and concurrency cap across all workers (see docs/architecture.md, "Scale-out").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import time
from collections.abc import Coroutine, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import cel
import httpx
from dbos import DBOS, SetEnqueueOptions, SetWorkflowID
from sqlmodel import Session, col, select

from backend.cases.lifecycle import refer_or_note
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import ServiceDefinition, Writeback
from backend.domain.cel import FUNCTIONS, CelSyntaxError, compile_expression
from backend.domain.decision import REGISTRY_FAILURE
from backend.domain.provenance import value_sources
from backend.engine import REGISTRY_WRITE_QUEUE, WRITEBACK_WORKFLOW, worker_context
from backend.records.audit import record_event
from backend.records.models import Case, CaseEvent
from backend.rules.evaluate import typed_fields
from prefill.connectors.base import CancelRequest, WritableConnector, WriteRequest, WriteResult

log = logging.getLogger("knopfdruck.writeback")

_WAITING_PREFIX = "Eintrag im "
_MAX_WAITING = 200  # Case.waiting_for column length


def writeback_key(case_id: str, index: int, round_no: int = 0) -> str:
    """The idempotency key of one write-back; also the id of its child workflow."""
    return f"case-{case_id}:{event_key(index, round_no)}"


def event_key(index: int, round_no: int = 0) -> str:
    """The case log's idempotency key of one write-back in one decision round."""
    return f"writeback:{index}" if round_no == 0 else f"writeback:{index}:r{round_no}"


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
        "fields": _cel_value(typed_fields(definition, case.data.get("values") or {})),
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


def _done(session: Session, case_id: str, index: int, round_no: int = 0) -> CaseEvent | None:
    return session.exec(
        select(CaseEvent).where(
            CaseEvent.case_id == case_id,
            CaseEvent.idempotency_key == event_key(index, round_no),
        )
    ).first()


_FIELD = re.compile(r"\bfields\.([A-Za-z_][A-Za-z0-9_]*)")


def record_provenance(spec: Writeback, case: Case) -> dict[str, str]:
    """Record key → on whose word its value stands: ``register:<id>``, ``clerk:<who>`` (confirmed
    with evidence), ``citizen``, ``clerk_for_citizen:<who>`` (typed at the counter), or
    ``decision`` (computed by the decision: amounts, the reference)."""
    sources = value_sources(case.data or {})
    found: dict[str, str] = {}
    for key, expression in spec.record.items():
        labels: list[str] = []
        for field_id in _FIELD.findall(expression):
            source = sources.get(field_id)
            if source is None:
                continue
            if source.kind == "register":
                label = f"register:{source.registry}"
            elif source.kind == "clerk":
                label = f"clerk:{source.by}"
            elif source.typed_by:
                label = f"clerk_for_citizen:{source.typed_by}"
            else:
                label = "citizen"
            if label not in labels:
                labels.append(label)
        found[key] = ", ".join(labels) or "decision"
    return found


def _mark_waiting(ctx: AppContext, case_id: str, text: str) -> None:
    """While retrying, the case says what it waits for, so nothing is stuck silently."""
    with unit_of_work(ctx.engine) as session:
        case = _load(session, case_id)
        case.waiting_for = _short(text)
        case.updated_at = utcnow()
        session.add(case)


def perform_writeback(
    ctx: AppContext, case_id: str, index: int, round_no: int = 0
) -> WritebackOutcome:
    """Write one declared entry, retrying retryable failures with exponential backoff.

    When the register keeps failing (or refuses the entry), the case is referred to a
    person with the reason, and its ``waiting_for`` names the register.
    """
    settings = ctx.settings
    with Session(ctx.engine) as session:
        case = _load(session, case_id)
        definition = ctx.case_definition(case)
        spec = definition.writeback[index]
        done = _done(session, case_id, index, round_no)
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
        return _give_up(ctx, case_id, index, spec, title, str(problem), 0, round_no)
    request = WriteRequest(
        idempotency_key=writeback_key(case_id, index, round_no),
        operation=spec.operation,
        record=record,
        purpose=spec.purpose,
        legal_basis=spec.legal_basis,
        service=case.service,
        case_id=case_id,
        provenance=record_provenance(spec, case),
    )
    attempts = max(1, settings.registry_write_attempts)
    for attempt in range(1, attempts + 1):
        result = _write_once(ctx, connector, spec.connector, request)
        if result.status != "failed":
            return _written(ctx, case_id, index, spec, result, attempt, round_no)
        log.warning("write to %s failed (attempt %d): %s", spec.connector, attempt, result.reason)
        if not result.retryable or attempt == attempts:
            reason = result.reason or ""
            return _give_up(ctx, case_id, index, spec, title, reason, attempt, round_no)
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
    round_no: int = 0,
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
                "idempotency_key": writeback_key(case_id, index, round_no),
                "attempts": attempts,
                "index": index,
                "round": round_no,
            },
            idempotency_key=event_key(index, round_no),
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
    round_no: int = 0,
) -> WritebackOutcome:
    """A person takes over: the decision stands, but the entry must be made by hand."""
    waiting = _short(f"Sachbearbeitung: {_WAITING_PREFIX}{title} fehlgeschlagen ({reason})")
    payload = {
        "referral_reasons": [REGISTRY_FAILURE],
        "registry": spec.connector,
        "operation": spec.operation,
        "idempotency_key": writeback_key(case_id, index, round_no),
        "attempts": attempts,
    }
    key = event_key(index, round_no)
    refer_or_note(ctx, case_id, f"{title}: {reason}", payload, waiting, key)
    return WritebackOutcome(index, spec.connector, "failed", reason=reason, attempts=attempts)


def perform_writebacks(ctx: AppContext, case_id: str, round_no: int = 0) -> list[WritebackOutcome]:
    """Every write-back due for the case's outcome, in order; stops at the first failure."""
    with Session(ctx.engine) as session:
        case = _load(session, case_id)
        indexes = planned_writebacks(ctx.case_definition(case), case.outcome)
    outcomes: list[WritebackOutcome] = []
    for index in indexes:
        outcome = perform_writeback(ctx, case_id, index, round_no)
        outcomes.append(outcome)
        if outcome.status == "failed":
            # The case is with a person now; later entries are theirs to make or not.
            break
    return outcomes


def standing_entries(session: Session, case_id: str, before_round: int) -> list[CaseEvent]:
    """Entries written in rounds before ``before_round`` and not cancelled since."""
    events = session.exec(
        select(CaseEvent).where(
            CaseEvent.case_id == case_id,
            col(CaseEvent.type).in_(["registry_written", "registry_cancelled"]),
        )
    ).all()
    cancelled = {
        e.idempotency_key.removeprefix("cancel:")
        for e in events
        if e.type == "registry_cancelled" and e.idempotency_key
    }
    return [
        e
        for e in events
        if e.type == "registry_written"
        and e.idempotency_key not in cancelled
        and int(e.payload.get("round") or 0) < before_round
    ]


def cancel_stale_entries(
    ctx: AppContext, case_id: str, round_no: int, reason: str, *, actor: str = "system"
) -> list[WritebackOutcome]:
    """Cancel every entry an earlier decision round made, before the new round's are written.

    The register keeps the cancelled entry with the reason (its history); the case log gets
    ``registry_cancelled`` once per entry (the register's key is ``<written key>:cancel``, so a
    retry meets its own cancellation). Stops at the first failure: the caller raises an
    incident and no new notice goes out while the register still holds the old entry.
    """
    with Session(ctx.engine) as session:
        case = _load(session, case_id)
        definition = ctx.case_definition(case)
        standing = standing_entries(session, case_id, round_no)
    outcomes: list[WritebackOutcome] = []
    for written in standing:
        index = int(written.payload.get("index", (written.idempotency_key or "0").split(":")[1]))
        spec = definition.writeback[index]
        connector_class = ctx.connectors.get(spec.connector)
        if not issubclass(connector_class, WritableConnector):
            raise TypeError(f"connector {spec.connector!r} does not accept writes")
        connector = connector_class()
        record_id = str(written.payload.get("record_id") or "")
        request = CancelRequest(
            idempotency_key=f"{written.payload.get('idempotency_key')}:cancel",
            operation=spec.operation,
            record_id=record_id,
            reason=reason[:500],
            purpose=spec.purpose,
            legal_basis=spec.legal_basis,
            service=case.service,
            case_id=case_id,
            actor=actor,
        )
        result = _cancel_with_retries(ctx, connector, spec.connector, request)
        if result.status == "failed":
            outcomes.append(
                WritebackOutcome(index, spec.connector, "failed", record_id, result.reason)
            )
            break
        with unit_of_work(ctx.engine) as session:
            record_event(
                session,
                case_id,
                "registry_cancelled",
                actor=actor,
                reason=reason,
                payload={
                    "registry": spec.connector,
                    "record_id": record_id,
                    "index": index,
                    "round": round_no,
                },
                idempotency_key=f"cancel:{written.idempotency_key}",
            )
        outcomes.append(WritebackOutcome(index, spec.connector, "written", record_id))
    return outcomes


def _cancel_with_retries(
    ctx: AppContext, connector: WritableConnector, registry: str, request: CancelRequest
) -> WriteResult:
    attempts = max(1, ctx.settings.registry_write_attempts)
    result = WriteResult(status="failed", reason="not attempted")
    for attempt in range(1, attempts + 1):

        async def send() -> WriteResult:
            async with httpx.AsyncClient(headers={"User-Agent": "Knopfdruck/0.1"}) as client:
                return await connector.cancel(client, ctx.connector_configs[registry], request)

        result = _run(send())
        if result.status != "failed" or not result.retryable:
            return result
        log.warning("cancellation at %s failed (attempt %d): %s", registry, attempt, result.reason)
        if attempt < attempts:
            time.sleep(ctx.settings.registry_write_backoff_s * 2 ** (attempt - 1))
    return result


# --- durable execution ---------------------------------------------------------------------


def writeback_plan(ctx: AppContext, session: Session, case_id: str) -> list[tuple[int, str]]:
    """Which write-backs are due, and at which register (the rate-limit partition)."""
    case = _load(session, case_id)
    definition = ctx.case_definition(case)
    return [
        (i, definition.writeback[i].connector) for i in planned_writebacks(definition, case.outcome)
    ]


@DBOS.step(name="knopfdruck.writeback.plan")
def plan_step(case_id: str) -> list[tuple[int, str]]:
    """The plan as a step of its own (the earlier completion workflow's shape)."""
    ctx = worker_context()
    with Session(ctx.engine) as session:
        return writeback_plan(ctx, session, case_id)


@DBOS.step(name="knopfdruck.writeback.write")
def write_step(case_id: str, index: int, round_no: int = 0) -> dict[str, Any]:
    """One write-back with its own retries; the step's result is checkpointed once done."""
    return asdict(perform_writeback(worker_context(), case_id, index, round_no))


@DBOS.workflow(name=WRITEBACK_WORKFLOW)
def writeback_workflow(case_id: str, index: int, round_no: int = 0) -> dict[str, Any]:
    """A write-back as its own workflow, so its register's queue partition can pace it."""
    return write_step(case_id, index, round_no)


def run_writebacks(
    case_id: str, run: str = "", round_no: int = 0, plan: list[tuple[int, str]] | None = None
) -> list[str]:
    """Call from inside the case workflow before the documents: the record ids written.

    Write-backs run one after another (a later entry may rely on an earlier one); a failed
    one has referred the case (see ``perform_writeback``), and the rest are left to the clerk.
    ``run`` tells a clerk's retry after an incident from the first run: its children get ids of
    their own (the register's idempotency key stays the same, so nothing is entered twice).
    ``plan``: read by the caller's own step already (issue 22), else read here as a step.
    """
    queue = DBOS.retrieve_queue(REGISTRY_WRITE_QUEUE)
    if queue is None:
        raise RuntimeError(f"queue {REGISTRY_WRITE_QUEUE!r} is not registered")
    record_ids: list[str] = []
    for index, registry in plan_step(case_id) if plan is None else plan:
        with (
            SetWorkflowID(writeback_key(case_id, index, round_no) + run),
            SetEnqueueOptions(queue_partition_key=registry),
        ):
            handle = queue.enqueue(writeback_workflow, case_id, index, round_no)
        outcome = handle.get_result(polling_interval_sec=0.1)
        if outcome["status"] == "failed":
            break
        if outcome["record_id"]:
            record_ids.append(outcome["record_id"])
    return record_ids
