"""Running the engine in a process: DBOS, the queues, the schedules, recovery of dead workers.

The one place above the domains that knows which of them run in a worker (issue 18): it
imports the workflow modules so DBOS registers their workflows, and starts the schedules of
retention, the staff directory and clerks' work mail. Domains never import it.
"""

from __future__ import annotations

import copy
import gc
import signal
import threading
import time
from typing import Any, Protocol

from dbos import DBOS
from dbos import _workflow_commands as dbos_commands
from dbos._dbos import _get_dbos_instance

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
    PAYMENT_QUEUE,
    QUEUE,
    REGISTRY_WRITE_QUEUE,
    bind_worker_context,
    executor_id,
)
from backend.notifications.delivery import QUEUE as NOTIFICATIONS_QUEUE
from backend.queue_wake import SAFETY_POLL_S, QueueWaker, trigger_installed
from backend.retention import RetentionSchedule

_presence: WorkerPresence | None = None


class _Periodic(Protocol):
    """A worker's background schedule (retention, staff directory)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


_schedules: list[_Periodic] = []
_wakers: list[QueueWaker] = []
"""The worker's LISTEN connection for queue notifications (PostgreSQL)."""
_render_pool: list[RenderPool] = []
"""The worker's render processes, when settings.render_processes asks for them."""


BUSY_POLL_S = 0.1
"""A queue with work in this process is polled this often, so a finished case's slot refills at
once (measured, docs/performance.md: at 0.2 s a worker idled 0.12 s between cases)."""
BUSY_HOLD_S = 5.0
"""A worker that ran a case this recently still polls at BUSY_POLL_S: DBOS lengthens a poll
interval at once but shortens it by a tenth per poll, so switching at every gap between two
cases would leave a busy worker polling slowly (measured: half the throughput)."""
LISTENING_POLL_S = 0.25
"""An idle worker that is told of new work looks for news this often: a look costs no query,
but each wake-up of the five queue threads costs a little CPU. A new case waits at most this."""
QUEUE_ROW_TTL_S = 5.0
"""How long a process trusts its copy of a queue's row: a rate limit changed elsewhere applies
within this time, and the row is not read again before every poll."""


