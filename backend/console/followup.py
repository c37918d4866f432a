"""Follow-up on time and hand-over (issue 17, items 4 and 5): internal notes, a Wiedervorlage
per case, the statutory three-month mark, and absences with a substitute.

Notes and follow-ups are case-log events (`note_added`, `follow_up_set`, `follow_up_cleared`),
so they are part of the hash-chained audit trail and of the E-Akte export; they are internal
(INTERNAL_EVENTS): never in the citizen's timeline, mailbox or documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_
from sqlmodel import Session, col, select

from backend.console.models import CaseFollowUp, ClerkAbsence
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.constraints import local_today
from backend.department.access import department_case
from backend.department.identity import ClerkIdentity, Permission
from backend.department.models import ConsoleClerk
from backend.department.reasons import required_reason
from backend.errors import InvalidInput, NotFound
from backend.records.audit import record_event
from backend.records.models import Case, CaseEvent

INTERNAL_EVENTS = frozenset({"note_added", "follow_up_set", "follow_up_cleared"})
"""Case-log events only the department sees (the citizen's API timeline leaves them out)."""
MAX_NOTE = 2000
MAX_FOLLOW_UP_NOTE = 500
MAX_FOLLOW_UP_DAYS = 730
MAX_ABSENCE_DAYS = 366
UNTAETIGKEIT_MONTHS = 3
"""§ 75 Satz 2 VwGO: after three months without a decision on an application, an action for
failure to act (Untätigkeitsklage) is admissible; the console flags such cases."""


def today() -> date:
    return local_today()


def untaetigkeit_mark(now: date) -> date:
    """Submitted on or before this day and still undecided: the three months have passed."""
    month = now.month - UNTAETIGKEIT_MONTHS
    year = now.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    for day in (now.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


def add_note(ctx: AppContext, clerk: ClerkIdentity, case_id: str, text: str | None) -> None:
    """An internal note in the case log (author and time recorded, chained like every event)."""
    clerk.require(Permission.WORK_CASES)
    note = required_reason(text, field="note")
    if len(note) > MAX_NOTE:  # required_reason allows the same; kept explicit for the UI text
        raise InvalidInput("Die Notiz ist zu lang. (The note is too long.)")
    with unit_of_work(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        record_event(session, case.id, "note_added", actor=clerk.actor.label, reason=note)


@dataclass(frozen=True)
class Note:
    at: object
    author: str
    text: str


def notes_of(session: Session, case_id: str) -> list[Note]:
    """The case's internal notes, newest first, with the author's name where known."""
    events = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.type == "note_added")
        .order_by(col(CaseEvent.seq).desc())
    ).all()
    subs = {e.actor.partition(":")[2] for e in events}
    names = {
        c.sub: c.name
        for c in session.exec(select(ConsoleClerk).where(col(ConsoleClerk.sub).in_(subs))).all()
    }
    return [
        Note(at=e.at, author=names.get(e.actor.partition(":")[2], ""), text=e.reason or "")
        for e in events
    ]


def _parse_day(value: str | None, field: str) -> date:
    text = (value or "").strip()
    try:
        if "." in text:
            d, m, y = (int(p) for p in text.split("."))
            return date(y, m, d)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            "Bitte ein gültiges Datum (TT.MM.JJJJ). (Please enter a valid date.)",
            details=[{"field": field, "message": "a date"}],
        ) from None


