"""The durable engine's names and the worker's context: queues, workflow names, the app version.

The bottom of the workflow layer: every domain whose steps run in a worker (cases, write-back,
notifications, hand-over) imports these names from here, and this module imports no domain, so
no domain needs the module that wires them together (`backend/runtime.py`, issue 18).
"""

from __future__ import annotations

import os
import socket

from backend.context import AppContext
from backend.settings import Settings

QUEUE = "cases"
"""Case workflows, partitioned by service: enqueue only through ``enqueue_case``."""
DOCUMENTS_QUEUE = "documents"
"""Completion of decided cases (write-back, notice, notification): the slow, CPU-bound half.
Kept off the ``cases`` queue so a decision is never stuck behind other cases' PDFs."""
REGISTRY_WRITE_QUEUE = "registry-writes"
"""Write-back workflows, partitioned by registry connector id (rate limit per registry)."""
WORKFLOW = "knopfdruck.process_case.v3"
"""The case workflow (issue 22): one step up to the decision, one to complete it when no register
entry is due; new cases are queued to it."""
WORKFLOW_V2 = "knopfdruck.process_case.v2"
"""The case workflow that queued every completion to the ``documents`` queue (before v3)."""
LEGACY_WORKFLOW = "knopfdruck.process_case"
"""The four-step case workflow, still registered so cases queued before an upgrade finish
with the code they started with (DBOS replays a workflow's steps by position and name)."""
APP_VERSION = "knopfdruck-1"
"""Fixed so web processes, workers and restarts agree on which executor may run a workflow."""

PAYMENT_QUEUE = "payments"
"""Payment waits, one workflow per case that owes a fee."""
PAYMENT_WORKFLOW = "knopfdruck.await_payment"
COMPLETE_WORKFLOW = "knopfdruck.complete_case.v3"
"""The completion in one step when no register entry is due (issue 22); else prepare,
write-backs, issue, notify as in v2."""
COMPLETE_WORKFLOW_V2 = "knopfdruck.complete_case.v2"
"""The completion with three steps besides write-backs, for completions queued before v3."""
LEGACY_COMPLETE_WORKFLOW = "knopfdruck.complete_case"
"""The six-step completion, for completions queued before an upgrade."""
CLOSE_WORKFLOW = "knopfdruck.close_lapsed_cases"
WATCHDOG_WORKFLOW = "knopfdruck.watchdog"
EAKTE_WORKFLOW = "knopfdruck.eakte_handover"
WRITEBACK_WORKFLOW = "knopfdruck.writeback"

_context: AppContext | None = None


def bind_worker_context(ctx: AppContext) -> None:
    """Steps are module-level functions: they find the process's context here."""
    global _context
    _context = ctx


def worker_context() -> AppContext:
    """The context a worker process was started with."""
    if _context is None:
        raise RuntimeError("the case worker was started without its context")
    return _context


def executor_id(settings: Settings) -> str:
    """Unique per live process (hostname + pid), unless the operator names the worker."""
    return settings.worker_id or f"{socket.gethostname()}-{os.getpid()}"