class LocalQueueSettings:
    """This process's view of DBOS's queue rows (issue 22): concurrency per worker, rare idle polls.

    DBOS keeps queue settings in the database and every worker re-reads them before each poll,
    so the last worker to start set ``--concurrency`` for all machines, and an idle worker read
    five rows ten times a second. DBOS's queue threads read them through the system database's
    ``get_queue``; this process answers that call from a copy at most ``QUEUE_ROW_TTL_S`` old,
    with its own concurrency for the case and document queues, and a long poll interval once
    it has run no case for ``BUSY_HOLD_S``. Global limits (a service's share, a registry's
    rate) stay in the row and bind every machine. The hook is DBOS 3.4's (pinned); a test
    checks DBOS still reads the row through it (tests/integration/test_worker_queues.py).
    """

    def __init__(
        self,
        dbos: DBOS,
        concurrency: dict[str, int],
        idle_poll_s: float,
        hot: frozenset[str] = frozenset(),
        waker: QueueWaker | None = None,
        slow: frozenset[str] = frozenset(),
        draining: frozenset[str] = frozenset(),
    ) -> None:
        self._dbos = dbos
        self._waker = waker
        # Queues whose work may wait a few seconds when the worker is idle and not notified:
        # a payment wait or a mail queued by a clerk's action. Not register writes: a case's
        # completion waits for them.
        self._slow = slow
        self._polled: dict[str, float] = {}
        self._read = dbos._sys_db.get_queue
        self._concurrency = concurrency
        self._idle_poll_s = idle_poll_s
        # Queues whose running workflows mean work is flowing. A payment wait runs for days
        # and must not keep the worker polling fast, so the payment queue is not one of them.
        self._hot = hot | frozenset(concurrency)
        self._last_busy = float("-inf")
        # Queues of short workflows (a mail) that keep polling at their own pace while they
        # ran work within BUSY_HOLD_S, though no case runs: a backlog of mails after the
        # cases are done drains at the row's pace, not four mails per idle poll.
        self._draining = draining
        self._drained: dict[str, float] = {}
        self._rows: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def busy(self, name: str = "") -> bool:
        """Whether this process ran work from a hot queue (or from ``name``, if that queue
        drains on its own) within the last BUSY_HOLD_S."""
        now = time.monotonic()
        active = self._dbos._active_workflows_set
        if any(active.count_for_queue(hot) for hot in self._hot):
            self._last_busy = now
        if name in self._draining and active.count_for_queue(name):
            self._drained[name] = now
        recent = now - self._drained.get(name, float("-inf")) < BUSY_HOLD_S
        return recent or now - self._last_busy < BUSY_HOLD_S

    def install(self) -> None:
        """Answer DBOS's queue threads in this process from here."""
        self._dbos._sys_db.get_queue = self.get_queue  # type: ignore[method-assign]
        # A mail is sent in milliseconds, so it has usually ended before the queue's thread asks
        # for the row again: note the start of each one instead of counting running ones.
        active = self._dbos._active_workflows_set
        track = active.add

        def add(
            key: str, queue_name: str | None = None, queue_partition_key: str | None = None
        ) -> Any:
            if queue_name in self._draining:
                self._drained[queue_name] = time.monotonic()
            return track(key, queue_name, queue_partition_key)

        active.add = add  # type: ignore[method-assign]

    def get_queue(self, name: str, **kwargs: Any) -> Any:
        """The queue row as this process applies it: cached, with local concurrency and polling."""
        if kwargs:
            return self._read(name, **kwargs)
        now = time.monotonic()
        with self._lock:
            cached = self._rows.get(name)
        if cached is None or now - cached[0] > QUEUE_ROW_TTL_S:
            fresh = self._read(name)
            if fresh is None:
                return None  # not kept: a queue registered a moment later must show at once
            cached = (now, fresh)
            with self._lock:
                self._rows[name] = cached
        row: Any = cached[1]
        local = copy.copy(row)
        if name in self._concurrency:
            local._worker_concurrency = self._concurrency[name]
        if self.busy(name):
            return local
        if self._waker is not None and self._waker.listening:
            # Idle with notifications (PostgreSQL): look every LISTENING_POLL_S, but claim, and
            # so query, only when told that work was queued here, or after SAFETY_POLL_S.
            local._polling_interval_sec = max(row._polling_interval_sec, LISTENING_POLL_S)
            if self._waker.take(name) or now - self._polled.get(name, 0.0) > SAFETY_POLL_S:
                self._polled[name] = now
            else:
                local._worker_concurrency = 0  # DBOS skips the claim: no budget, no query
            return local
        idle = 5 * self._idle_poll_s if name in self._slow else self._idle_poll_s
        local._polling_interval_sec = max(row._polling_interval_sec, idle)
        return local


INTERNAL_QUEUE_POLL_S = 5.0
"""DBOS's internal queue carries only our schedules (watchdog each minute, E-Akte hand-over,
the nightly close): starting them within five seconds is soon enough."""
BACKGROUND_JOBS_S = 4.0
"""DBOS's background jobs move delayed workflows and end timed-out ones; the platform uses
neither, so once in four seconds is enough. Not longer: the process that wins the jobs' lock
holds it in an open transaction for the whole interval, and DBOS lets the server end such a
session after ``BACKGROUND_JOB_LOCK_IDLE_TIMEOUT_MS`` (5 s). At 10 s (stop 33) the server
killed it every round, and SQLAlchemy then reconnected the worker's whole pool: six new
PostgreSQL sessions every 10 s on an idle worker."""


def _quiet_housekeeping() -> None:
    """DBOS's own idle polling, once a second each, was most of an idle worker's CPU (issue 22).

    Private settings of DBOS 3.4 (pinned); tests/integration/test_worker_queues.py checks they
    are still there, so an upgrade that renames them fails a test instead of the idle budget.
    """
    _get_dbos_instance()._registry.get_internal_queue()._polling_interval_sec = (
        INTERNAL_QUEUE_POLL_S
    )
    dbos_commands._BACKGROUND_JOBS_INTERVAL_SEC = BACKGROUND_JOBS_S


