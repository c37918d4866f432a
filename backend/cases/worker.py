"""The case worker: DBOS set-up, the queues, enqueueing, and recovery of dead workers' cases.

DBOS registers workflows on module-level functions, so the worker binds its AppContext once
with ``bind_worker_context``; steps read it with ``worker_context()``. That is the only
process-wide state.

Every worker process runs DBOS under its own executor id and keeps a heartbeat row. Every
worker also sweeps: workflows claimed by an executor whose heartbeat went stale are handed
back to their queue, where any live worker picks them up (docs/architecture.md, "Scale-out").
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from dbos import DBOS, EnqueueOptions
from sqlalchemy import delete, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.columns import aware, utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.engine import APP_VERSION, QUEUE, WORKFLOW
from backend.records.models import Case, WorkerHeartbeat

log = logging.getLogger("knopfdruck.worker")


def enqueue_case(ctx: AppContext, session: Session, case_id: str) -> None:
    """Add the processing job inside the caller's transaction: case and job commit together."""
    case = session.get(Case, case_id)
    if case is None:
        raise LookupError(f"case {case_id} must be added to the session before it is enqueued")
    options: EnqueueOptions = {
        "queue_name": QUEUE,
        "workflow_name": WORKFLOW,
        "workflow_id": f"case-{case_id}",
        "app_version": APP_VERSION,
        # The partition is the service: its concurrency cap keeps one busy service from
        # taking every worker while others wait.
        "queue_partition_key": case.service,
    }
    ctx.dbos_client.enqueue_in_transaction(session, options, case_id)


def _db_now(engine: Engine) -> datetime:
    """PostgreSQL's clock, shared by all machines; SQLite runs on one machine, so its clock."""
    if engine.dialect.name != "postgresql":
        return utcnow()
    with engine.connect() as conn:
        now: datetime = conn.execute(text("SELECT now()")).scalar_one()
    return aware(now)


def _process_gone(hostname: str, pid: int) -> bool:
    """On our own host a crashed worker is certain at once: its pid no longer runs."""
    if hostname != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class WorkerPresence:
    """The heartbeat of one worker process, and the sweep that recovers dead workers' cases."""

    def __init__(self, engine: Engine, executor: str, *, dead_after_s: float) -> None:
        self.engine = engine
        self.executor = executor
        self.dead_after = timedelta(seconds=dead_after_s)
        self.interval_s = max(0.2, dead_after_s / 5)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def announce(self) -> None:
        """Write the heartbeat before DBOS claims any workflow under this executor id."""
        now = _db_now(self.engine)
        with unit_of_work(self.engine) as session:
            row = session.get(WorkerHeartbeat, self.executor)
            if row is None:
                row = WorkerHeartbeat(
                    executor_id=self.executor,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=now,
                    last_seen=now,
                )
            row.pid = os.getpid()
            row.last_seen = now
            session.add(row)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="knopfdruck-presence", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Leave cleanly: mark ourselves gone, so peers recover what we did not finish at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with unit_of_work(self.engine) as session:
            row = session.get(WorkerHeartbeat, self.executor)
            if row is not None:
                # Workflows still PENDING here (a payment wait, say) must move on elsewhere.
                row.last_seen = datetime(1970, 1, 1, tzinfo=UTC)
                session.add(row)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.announce()
                self.sweep()
            except Exception:
                # A database hiccup must not end the heartbeat; the next tick tries again.
                log.exception("worker heartbeat or recovery sweep failed")

    def dead_executors(self) -> list[str]:
        """Executors whose heartbeat went stale, or whose process is gone from our host."""
        now = _db_now(self.engine)
        with Session(self.engine) as session:
            rows = session.exec(select(WorkerHeartbeat)).all()
        return sorted(
            row.executor_id
            for row in rows
            if row.executor_id != self.executor
            and (
                aware(row.last_seen) <= now - self.dead_after
                or _process_gone(row.hostname, row.pid)
            )
        )

    def sweep(self) -> list[str]:
        """Hand dead executors' workflows back to their queues; safe if peers sweep too."""
        recovered: list[str] = []
        for dead in self.dead_executors():
            # DBOS re-enqueues only rows still PENDING under the dead executor id, so two
            # workers sweeping at once, or a sweep racing a dequeue, cannot run a case twice.
            handles = DBOS._recover_pending_workflows([dead])
            if handles:
                log.warning("recovered %d workflow(s) of dead worker %s", len(handles), dead)
            left = DBOS.list_workflows(
                status="PENDING", executor_id=dead, limit=1, load_input=False, load_output=False
            )
            if left:
                continue  # Recovery of one failed; the row stays so the next sweep tries again.
            with unit_of_work(self.engine) as session:
                session.exec(
                    delete(WorkerHeartbeat).where(col(WorkerHeartbeat.executor_id) == dead)
                )
            recovered.append(dead)
        return recovered
