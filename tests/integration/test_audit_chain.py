"""The case log is hash-chained: editing or deleting an event in the database is detected."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend.columns import utcnow
from backend.db import build_engine, unit_of_work
from backend.migrate import upgrade_database
from backend.records.audit import record_event, verify_case_chain
from backend.records.models import Application, Case, CaseEvent


def _case_with_events(url: str) -> tuple[str, Engine]:
    upgrade_database(url)
    engine = build_engine(url)
    with unit_of_work(engine) as session:
        app = Application(service="meldebescheinigung", service_version="1", citizen_sub="s")
        session.add(app)
        session.flush()
        case = Case(
            application_id=app.id,
            service="meldebescheinigung",
            service_version="1",
            department="buergeramt",
            citizen_sub="s",
            reference_date=date(2026, 11, 21),
        )
        session.add(case)
        session.flush()
        for kind in ("submitted", "processing_started", "decided"):
            record_event(session, case.id, kind, actor="system", payload={"k": kind})
        # A retried step with the same idempotency key does not write twice.
        record_event(session, case.id, "decided", actor="system", idempotency_key="x")
        record_event(session, case.id, "decided", actor="system", idempotency_key="x")
        case_id = case.id
    return case_id, engine


def test_untouched_chain_verifies(tmp_path: Path) -> None:
    case_id, engine = _case_with_events(f"sqlite:///{tmp_path / 'a.db'}")
    with Session(engine) as session:
        report = verify_case_chain(session, case_id)
    assert report.ok and report.events == 4


def test_edited_event_is_detected(tmp_path: Path) -> None:
    case_id, engine = _case_with_events(f"sqlite:///{tmp_path / 'b.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE case_events SET actor = 'clerk:mallory' WHERE seq = 2"))
    with Session(engine) as session:
        report = verify_case_chain(session, case_id)
    assert not report.ok and report.broken_at == 2 and report.problem == "content altered"


def test_deleted_event_is_detected(tmp_path: Path) -> None:
    case_id, engine = _case_with_events(f"sqlite:///{tmp_path / 'c.db'}")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM case_events WHERE seq = 2"))
    with Session(engine) as session:
        report = verify_case_chain(session, case_id)
    assert not report.ok and report.broken_at == 2


def test_a_key_from_an_earlier_transaction_is_found_and_the_chain_continues(
    tmp_path: Path,
) -> None:
    """The one read per append (issue 22) finds both an old key and the head after it."""
    case_id, engine = _case_with_events(f"sqlite:///{tmp_path / 'd.db'}")
    with unit_of_work(engine) as session:
        again = record_event(session, case_id, "decided", actor="system", idempotency_key="x")
        assert again.seq == 4  # the earlier event, not a new one
        later = record_event(session, case_id, "notified", actor="system", idempotency_key="y")
        assert later.seq == 5 and later.prev_hash == again.hash
        record_event(session, case_id, "note", actor="system")
    with Session(engine) as session:
        report = verify_case_chain(session, case_id)
    assert report.ok and report.events == 6


def test_two_writers_after_the_same_head_cannot_both_append(tmp_path: Path) -> None:
    """Without a read per event the chain still holds: the second append collides on its seq."""
    case_id, engine = _case_with_events(f"sqlite:///{tmp_path / 'e.db'}")
    first, second = Session(engine), Session(engine)
    try:
        record_event(first, case_id, "note", actor="clerk:a")
        with pytest.raises(IntegrityError):
            # SQLite serialises writers: the second waits for the first's lock, so commit first.
            first.commit()
            stale = CaseEvent(
                case_id=case_id,
                seq=5,
                at=utcnow(),
                type="note",
                actor="clerk:b",
                payload={},
                prev_hash="0" * 64,
                hash="0" * 64,
            )
            second.add(stale)
            second.commit()
    finally:
        first.close()
        second.close()
    with Session(engine) as session:
        assert verify_case_chain(session, case_id).ok