def launch_worker(ctx: AppContext, *, concurrency: int) -> None:
    """Start DBOS in this process: recover unfinished workflows, then take cases from the queue."""
    global _presence
    settings = ctx.settings
    bind_worker_context(ctx)
    executor = executor_id(settings)
    presence = WorkerPresence(ctx.engine, executor, dead_after_s=settings.worker_dead_after_s)
    presence.announce()
    if settings.render_processes:
        # Before DBOS starts its threads: the render processes come from a fork server.
        _render_pool.append(RenderPool(settings.render_processes))
        _render_pool[-1].start()
    DBOS(
        config={
            "name": "knopfdruck",
            "system_database_url": normalise_url(settings.database_url),
            # Workflow inputs are bound parameters too; no error may print them (issue 14, 3).
            # DBOS retries its own statements when a connection drops, so a worker needs no
            # ping per checkout either (settings.db_pre_ping; issue 22).
            "db_engine_kwargs": {
                "hide_parameters": True,
                "pool_pre_ping": settings.db_pre_ping,
                "pool_recycle": 3600,
            },
            # DBOS's own pool has no overflow: cap it where the platform's pool is capped.
            "sys_db_pool_size": settings.db_pool_size + settings.db_max_overflow,
            "application_version": APP_VERSION,
            # DBOS flushes its coalesced notifications (a payment's "paid" message) this often;
            # its default of 0.01 s woke an idle worker a hundred times a second (issue 22).
            "notification_coalesce_sec": 0.05,
            "executor_id": executor,
            "log_level": "WARNING",
        }
    )
    _quiet_housekeeping()
    DBOS.launch()
    # Before the queue threads' first poll (they start a second after launch at the earliest):
    # this process's concurrency, whatever other machines registered.
    waker = None
    if trigger_installed(ctx.engine):
        waker = QueueWaker(settings.database_url)
        waker.start()
        _wakers.append(waker)
    LocalQueueSettings(
        _get_dbos_instance(),
        {QUEUE: concurrency, DOCUMENTS_QUEUE: concurrency},
        settings.worker_idle_poll_s,
        hot=frozenset({REGISTRY_WRITE_QUEUE}),
        waker=waker,
        slow=frozenset({PAYMENT_QUEUE, NOTIFICATIONS_QUEUE}),
        draining=frozenset({NOTIFICATIONS_QUEUE}),
    ).install()
    # The rows hold what binds all machines (a service's share, a registry's rate); the
    # worker_concurrency written here is only what a process without the local view would use.
    DBOS.register_queue(
        QUEUE,
        worker_concurrency=concurrency,
        partition_concurrency=max(1, settings.service_concurrency),
        polling_interval_sec=BUSY_POLL_S,
        on_conflict="always_update",
    )
    DBOS.register_queue(
        DOCUMENTS_QUEUE,
        worker_concurrency=concurrency,
        polling_interval_sec=BUSY_POLL_S,
        on_conflict="always_update",
    )
    DBOS.register_queue(
        REGISTRY_WRITE_QUEUE,
        partition_concurrency=max(1, settings.registry_write_concurrency),
        partition_limiter={
            "limit": max(1, settings.registry_write_rate),
            "period": settings.registry_write_period_s,
        },
        polling_interval_sec=BUSY_POLL_S,
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
    while _wakers:
        _wakers.pop().stop()
    while _render_pool:
        _render_pool.pop().stop()
    if _presence is not None:
        _presence.stop()
        _presence = None


GC_THRESHOLDS = (10_000, 20, 20)
"""A worker's young generation is collected every 10,000 allocations instead of 700: a case
allocates far more than that, all of it garbage once the case is stored (issue 22)."""


def settle_heap() -> None:
    """Move the start-up heap (catalogue, templates, libraries) out of the collector's sight.

    Measured for issue 22: collecting the worker's large, long-lived heap cost 27-36 ms of CPU
    per case. Frozen objects are never scanned again; only what cases allocate is collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve_until_signalled(ctx: AppContext, *, concurrency: int, banner: str = "") -> None:
    """Run a worker until SIGINT or SIGTERM, so the CLI and test worker processes stop alike."""
    launch_worker(ctx, concurrency=concurrency)
    settle_heap()
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
