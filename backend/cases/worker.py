"""The case worker: DBOS set-up, the queue, and enqueueing a case inside the caller's transaction.

DBOS registers workflows on module-level functions, so the worker binds its AppContext once
with ``bind_worker_context``; steps read it with ``worker_context()``. That is the only
process-wide state.
"""

from __future__ import annotations

from dbos import DBOS, EnqueueOptions
from sqlmodel import Session

from backend.context import AppContext
from backend.db import normalise_url

QUEUE = "cases"
WORKFLOW = "knopfdruck.process_case"
APP_VERSION = "knopfdruck-1"
"""Fixed so web processes, workers and restarts agree on which executor may run a workflow."""

_context: AppContext | None = None


def bind_worker_context(ctx: AppContext) -> None:
    global _context
    _context = ctx


def worker_context() -> AppContext:
    if _context is None:
        raise RuntimeError("the case worker was started without its context")
    return _context


def enqueue_case(ctx: AppContext, session: Session, case_id: str) -> None:
    """Add the processing job inside the caller's transaction: case and job commit together."""
    options: EnqueueOptions = {
        "queue_name": QUEUE,
        "workflow_name": WORKFLOW,
        "workflow_id": f"case-{case_id}",
        "app_version": APP_VERSION,
    }
    ctx.dbos_client.enqueue_in_transaction(session, options, case_id)


def launch_worker(ctx: AppContext, *, concurrency: int) -> None:
    """Start DBOS in this process: recover unfinished workflows, then take cases from the queue."""
    import backend.cases.processing  # noqa: F401  (registers the workflow before launch)

    bind_worker_context(ctx)
    DBOS(
        config={
            "name": "knopfdruck",
            "system_database_url": normalise_url(ctx.settings.database_url),
            "application_version": APP_VERSION,
            "log_level": "WARNING",
        }
    )
    DBOS.launch()
    DBOS.register_queue(
        QUEUE, worker_concurrency=concurrency, polling_interval_sec=0.2, on_conflict="always_update"
    )


def shutdown_worker() -> None:
    DBOS.destroy(workflow_completion_timeout_sec=5)
