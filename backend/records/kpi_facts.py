"""The dashboard's decision facts (table ``kpi_decisions``): one row per decided case saying
when its decision was issued, how long it took, and whether the machine made it.

Kept right transactionally: ``record_event`` (backend/records/audit.py) calls ``touch`` for the
events that decide a case or show a person's hand in it, in the same transaction, so a fact
never disagrees with the case log it is derived from. ``recount`` derives the same facts from
the case log alone (the definition the dashboard had before): the tests compare both, and the
dashboard counts a decided case without a fact (one decided before migration 0015, until
``backfill`` has run) by the recount, so a figure is never short.

The rules (docs/console.md, "Dashboard"): a decision is automated when the engine's
``decided`` event exists and no person decided, confirmed, re-ran or took the case over
(``HUMAN_EVENTS``; a resolved incident only when it was a takeover). Automated decisions are
timed until the engine decided (the citizen's time to pay does not count), the others until
the notice was issued (``cases.decided_at``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from backend.columns import aware
from backend.records.models import Case, CaseEvent, KpiDecision

SYSTEM_ACTOR = "system"
AUTOMATED_EVENT = "decided"
HUMAN_EVENTS = ("clerk_decision", "automation_rerun", "incident_resolved")
"""Events by which a person changed, confirmed or restarted a decision."""
DECIDING_EVENT = "case_decided"
"""Recorded when ``cases.decided_at`` is set (backend/cases/completion.py)."""
TOUCHING_EVENTS = frozenset({*HUMAN_EVENTS, AUTOMATED_EVENT, DECIDING_EVENT})
"""The events after which a case's fact may have changed."""


@dataclass(frozen=True)
class Fact:
    case_id: str
    department: str
    service: str
    issued_at: datetime
    seconds: float
    automated: bool


def payload_of(value: Any) -> dict[str, Any]:
    """An event payload as a dict, whether the driver returns JSON parsed or as text."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (aware(end) - aware(start)).total_seconds())


def recount(session: Session, case_ids: Iterable[str]) -> list[Fact]:
    """The facts of these cases derived from the cases and their logs alone (no fact table)."""
    ids = list(dict.fromkeys(case_ids))
    facts: list[Fact] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        cases = session.execute(
            select(
                col(Case.id),
                col(Case.department),
                col(Case.service),
                col(Case.submitted_at),
                col(Case.decided_at),
            ).where(col(Case.id).in_(chunk), col(Case.decided_at).is_not(None))
        ).all()
        if not cases:
            continue
        engine_at: dict[str, datetime] = {}
        touched: set[str] = set()
        events = session.execute(
            select(
                col(CaseEvent.case_id),
                col(CaseEvent.type),
                col(CaseEvent.actor),
                col(CaseEvent.at),
                col(CaseEvent.payload),
            ).where(
                col(CaseEvent.case_id).in_([c[0] for c in cases]),
                col(CaseEvent.type).in_([AUTOMATED_EVENT, *HUMAN_EVENTS]),
            )
        ).all()
        for case_id, kind, actor, at, payload in events:
            if kind == AUTOMATED_EVENT:
                if actor == SYSTEM_ACTOR:
                    seen = engine_at.get(case_id)
                    engine_at[case_id] = aware(at) if seen is None else min(seen, aware(at))
                continue
            if kind == "incident_resolved" and payload_of(payload).get("resolution") != (
                "taken_over"
            ):
                continue  # a retry lets the machine finish; a takeover hands it to a person
            touched.add(case_id)
        for case_id, department, service, submitted, decided in cases:
            by_engine = engine_at.get(case_id)
            automated = by_engine is not None and case_id not in touched
            end = by_engine if automated and by_engine is not None else decided
            facts.append(
                Fact(
                    case_id,
                    department,
                    service,
                    aware(decided),
                    _seconds(submitted, end),
                    automated,
                )
            )
    return facts


def _upsert(session: Session, facts: list[Fact]) -> None:
    """Insert or replace: a worker's backfill and a decision may write the same case at once."""
    if not facts:
        return
    rows = [
        {
            "case_id": f.case_id,
            "department": f.department,
            "service": f.service,
            "issued_at": f.issued_at,
            "seconds": f.seconds,
            "automated": f.automated,
        }
        for f in facts
    ]
    bind = session.get_bind()
    insert = pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
    statement = insert(KpiDecision).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["case_id"],
            set_={
                key: statement.excluded[key]
                for key in ("department", "service", "issued_at", "seconds", "automated")
            },
        )
    )


def touch(session: Session, case_id: str, event_type: str) -> None:
    """After an event that may change the case's fact: write it anew (or drop it if the case
    is not decided), in the caller's transaction."""
    if event_type not in TOUCHING_EVENTS:
        return
    session.flush()
    facts = recount(session, [case_id])
    if facts:
        _upsert(session, facts)
    else:
        session.execute(delete(KpiDecision).where(col(KpiDecision.case_id) == case_id))


def missing(session: Session, department: str | None, since: datetime | None) -> list[str]:
    """Decided cases without a fact (decided before the table existed): at most a backlog."""
    query = (
        select(col(Case.id))
        .outerjoin(KpiDecision, col(KpiDecision.case_id) == col(Case.id))
        .where(col(Case.decided_at).is_not(None), col(KpiDecision.case_id).is_(None))
    )
    if department is not None:
        query = query.where(col(Case.department) == department)
    if since is not None:
        query = query.where(col(Case.decided_at) >= since)
    return [row[0] for row in session.execute(query).all()]


def backfill(engine: Engine, *, batch: int = 500) -> int:
    """Write the facts that are missing, a batch per transaction; safe beside live traffic."""
    written = 0
    with Session(engine) as session:
        todo = missing(session, None, None)
    for start in range(0, len(todo), batch):
        with Session(engine) as session:
            facts = recount(session, todo[start : start + batch])
            _upsert(session, facts)
            session.commit()
            written += len(facts)
    return written
