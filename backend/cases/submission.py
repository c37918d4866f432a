"""Submitting an application: the checks a draft must pass, what its case keeps of it, and
the case written with its processing job in one transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.auth.tokens import Identity
from backend.cases.applications import (
    _held,
    application_version,
    check_trust_level,
    get_application,
    merged_values,
    open_draft,
)
from backend.cases.deadlines import first_due
from backend.cases.draft_version import DraftChanged
from backend.cases.search_index import index_case
from backend.cases.worker import enqueue_case
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.answers import (
    FieldProblem,
    allowed_answers,
    group_problems,
    rule_problem,
)
from backend.definitions.constraints import local_today
from backend.definitions.models import ServiceDefinition
from backend.domain.case_state import Actor
from backend.domain.provenance import TYPED_AT_COUNTER_KEY
from backend.errors import InvalidInput, NotFound
from backend.records.audit import record_event
from backend.records.models import Application, Case, DraftProgress
from backend.uploads.models import Upload


def missing_required(
    definition: ServiceDefinition,
    application: Application,
    only: set[str] | None = None,
) -> list[FieldProblem]:
    """Required fields without a value; `only` limits the check to one page's fields."""
    values = merged_values(application)
    groups = [
        problem
        for topic in definition.topics
        if only is None or any(f.topic == topic.id and f.id in only for f in definition.fields)
        for problem in group_problems(definition, topic, values)
    ]
    return [
        FieldProblem(
            f.id,
            f"Bitte laden Sie „{f.label.de}“ hoch."
            if f.type == "file"
            else f"Bitte geben Sie „{f.label.de}“ an.",
            f"Upload '{f.label.en}'." if f.type == "file" else f"Enter '{f.label.en}'.",
        )
        for f in definition.fields
        if f.required
        and values.get(f.id) in (None, "")
        and (only is None or f.id in only)
        # Nothing held to choose from: the rules decide what that means (e.g. no vehicle).
        and not (f.options_from is not None and not allowed_answers(f, application.prefill))
    ] + groups


def answers_out_of_limits(
    definition: ServiceDefinition, application: Application
) -> list[FieldProblem]:
    """Typed answers the limits or DIN 91379 refuse now: a draft lives for weeks, and a definition
    reloaded meanwhile (or a register's lower limit) may have narrowed what it will take."""
    problems: list[FieldProblem] = []
    for field in definition.fields:
        value = application.answers.get(field.id)
        if value is not None and not _held(application, field.id):
            problem = rule_problem(field, value)
            if problem is not None:
                problems.append(problem)
    return problems


def intake_record(application: Application) -> dict[str, Any]:
    """What a case keeps of its application: the values with their origin and provenance, and
    what the automation policy reads (failed and empty registry fields, disputes, remark)."""
    values = merged_values(application)
    return {
        "values": values,
        "origin": {fid: ("registry" if _held(application, fid) else "citizen") for fid in values},
        "provenance": {
            fid: e.get("provenance")
            for fid, e in application.prefill.items()
            if e.get("status") == "ok"
        },
        "failed_fields": sorted(
            fid for fid, e in application.prefill.items() if e.get("status") == "failed"
        ),
        # Withheld under an information block (§ 51 BMG), not unreachable: said as such.
        "blocked_fields": sorted(
            fid
            for fid, e in application.prefill.items()
            if e.get("status") == "failed" and e.get("blocked")
        ),
        # Held fields the register had nothing for and the citizen typed instead.
        "empty_fields": sorted(
            fid
            for fid, e in application.prefill.items()
            if e.get("status") == "empty" and values.get(fid) not in (None, "", [])
        ),
        "disputes": dict(application.disputes),
        "remark": application.remark,
    }


def submit_application(
    ctx: AppContext,
    identity: Identity,
    application_id: str,
    *,
    version: str | None = None,
    typed_by: Actor | None = None,
) -> Case:
    """Write the case and its processing job in one transaction; submitting twice is harmless.
    With `version`, the draft must still be exactly what the citizen confirmed (DraftChanged).

    ``typed_by``: a clerk submitted at the counter for the citizen (``backend/console/
    assisted.py``). The case log then names the clerk as the one who submitted, on the citizen's
    behalf, and every value the clerk typed carries "typed by clerk for the citizen" as its
    provenance, not "stated by the citizen" alone."""
    try:
        with unit_of_work(ctx.engine) as session:
            application = get_application(session, identity, application_id)
            if application.status == "submitted":
                return _case_of(session, application.id)
            application, definition = open_draft(ctx, session, identity, application_id)
            if version is not None:
                # Lock the row (PostgreSQL) so no answer can change between check and submit.
                session.exec(
                    select(Application.id).where(Application.id == application.id).with_for_update()
                ).first()
                session.refresh(application)
                current = application_version(session, application)
                if current != version:
                    raise DraftChanged(current)
            check_trust_level(identity, definition)
            problems = missing_required(definition, application)
            if problems:
                raise InvalidInput(
                    "Es fehlen noch Angaben. (Some answers are missing.)",
                    details=[p.as_detail() for p in problems],
                )
            problems = answers_out_of_limits(definition, application)
            if problems:
                raise InvalidInput(
                    "Angaben passen nicht zu den Regeln des Dienstes. "
                    "(Some answers break the service's rules.)",
                    details=[p.as_detail() for p in problems],
                )
            now = utcnow()
            data = {
                **intake_record(application),
                "addressee": {"name": identity.name},
                # For a clerk's re-read of the register (backend/console/reread.py).
                **({"register_keys": {"idnr": identity.idnr}} if identity.idnr else {}),
            }
            payload: dict[str, Any] = {"service": definition.id, "version": definition.version}
            if typed_by is not None:
                data[TYPED_AT_COUNTER_KEY] = {
                    fid: {"by": typed_by.label, "at": now.isoformat()}
                    for fid, origin in data["origin"].items()
                    if origin == "citizen"
                }
                payload.update(on_behalf_of="citizen", channel="counter")
            case = Case(
                application_id=application.id,
                service=definition.id,
                service_version=definition.version,
                tenant=application.tenant,
                department=definition.department,
                citizen_sub=identity.sub,
                reference_date=local_today(),
                data=data,
                submitted_at=now,
                due_at=first_due(now, definition.target_days),
            )
            session.add(case)
            session.flush()
            index_case(session, case)  # the console finds it by the applicant's name
            record_event(
                session,
                case.id,
                "submitted",
                actor=typed_by.label if typed_by is not None else "citizen",
                reason=(
                    "Am Schalter von der Sachbearbeitung für die antragstellende Person eingereicht"
                    if typed_by is not None
                    else None
                ),
                payload=payload,
            )
            application.status = "submitted"
            application.submitted_at = now
            session.add(application)
            # Attached documents become part of the case file with everything else.
            session.exec(
                update(Upload)
                .where(col(Upload.application_id) == application.id)
                .values(case_id=case.id)
            )
            session.exec(
                delete(DraftProgress).where(col(DraftProgress.application_id) == application.id)
            )
            enqueue_case(ctx, session, case.id)
            return case
    except IntegrityError:
        # A concurrent submit of the same application won the race: return its case.
        with unit_of_work(ctx.engine) as session:
            return _case_of(session, application_id)


def case_of_application(session: Session, application_id: str) -> Case:
    """The case a submitted application became."""
    return _case_of(session, application_id)


def _case_of(session: Session, application_id: str) -> Case:
    case = session.exec(select(Case).where(Case.application_id == application_id)).first()
    if case is None:
        raise NotFound("Zu diesem Antrag gibt es keinen Vorgang. (No case for this application.)")
    return case
