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

from backend.context import AppContext
from backend.db import normalise_url, unit_of_work
from backend.models import Case, aware, utcnow
from backend.models_handover import WorkerHeartbeat
from backend.retention import RetentionSchedule
from backend.settings import Settings

log = logging.getLogger("knopfdruck.worker")

QUEUE = "cases"
"""Case workflows, partitioned by service: enqueue only through ``enqueue_case``."""
DOCUMENTS_QUEUE = "documents"
"""Completion of decided cases (write-back, notice, notification): the slow, CPU-bound half.
Kept off the ``cases`` queue so a decision is never stuck behind other cases' PDFs."""
REGISTRY_WRITE_QUEUE = "registry-writes"
"""Write-back workflows, partitioned by registry connector id (rate limit per registry)."""
WORKFLOW = "knopfdruck.process_case"
APP_VERSION = "knopfdruck-1"
"""Fixed so web processes, workers and restarts agree on which executor may run a workflow."""

_context: AppContext | None = None
_presence: WorkerPresence | None = None
_schedules: list[RetentionSchedule] = []


def bind_worker_context(ctx: AppContext) -> None:
    global _context
    _context = ctx


def worker_context() -> AppContext:
    if _context is None:
        raise RuntimeError("the case worker was started without its context")
    return _context


def executor_id(settings: Settings) -> str:
    """Unique per live process (hostname + pid), unless the operator names the worker."""
    return settings.worker_id or f"{socket.gethostname()}-{os.getpid()}"


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


def launch_worker(ctx: AppContext, *, concurrency: int) -> None:
    """Start DBOS in this process: recover unfinished workflows, then take cases from the queue."""
    import backend.cases.writeback  # noqa: F401  (registers the write-back workflow)
    from backend.cases.processing import register_engine_queues  # registers the workflows

    global _presence
    settings = ctx.settings
    bind_worker_context(ctx)
    executor = executor_id(settings)
    presence = WorkerPresence(ctx.engine, executor, dead_after_s=settings.worker_dead_after_s)
    presence.announce()
    DBOS(
        config={
            "name": "knopfdruck",
            "system_database_url": normalise_url(settings.database_url),
            # Workflow inputs are bound parameters too; no error may print them (issue 14, 3).
            "db_engine_kwargs": {"hide_parameters": True},
            # DBOS's own pool has no overflow: cap it where the platform's pool is capped.
            "sys_db_pool_size": settings.db_pool_size + settings.db_max_overflow,
            "application_version": APP_VERSION,
            "executor_id": executor,
            "log_level": "WARNING",
        }
    )
    DBOS.launch()
    # Queue settings live in the database and apply to every worker; the last worker to
    # start writes them, so start all workers with the same settings.
    DBOS.register_queue(
        QUEUE,
        worker_concurrency=concurrency,
        partition_concurrency=max(1, settings.service_concurrency),
        # Measured (docs/performance.md): at 0.2 s a worker idled 0.12 s between cases; each
        # poll is a few indexed queries, so ten a second per worker cost the database little.
        polling_interval_sec=0.1,
        on_conflict="always_update",
    )
    DBOS.register_queue(
        DOCUMENTS_QUEUE,
        worker_concurrency=concurrency,
        polling_interval_sec=0.1,
        on_conflict="always_update",
    )
    DBOS.register_queue(
        REGISTRY_WRITE_QUEUE,
        partition_concurrency=max(1, settings.registry_write_concurrency),
        partition_limiter={
            "limit": max(1, settings.registry_write_rate),
            "period": settings.registry_write_period_s,
        },
        polling_interval_sec=0.1,
        on_conflict="always_update",
    )
    # A worker may be the first process against a fresh database: it needs every queue.
    register_engine_queues(ctx.dbos_client)
    presence.start()
    _presence = presence
    _schedules.append(RetentionSchedule(ctx))  # deletes cases past their retention period
    _schedules[-1].start()


def shutdown_worker() -> None:
    global _presence
    while _schedules:
        _schedules.pop().stop()
    DBOS.destroy(workflow_completion_timeout_sec=5)
    if _presence is not None:
        _presence.stop()
        _presence = None