def set_follow_up(
    ctx: AppContext, clerk: ClerkIdentity, case_id: str, due: str | None, note: str | None
) -> CaseFollowUp:
    """Put the case back on the worklist on that day (today to two years ahead), with a note."""
    clerk.require(Permission.WORK_CASES)
    day = _parse_day(due, "due_on")
    if not today() <= day <= today() + timedelta(days=MAX_FOLLOW_UP_DAYS):
        raise InvalidInput(
            "Die Wiedervorlage liegt zwischen heute und zwei Jahren. "
            "(The follow-up date lies between today and two years ahead.)",
            details=[{"field": "due_on", "message": "today to two years ahead"}],
        )
    text = required_reason(note, field="note")
    if len(text) > MAX_FOLLOW_UP_NOTE:
        raise InvalidInput(
            f"Bitte höchstens {MAX_FOLLOW_UP_NOTE} Zeichen. "
            f"(At most {MAX_FOLLOW_UP_NOTE} characters.)",
            details=[{"field": "note", "message": f"at most {MAX_FOLLOW_UP_NOTE} characters"}],
        )
    with unit_of_work(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        row = session.get(CaseFollowUp, case.id) or CaseFollowUp(
            case_id=case.id,
            department=case.department,
            due_on=day,
            note=text,
            set_by=clerk.sub,
            set_by_name=clerk.name,
        )
        row.due_on, row.note, row.set_by, row.set_by_name = day, text, clerk.sub, clerk.name
        session.add(row)
        record_event(
            session,
            case.id,
            "follow_up_set",
            actor=clerk.actor.label,
            reason=text,
            payload={"due_on": day.isoformat()},
        )
        return row


def clear_follow_up(ctx: AppContext, clerk: ClerkIdentity, case_id: str) -> None:
    """The follow-up is done: off the worklist again (recorded in the case log)."""
    clerk.require(Permission.WORK_CASES)
    with unit_of_work(ctx.engine) as session:
        case = department_case(session, clerk, case_id)
        row = session.get(CaseFollowUp, case.id)
        if row is None:
            raise NotFound("Für diesen Vorgang ist keine Wiedervorlage gesetzt. (No follow-up.)")
        session.delete(row)
        record_event(session, case.id, "follow_up_cleared", actor=clerk.actor.label)


def follow_up_of(session: Session, case_id: str) -> CaseFollowUp | None:
    return session.get(CaseFollowUp, case_id)


def follow_up_due() -> Any:
    """SQL: the case has a follow-up due today or earlier (it belongs on the worklist); an
    uncorrelated ``IN``, hashed once (see ``backend.cases.incidents.has_open_incident``)."""
    return col(Case.id).in_(select(CaseFollowUp.case_id).where(col(CaseFollowUp.due_on) <= today()))


# Absences and substitutes


def record_absence(
    ctx: AppContext,
    clerk: ClerkIdentity,
    starts: str | None,
    ends: str | None,
    substitute: str | None,
) -> ClerkAbsence:
    """Mark one's own absence and name a colleague of the department as substitute."""
    clerk.require(Permission.WORK_CASES)
    first, last = _parse_day(starts, "starts_on"), _parse_day(ends, "ends_on")
    if last < first or last < today() or (last - first).days > MAX_ABSENCE_DAYS:
        raise InvalidInput(
            "Der Zeitraum endet nicht vor seinem Beginn, nicht in der Vergangenheit und dauert "
            "höchstens ein Jahr. (The period must end after it starts, not in the past, and "
            "last at most a year.)",
            details=[{"field": "ends_on", "message": "a period of up to a year, not past"}],
        )
    with unit_of_work(ctx.engine) as session:
        colleague = session.get(ConsoleClerk, substitute or "")
        if (
            colleague is None
            or colleague.department != clerk.department
            or colleague.sub == clerk.sub
        ):
            raise InvalidInput(
                "Bitte wählen Sie eine Kollegin oder einen Kollegen Ihres Fachbereichs. "
                "(Choose a colleague of your department.)",
                details=[{"field": "substitute", "message": "a colleague"}],
            )
        row = ClerkAbsence(
            department=clerk.department,
            clerk=clerk.sub,
            clerk_name=clerk.name,
            substitute=colleague.sub,
            substitute_name=colleague.name,
            starts_on=first,
            ends_on=last,
        )
        session.add(row)
        return row


def end_absence(ctx: AppContext, clerk: ClerkIdentity, absence_id: str) -> None:
    """The absent clerk (or a supervisor) ends an absence early."""
    with unit_of_work(ctx.engine) as session:
        row = session.get(ClerkAbsence, absence_id)
        if row is None or row.department != clerk.department:
            raise NotFound("Diese Abwesenheit gibt es nicht. (No such absence.)")
        if row.clerk != clerk.sub:
            clerk.require(Permission.ASSIGN_OTHERS)
        row.ends_on = min(row.ends_on, today() - timedelta(days=1))
        if row.ends_on < row.starts_on:
            session.delete(row)
        else:
            session.add(row)


def absences(session: Session, department: str) -> list[ClerkAbsence]:
    """Current and coming absences of the department, soonest first."""
    return list(
        session.exec(
            select(ClerkAbsence)
            .where(ClerkAbsence.department == department, col(ClerkAbsence.ends_on) >= today())
            .order_by(col(ClerkAbsence.starts_on), col(ClerkAbsence.clerk_name))
        ).all()
    )


def represented(session: Session, clerk: ClerkIdentity) -> list[ClerkAbsence]:
    """Colleagues absent today whom this clerk stands in for."""
    day = today()
    return list(
        session.exec(
            select(ClerkAbsence).where(
                ClerkAbsence.department == clerk.department,
                ClerkAbsence.substitute == clerk.sub,
                col(ClerkAbsence.starts_on) <= day,
                col(ClerkAbsence.ends_on) >= day,
            )
        ).all()
    )


def my_assignees(session: Session, clerk: ClerkIdentity) -> list[str]:
    """Whose cases are "mine" today: my own and those of colleagues I substitute."""
    return [clerk.sub, *(a.clerk for a in represented(session, clerk))]


def overdue_clause() -> Any:
    """SQL: undecided and submitted three months ago or earlier (§ 75 VwGO)."""
    cutoff = datetime.combine(untaetigkeit_mark(today()) + timedelta(days=1), time.min, UTC)
    return and_(col(Case.decided_at).is_(None), col(Case.submitted_at) < cutoff)


def substituted_clause(clerk: ClerkIdentity) -> Any:
    """SQL: the clerks whose cases this clerk sees as their own today (self and absentees)."""
    day = today()
    return select(ClerkAbsence.clerk).where(
        ClerkAbsence.department == clerk.department,
        ClerkAbsence.substitute == clerk.sub,
        col(ClerkAbsence.starts_on) <= day,
        col(ClerkAbsence.ends_on) >= day,
    )
