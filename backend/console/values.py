"""A clerk amends single values of a case a person handles: confirms a typed value on named
evidence, or corrects a value with a reason. Both keep who, when and why with the value
(backend/domain/provenance.py), write an audit event, and leave the decision to a person:
after either, the machine no longer decides the case alone and no notice says
"automatisiert" (§ 35a VwVfG)."""

from __future__ import annotations

from typing import Any, Literal

from backend.columns import utcnow
from backend.console.decisions import open_pending
from backend.console.reread import REREADABLE, STATEMENTS
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.answers import allowed_answers, charset_problem, coerce, length_problem
from backend.department.access import department_case
from backend.department.identity import ClerkIdentity, Permission
from backend.department.reasons import required_reason
from backend.domain.provenance import CONFIRMATIONS_KEY, value_sources
from backend.errors import Conflict, InvalidInput
from backend.records.audit import record_event
from backend.records.models import Case

EvidenceKind = Literal["register_record", "id_document", "other_document"]

EVIDENCE: dict[str, dict[str, str]] = {
    "register_record": {
        "de": "Eintrag im Register eingesehen",
        "en": "Register record inspected",
    },
    "id_document": {
        "de": "Ausweisdokument vorgelegt",
        "en": "Identity document shown",
    },
    "other_document": {
        "de": "Anderes Dokument vorgelegt",
        "en": "Other document shown",
    },
}
"""What a clerk may confirm a value on; the German label goes with the value into the file."""


def _amendable(ctx: AppContext, clerk: ClerkIdentity, session: Any, case_id: str) -> Case:
    case = department_case(session, clerk, case_id)
    if case.status not in REREADABLE:
        raise Conflict(
            "Angaben können nur in einem Antrag geändert werden, den eine Person bearbeitet. "
            "(Values can only be amended while a person handles the case.)"
        )
    if open_pending(session, case.id) is not None:
        raise Conflict(
            "Eine Entscheidung wartet auf die zweite Person. (A decision awaits confirmation.)"
        )
    return case


def _field(ctx: AppContext, case: Case, field_id: str | None) -> Any:
    definition = ctx.case_definition(case)
    field = next((f for f in definition.fields if f.id == field_id), None)
    if field is None or field.type == "file":
        raise InvalidInput(
            "Diese Angabe gibt es in diesem Antrag nicht. (Unknown field.)",
            details=[{"field": "field", "message": "unknown field"}],
        )
    return field


def _reproposed(ctx: AppContext, session: Any, case: Case) -> str | None:
    """The machine's proposal on the amended values; the case stays with the person."""
    from backend.cases.processing import machine_decision

    definition = ctx.case_definition(case)
    decision = machine_decision(session, case, definition, qa_sample=False)
    stored = decision.to_json()
    case.decision = {**(case.decision or {}), **stored}
    return decision.proposed_outcome or decision.outcome


def confirm_value(
    ctx: AppContext,
    clerk: ClerkIdentity,
    case_id: str,
    field_id: str | None,
    evidence: str | None,
    note: str | None,
) -> str:
    """Stand behind a value no register delivered, naming the evidence (the register record,
    an ID document at the counter, another document with a note)."""
    clerk.require(Permission.WORK_CASES)
    if evidence not in EVIDENCE:
        raise InvalidInput(
            "Bitte wählen Sie den Nachweis. (Choose the evidence.)",
            details=[{"field": "evidence", "message": ", ".join(EVIDENCE)}],
        )
    text = (note or "").strip()
    if evidence == "other_document" or text:
        text = required_reason(note, field="note")
    with unit_of_work(ctx.engine) as session:
        case = _amendable(ctx, clerk, session, case_id)
        field = _field(ctx, case, field_id)
        data = dict(case.data or {})
        if (data.get("values") or {}).get(field.id) in (None, "", []):
            raise Conflict("Zu dieser Angabe gibt es keinen Wert. (This field holds no value.)")
        if value_sources(data)[field.id].from_register:
            raise Conflict(
                "Diese Angabe stammt aus dem Register; sie braucht keine Bestätigung. "
                "(This value comes from the register.)"
            )
        label = EVIDENCE[evidence]["de"] + (f": {text}" if text else "")
        confirmed = dict(data.get(CONFIRMATIONS_KEY) or {})
        confirmed[field.id] = {
            "by": clerk.actor.label,
            "by_name": clerk.name,
            "at": utcnow().isoformat(),
            "evidence": label,
            "evidence_kind": evidence,
        }
        case.data = {**data, CONFIRMATIONS_KEY: confirmed}
        proposal = _reproposed(ctx, session, case)
        session.add(case)
        record_event(
            session,
            case.id,
            "value_confirmed",
            actor=clerk.actor.label,
            reason=label,
            payload={"field": field.id, "evidence": evidence, "proposed_outcome": proposal},
        )
        return case.status


def correct_value(
    ctx: AppContext,
    clerk: ClerkIdentity,
    case_id: str,
    field_id: str | None,
    raw: str | None,
    reason: str | None,
) -> str:
    """Correct one value with a reason instead of only approving or rejecting; the former
    value stays in the file, and the machine's proposal is worked out again."""
    clerk.require(Permission.WORK_CASES)
    text = required_reason(reason)
    with unit_of_work(ctx.engine) as session:
        case = _amendable(ctx, clerk, session, case_id)
        field = _field(ctx, case, field_id)
        data = dict(case.data or {})
        if field.options_from is not None:
            raise Conflict(
                "Diese Auswahl bietet ein Register an; fragen Sie es erneut ab. "
                "(This choice comes from a register; read it again.)"
            )
        # The same checks as the citizen's answer (type, options, length, DIN 91379).
        value, problem = coerce(field, raw, allowed_answers(field, {}))
        if problem is None and isinstance(value, str):
            problem = length_problem(field, value) or charset_problem(field, value)
        if problem is None and value is None:
            raise InvalidInput(
                "Bitte geben Sie den richtigen Wert an. (Enter the corrected value.)",
                details=[{"field": "value", "message": "required"}],
            )
        if problem is not None:
            raise InvalidInput(
                f"{problem.de} ({problem.en})",
                details=[{"field": "value", "message": problem.en, "message_de": problem.de}],
            )
        values = dict(data.get("values") or {})
        statements = dict(data.get(STATEMENTS) or {})
        if field.id in values:
            statements.setdefault(field.id, values[field.id])
        values[field.id] = value
        confirmed = dict(data.get(CONFIRMATIONS_KEY) or {})
        confirmed[field.id] = {
            "by": clerk.actor.label,
            "by_name": clerk.name,
            "at": utcnow().isoformat(),
            "evidence": f"Berichtigt: {text}",
            "evidence_kind": "correction",
        }
        case.data = {
            **data,
            "values": values,
            "origin": {**(data.get("origin") or {}), field.id: "clerk"},
            "provenance": {
                k: v for k, v in (data.get("provenance") or {}).items() if k != field.id
            },
            CONFIRMATIONS_KEY: confirmed,
            STATEMENTS: statements,
            **{
                k: [f for f in data.get(k) or [] if f != field.id]
                for k in ("failed_fields", "empty_fields", "blocked_fields")
            },
        }
        proposal = _reproposed(ctx, session, case)
        session.add(case)
        # The value itself stays in the case data; the log says what was changed and why.
        record_event(
            session,
            case.id,
            "value_corrected",
            actor=clerk.actor.label,
            reason=text,
            payload={"field": field.id, "proposed_outcome": proposal},
        )
        return case.status
