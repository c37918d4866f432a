"""The append-only case log: every entry carries the hash of the one before it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from backend.columns import aware, utcnow
from backend.records import kpi_facts
from backend.records.models import CaseEvent

GENESIS = "0" * 64


def _digest(
    case_id: str,
    seq: int,
    at: datetime,
    type_: str,
    actor: str,
    reason: str | None,
    payload: dict[str, Any],
    prev_hash: str,
) -> str:
    body = json.dumps(
        {
            "case": case_id,
            "seq": seq,
            "at": aware(at).isoformat(timespec="microseconds"),
            "type": type_,
            "actor": actor,
            "reason": reason,
            "payload": payload,
            "prev": prev_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record_event(
    session: Session,
    case_id: str,
    type_: str,
    *,
    actor: str,
    reason: str | None = None,
    payload: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CaseEvent:
    """Append one event; with an idempotency key a retried step does not write it twice.

    One read finds both the chain's head and an earlier event with the same key (issue 22: the
    log was read twice per event, the whole last row each time). Concurrent writers stay safe:
    two appends after the same head collide on ``uq_case_events_seq`` and one is retried.
    """
    last_seq = (
        select(func.max(CaseEvent.seq)).where(col(CaseEvent.case_id) == case_id).scalar_subquery()
    )
    wanted = col(CaseEvent.seq) == last_seq
    if idempotency_key is not None:
        wanted = or_(wanted, col(CaseEvent.idempotency_key) == idempotency_key)
    rows = session.execute(
        select(
            col(CaseEvent.id),
            col(CaseEvent.seq),
            col(CaseEvent.hash),
            col(CaseEvent.idempotency_key),
        ).where(col(CaseEvent.case_id) == case_id, wanted)
    ).all()
    for row in rows:
        if idempotency_key is not None and row.idempotency_key == idempotency_key:
            existing = session.get(CaseEvent, row.id)
            if existing is not None:
                return existing
    head = max(rows, key=lambda row: row.seq, default=None)
    seq = (head.seq + 1) if head else 1
    prev = head.hash if head else GENESIS
    at = utcnow()
    data = payload or {}
    event = CaseEvent(
        case_id=case_id,
        seq=seq,
        at=at,
        type=type_,
        actor=actor,
        reason=reason,
        payload=data,
        idempotency_key=idempotency_key,
        prev_hash=prev,
        hash=_digest(case_id, seq, at, type_, actor, reason, data, prev),
    )
    session.add(event)
    session.flush()
    # The dashboard's fact of this case follows its log in the same transaction (issue 17).
    kpi_facts.touch(session, case_id, type_)
    return event


@dataclass(frozen=True)
class ChainReport:
    """Result of checking one case's chain: ok, or the first sequence number that does not fit."""

    case_id: str
    events: int
    ok: bool
    broken_at: int | None = None
    problem: str | None = None


def verify_case_chain(session: Session, case_id: str) -> ChainReport:
    events = session.exec(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
    ).all()
    prev = GENESIS
    for expected_seq, ev in enumerate(events, start=1):
        if ev.seq != expected_seq:
            return ChainReport(case_id, len(events), False, expected_seq, "event missing")
        if ev.prev_hash != prev:
            return ChainReport(case_id, len(events), False, ev.seq, "link to previous broken")
        digest = _digest(case_id, ev.seq, ev.at, ev.type, ev.actor, ev.reason, ev.payload, prev)
        if digest != ev.hash:
            return ChainReport(case_id, len(events), False, ev.seq, "content altered")
        prev = ev.hash
    return ChainReport(case_id, len(events), True)


def verify_all_chains(session: Session) -> list[ChainReport]:
    case_ids = session.exec(select(CaseEvent.case_id).group_by(CaseEvent.case_id)).all()
    return [verify_case_chain(session, cid) for cid in sorted(case_ids)]


def count_events(session: Session, case_id: str) -> int:
    return int(session.exec(select(func.count()).where(CaseEvent.case_id == case_id)).one())
