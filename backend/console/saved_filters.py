"""Saved worklist filters per clerk (issue 17, item 2): a name for a filter used every day.

A filter is stored as the worklist's own query string, built from the parsed filter (so only
known parameters with valid values are kept, never the page number); a clerk sees, uses and
deletes only their own, and only those of the department they work in now.
"""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.console.models import SavedFilter
from backend.console.worklist import WorklistFilter
from backend.db import unit_of_work
from backend.department.identity import ClerkIdentity, Permission
from backend.errors import Conflict, InvalidInput, NotFound

MAX_PER_CLERK = 20
MAX_NAME = 60


def query_of(flt: WorklistFilter) -> str:
    """The worklist URL's query for a filter: what was chosen, nothing else."""
    chosen = {
        "service": flt.service,
        "reason": flt.reason,
        "age": flt.age,
        "assignee": flt.assignee,
        "sort": flt.sort if flt.sort != WorklistFilter.sort else None,
    }
    return urlencode({k: v for k, v in chosen.items() if v})


def saved_filters(session: Session, clerk: ClerkIdentity) -> list[SavedFilter]:
    """This clerk's filters in this department, by name."""
    return list(
        session.exec(
            select(SavedFilter)
            .where(SavedFilter.clerk == clerk.sub, SavedFilter.department == clerk.department)
            .order_by(col(SavedFilter.name))
        ).all()
    )


def save_filter(engine: Engine, clerk: ClerkIdentity, name: str, params: dict[str, str]) -> str:
    """Keep the filter under a name; a bad filter or name is a 422, a taken name a 409."""
    clerk.require(Permission.VIEW)
    title = " ".join(name.split())
    if not title or len(title) > MAX_NAME:
        raise InvalidInput(
            f"Geben Sie dem Filter einen Namen (höchstens {MAX_NAME} Zeichen). "
            f"(Name the filter, at most {MAX_NAME} characters.)",
            details=[{"field": "name", "message": f"1 to {MAX_NAME} characters"}],
        )
    query = query_of(WorklistFilter.parse({k: v for k, v in params.items() if k != "page"}))
    try:
        with unit_of_work(engine) as session:
            if len(saved_filters(session, clerk)) >= MAX_PER_CLERK:
                raise Conflict(
                    f"Sie haben schon {MAX_PER_CLERK} Filter gespeichert; löschen Sie zuerst "
                    f"einen. (You already keep {MAX_PER_CLERK} filters; delete one first.)"
                )
            session.add(
                SavedFilter(clerk=clerk.sub, department=clerk.department, name=title, query=query)
            )
    except IntegrityError as exc:
        raise Conflict(
            "Einen Filter mit diesem Namen haben Sie schon. (You already have a filter with "
            "this name.)"
        ) from exc
    return query


def delete_filter(engine: Engine, clerk: ClerkIdentity, filter_id: str) -> None:
    """Delete one of one's own filters; anyone else's is not found."""
    with unit_of_work(engine) as session:
        found = session.get(SavedFilter, filter_id)
        if found is None or found.clerk != clerk.sub:
            raise NotFound("Diesen Filter gibt es nicht. (No such filter.)")
        session.delete(found)
