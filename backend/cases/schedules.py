"""The engine's scheduled workflows: the watchdog, the E-Akte hand-over, closing lapsed cases.

Their schedules are stored by ``register_engine_queues`` (backend/cases/processing.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dbos import DBOS

from backend.cases.closing import close_lapsed_cases
from backend.cases.completion_workflow import STEP_RETRIES
from backend.cases.incidents import sweep_overdue
from backend.columns import utcnow
from backend.documents.render import local_date
from backend.engine import CLOSE_WORKFLOW, EAKTE_WORKFLOW, WATCHDOG_WORKFLOW, worker_context


@DBOS.step(name="knopfdruck.close_lapsed", **STEP_RETRIES)
def close_lapsed_step() -> int:
    return len(close_lapsed_cases(worker_context(), local_date(utcnow())))


@DBOS.step(name="knopfdruck.watchdog.sweep", **STEP_RETRIES)
def watchdog_step() -> int:
    return len(sweep_overdue(worker_context()))


@DBOS.workflow(name=WATCHDOG_WORKFLOW)
def watchdog(scheduled_time: datetime, context: Any) -> None:
    """Every minute: cases that stopped moving without an error become incidents too."""
    watchdog_step()


@DBOS.step(name="knopfdruck.eakte_handover.run", **STEP_RETRIES)
def eakte_step() -> int:
    from backend.cases.eakte import run_scheduled

    return len(run_scheduled(worker_context()))


@DBOS.workflow(name=EAKTE_WORKFLOW)
def eakte_handover(scheduled_time: datetime, context: Any) -> None:
    """On eakte_schedule: closed cases not yet filed go to the E-Akte (one batch per run)."""
    eakte_step()


@DBOS.workflow(name=CLOSE_WORKFLOW)
def close_lapsed(scheduled_time: datetime, context: Any) -> None:
    """Nightly: decided cases whose objection period is over become 'closed'."""
    while close_lapsed_step() > 0:
        pass
