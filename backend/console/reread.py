"""A clerk asks the register again for the values a citizen had to type (register down, no
entry, a block), instead of ticking that they "checked" it: a real, logged read through the
connector, whose answer the case file shows next to the typed value.

A value the register now delivers replaces the typed one as the case's value, with the
register's provenance; the typed value stays in the file as the citizen's statement. Nothing
else changes: the clerk then decides or hands the case back to the machine (``rerun``), which
re-reads the same way before it decides.

Decision (issue 20 item 3): to read again, the case keeps the identifier the register is keyed
by (the IdNr from the citizen's login or the counter's identity check) in ``register_keys``.
It is used for nothing else: never shown in the console, printed, exported to a Fachverfahren,
or logged, and it goes with the case when retention deletes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from backend.cases.applications import access_rows, data_needs
from backend.columns import utcnow
from backend.console.decisions import DecisionResult, open_pending
from backend.context import AppContext
from backend.db import unit_of_work
from backend.department.access import department_case
from backend.department.identity import ClerkIdentity, Permission
from backend.department.reasons import required_reason
from backend.domain.case_state import CaseStatus
from backend.domain.provenance import CONFIRMATIONS_KEY, value_sources
from backend.errors import Conflict
from backend.records.audit import record_event
from prefill.service import PrefillOutcome, prefill

REGISTER_KEYS = "register_keys"
"""Key in case data: claim name → identifier, for reading the register again."""
REREADS = "rereads"
"""Key in case data: field id → the latest re-read's answer (status, when, by whom)."""
STATEMENTS = "statements"
"""Key in case data: field id → what the citizen had typed before the register answered."""

REREADABLE = (CaseStatus.REFERRED, CaseStatus.IN_REVIEW)


@dataclass(frozen=True)
class RereadResult:
    """Which fields were asked for, and which of them the register now delivered."""

    asked: list[str]
    adopted: list[str]


def typed_held_fields(ctx: AppContext, case: Any) -> list[str]:
    """Fields a register should fill whose value the register did not deliver: typed in its
    place, or left empty after a failed or withheld read."""
    definition = ctx.case_definition(case)
    data = case.data or {}
    sources = value_sources(data)
    values = data.get("values") or {}
    unread = set(data.get("failed_fields") or []) | set(data.get("blocked_fields") or [])
    return [
        f.id
        for f in definition.fields
        if f.source is not None
        and (values.get(f.id) not in (None, "", []) or f.id in unread)
        and not (f.id in sources and sources[f.id].from_register)
    ]


def apply_reread(
    data: dict[str, Any], outcome: PrefillOutcome, *, by: str, at: str
) -> tuple[dict[str, Any], list[str]]:
    """Case data with the register's answers taken in; pure, so the rule is testable alone."""
    values = dict(data.get("values") or {})
    origin = dict(data.get("origin") or {})
    provenance = dict(data.get("provenance") or {})
    confirmed = dict(data.get(CONFIRMATIONS_KEY) or {})
    statements = dict(data.get(STATEMENTS) or {})
    rereads = dict(data.get(REREADS) or {})
    lists = {k: set(data.get(k) or []) for k in ("failed_fields", "empty_fields", "blocked_fields")}
    adopted: list[str] = []
    for field_id, result in outcome.results.items():
        value = result.model_dump(mode="json")["value"]  # as the case stores it (ISO dates)
        rereads[field_id] = {
            "at": at,
            "by": by,
            "status": result.status,
            "blocked": result.blocked,
            "reason": result.reason,
            "same": result.status == "ok" and value == values.get(field_id),
        }
        if result.status != "ok" or result.provenance is None:
            continue
        if values.get(field_id) not in (None, "", []):
            statements.setdefault(field_id, values.get(field_id))
        values[field_id] = value
        origin[field_id] = "registry"
        provenance[field_id] = result.provenance.model_dump(mode="json")
        confirmed.pop(field_id, None)
        for members in lists.values():
            members.discard(field_id)
        adopted.append(field_id)
    updated = {
        **data,
        "values": values,
        "origin": origin,
        "provenance": provenance,
        CONFIRMATIONS_KEY: confirmed,
        STATEMENTS: statements,
        REREADS: rereads,
        **{k: sorted(v) for k, v in lists.items()},
    }
    return updated, adopted


