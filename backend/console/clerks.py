"""The department's staff as the console has seen them: the choice for "assign to a colleague"."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from backend.console.identity import ClerkIdentity, Permission
from backend.context import AppContext
from backend.db import unit_of_work
from backend.models import aware, utcnow
from backend.models_console import ConsoleClerk

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
        ):
            return
        row.name, row.department, row.roles, row.last_seen = (
            clerk.name,
            clerk.department,
            list(clerk.roles),
            now,
        )
        session.add(row)


def colleagues(session: Session, department: str) -> list[ConsoleClerk]:
    """Everyone of the department who can work cases, by name."""
    rows = session.exec(
        select(ConsoleClerk)
        .where(ConsoleClerk.department == department)
        .order_by(col(ConsoleClerk.name))
    ).all()
    return [
        r
        for r in rows
        if ClerkIdentity(r.sub, r.name, r.department, tuple(r.roles)).can(Permission.WORK_CASES)
    ]
