"""Running the engine in a process: DBOS, the queues, the schedules, recovery of dead workers.

The one place above the domains that knows which of them run in a worker (issue 18): it
imports the workflow modules so DBOS registers their workflows, and starts the schedules of
retention, the staff directory and clerks' work mail. Domains never import it.
"""

from __future__ import annotations

import signal
import threading
from typing import Protocol

from dbos import DBOS

# Imported so DBOS registers their workflows and steps before it launches.
import backend.cases.payment_wait
import backend.cases.schedules
import backend.cases.writeback  # noqa: F401
from backend.cases.handover_log import event_log_schedule
from backend.cases.processing import register_engine_queues
from backend.cases.worker import WorkerPresence
from backend.console.designer import CatalogueFollower
from backend.console.directory import directory_schedule
from backend.console.workmail import work_mail_schedule
from backend.context import AppContext
from backend.db import normalise_url
from backend.documents.pool import RenderPool
from backend.engine import (
    APP_VERSION,
    DOCUMENTS_QUEUE,
    QUEUE,
    REGISTRY_WRITE_QUEUE,
    bind_worker_context,
    executor_id,
)
from backend.retention import RetentionSchedule

_presence: WorkerPresence | None = None


class _Periodic(Protocol):
    """A worker's background schedule (retention, staff directory)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


_schedules: list[_Periodic] = []
_render_pool: list[RenderPool] = []
"""The worker's render processes, when settings.render_processes asks for them."""


def launch_worker(ctx: AppContext, *, concurrency: int) -> None:
    """Start DBOS in this process: recover unfinished workflows, then take cases from the queue."""
    global _presence
    settings = ctx.settings
    bind_worker_context(ctx)
    executor = executor_id(settings)
    presence = WorkerPresence(ctx.engine, executor, dead_after_s=settings.worker_dead_after_s)
    presence.announce()
    if settings.render_processes > 0:
        # Before DBOS starts its threads: the render processes come from a fork server.
        _render_pool.append(RenderPool(settings.render_processes))
        _render_pool[-1].start()
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
    register_engine_queues(ctx.dbos_client, settings.eakte_schedule)
    presence.start()
    _presence = presence
    _schedules.append(RetentionSchedule(ctx))  # deletes cases past their retention period
    _schedules[-1].start()
    _schedules.append(directory_schedule(ctx))  # the staff directory (SCIM), if there is one
    _schedules.append(work_mail_schedule(ctx))  # clerks' mails about new work, if chosen
    _schedules.append(event_log_schedule(ctx))  # lost handover callbacks, from the event log
    for schedule in _schedules[-3:]:
        schedule.start()


def shutdown_worker() -> None:
    global _presence
    while _schedules:
        _schedules.pop().stop()
    DBOS.destroy(workflow_completion_timeout_sec=5)
    while _render_pool:
        _render_pool.pop().stop()
    if _presence is not None:
        _presence.stop()
        _presence = None


def serve_until_signalled(ctx: AppContext, *, concurrency: int, banner: str = "") -> None:
    """Run a worker until SIGINT or SIGTERM, so the CLI and test worker processes stop alike."""
    launch_worker(ctx, concurrency=concurrency)
    # A version published in the designer reaches this worker without a restart.
    follower = CatalogueFollower(
        ctx.engine,
        ctx.settings.services_dir,
        ctx.connectors,
        lambda catalogue: setattr(ctx, "catalogue", catalogue),
        interval_s=ctx.settings.definitions_poll_s,
    )
    follower.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if banner:
        print(banner, flush=True)
    stop.wait()
    follower.stop()
    shutdown_worker()
    ctx.close()
