"""The department's staff as the console has seen them: the choice for "assign to a colleague"."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlmodel import Session, col, select

from backend.columns import aware, utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.department.identity import ClerkIdentity, Permission
from backend.department.models import ConsoleClerk

_REFRESH = timedelta(minutes=5)


def remember_clerk(ctx: AppContext, clerk: ClerkIdentity) -> None:
    """Upsert on login and at most every few minutes after, so requests rarely write."""
    with unit_of_work(ctx.engine) as session:
        row = session.get(ConsoleClerk, clerk.sub)
        now = utcnow()
        if row is None:
            row = ConsoleClerk(
                sub=clerk.sub, name=clerk.name, department=clerk.department, roles=list(clerk.roles)
            )
        elif (
            aware(row.last_seen) > now - _REFRESH
            and row.name == clerk.name
            and row.department == clerk.department
            and list(row.roles) == list(clerk.roles)
            and row.active
        ):
            return
        row.name, row.department, row.roles, row.last_seen, row.active = (
            clerk.name,
            clerk.department,
            list(clerk.roles),
            now,
            True,  # whoever logs in is working here, whatever the directory said last
        )
        session.add(row)


def colleagues(session: Session, department: str) -> list[ConsoleClerk]:
    """Everyone of the department who can work cases, by name."""
    rows = session.exec(
        select(ConsoleClerk)
        .where(ConsoleClerk.department == department, col(ConsoleClerk.active).is_(True))
        .order_by(col(ConsoleClerk.name))
    ).all()
    return [
        r
        for r in rows
        if ClerkIdentity(r.sub, r.name, r.department, tuple(r.roles)).can(Permission.WORK_CASES)
    ]


def names_by_actor(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """Names for the `clerk:<sub>` labels of a case log, so clerks read people, not ids."""
    subs = {a.partition(":")[2] for a in actors if a.startswith("clerk:")}
    if not subs:
        return {}
    rows = session.exec(select(ConsoleClerk).where(col(ConsoleClerk.sub).in_(subs))).all()
    return {f"clerk:{r.sub}": r.name for r in rows}


def roles_by_actor(session: Session, actors: Iterable[str]) -> dict[str, list[str]]:
    """The console roles of the `clerk:<sub>` actors, so the protocol says who acted as what."""
    subs = {a.partition(":")[2] for a in actors if a.startswith("clerk:")}
    if not subs:
        return {}
    rows = session.exec(select(ConsoleClerk).where(col(ConsoleClerk.sub).in_(subs))).all()
    return {f"clerk:{r.sub}": list(r.roles) for r in rows}