async def reread_register(
    ctx: AppContext, clerk: ClerkIdentity, case_id: str, reason: str | None
) -> RereadResult:
    """Read the typed register values again for a case a person handles; the read is logged
    with the clerk as reader, for the citizen's data cockpit."""
    clerk.require(Permission.WORK_CASES)
    text = required_reason(reason)

    def load() -> tuple[Any, list[str], str]:
        with unit_of_work(ctx.engine) as session:
            case = department_case(session, clerk, case_id)
            if case.status not in REREADABLE:
                raise Conflict(
                    "Das Register kann nur für einen Antrag in Bearbeitung durch eine Person "
                    "erneut abgefragt werden. (Only a case a person handles can be re-read.)"
                )
            if open_pending(session, case.id) is not None:
                raise Conflict(
                    "Eine Entscheidung wartet auf die zweite Person. "
                    "(A decision awaits confirmation.)"
                )
            return case, typed_held_fields(ctx, case), case.citizen_sub

    case, fields, subject = await run_in_threadpool(load)
    keys = dict((case.data or {}).get(REGISTER_KEYS) or {})
    if not fields:
        raise Conflict(
            "Alle Angaben, die ein Register liefert, stammen bereits aus dem Register. "
            "(Every register value already comes from the register.)"
        )
    if not keys:
        raise Conflict(
            "Für diesen Antrag ist keine Kennung für das Register gespeichert (vor dieser "
            "Funktion gestellt). Bitte sehen Sie im Register nach und bestätigen Sie die Angaben "
            "mit Nachweis. (No register identifier is stored for this case.)"
        )
    definition = ctx.case_definition(case)
    needs = data_needs(definition, only=fields)
    outcome = await prefill(
        needs,
        identity_claims={"sub": subject, **keys},
        service=definition.id,
        application_id=case.application_id,
        case_id=case.id,
        actor=clerk.actor.label,
        registry=ctx.connectors,
        configs=ctx.connector_configs,
        client=ctx.http,
        declared={(n.connector, n.attribute) for n in data_needs(definition)},
        health=ctx.registry_health,
    )

    def persist() -> RereadResult:
        with unit_of_work(ctx.engine) as session:
            current = department_case(session, clerk, case_id)
            data, adopted = apply_reread(
                dict(current.data or {}), outcome, by=clerk.actor.label, at=utcnow().isoformat()
            )
            current.data = data
            session.add(current)
            for row in access_rows(outcome.accesses, subject):
                session.add(row)
            # Names and statuses only: the audit log keeps no register values.
            record_event(
                session,
                current.id,
                "register_reread",
                actor=clerk.actor.label,
                reason=text,
                payload={
                    "fields": {k: r.status for k, r in outcome.results.items()},
                    "adopted": adopted,
                    "differs": [f for f in adopted if not data[REREADS][f]["same"]],
                },
            )
            return RereadResult(asked=list(outcome.results), adopted=adopted)

    return await run_in_threadpool(persist)


async def rerun_with_reread(
    ctx: AppContext, clerk: ClerkIdentity, case_id: str, reason: str | None
) -> DecisionResult:
    """The console's re-run: read the register again where the citizen had to type, then let
    the machine decide on what the register says now (issue 20: a re-run re-reads)."""
    from backend.console.work import rerun_automation

    clerk.require(Permission.WORK_CASES)
    required_reason(reason)

    def pending_reread() -> bool:
        with unit_of_work(ctx.engine) as session:
            case = department_case(session, clerk, case_id)
            return (
                case.status == CaseStatus.REFERRED
                and bool(typed_held_fields(ctx, case))
                and bool((case.data or {}).get(REGISTER_KEYS))
            )

    if await run_in_threadpool(pending_reread):
        await reread_register(ctx, clerk, case_id, reason)
    return await run_in_threadpool(rerun_automation, ctx, clerk, case_id, reason)
