"""A worker's lean engine (issue 22): its own concurrency, rare idle polls, no connection ping.

DBOS keeps queue settings in a database row that every machine shares; the platform's worker
answers DBOS's queue threads from a local view (`backend/runtime.py`, LocalQueueSettings). These
tests run in the test process, where the platform's in-process worker has installed that view.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS, DBOSClient
from dbos._dbos import _get_dbos_instance
from dbos._queue import queue_worker_thread
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from backend.db import build_engine, normalise_url
from backend.engine import DOCUMENTS_QUEUE, PAYMENT_QUEUE, QUEUE, REGISTRY_WRITE_QUEUE
from backend.notifications.delivery import QUEUE as NOTIFICATIONS_QUEUE
from backend.queue_wake import QueueWaker, trigger_installed
from backend.runtime import (
    BUSY_HOLD_S,
    BUSY_POLL_S,
    LISTENING_POLL_S,
    QUEUE_ROW_TTL_S,
    LocalQueueSettings,
)
from tests.conftest import Platform
from tests.integration.casekit import own_database
from tests.integration.test_chaos import CHAOS_POSTGRES


def test_dbos_queue_threads_still_read_their_row_through_the_hook() -> None:
    """If a DBOS upgrade stops calling get_queue per poll, the local view silently does nothing."""
    source = inspect.getsource(queue_worker_thread)
    assert "dbos._sys_db.get_queue(queue.name)" in source
    assert "q._worker_concurrency" in source and "queue._polling_interval_sec" in source


def test_dbos_housekeeping_polls_as_rarely_as_the_platform_set(platform: Platform) -> None:
    """The private knobs _quiet_housekeeping turns still exist and took effect here."""
    from dbos import _workflow_commands

    from backend.runtime import BACKGROUND_JOBS_S, INTERNAL_QUEUE_POLL_S

    assert _workflow_commands._BACKGROUND_JOBS_INTERVAL_SEC == BACKGROUND_JOBS_S
    # The jobs' lock is held for the interval in a transaction the server ends when idle
    # this long: a longer interval had PostgreSQL kill the session (and the pool) each round.
    from dbos._sys_db_postgres import BACKGROUND_JOB_LOCK_IDLE_TIMEOUT_MS

    assert BACKGROUND_JOBS_S * 1000 < BACKGROUND_JOB_LOCK_IDLE_TIMEOUT_MS
    assert "_BACKGROUND_JOBS_INTERVAL_SEC" in inspect.getsource(
        _workflow_commands.background_jobs_thread
    )
    internal = _get_dbos_instance()._registry.get_internal_queue()
    assert internal._polling_interval_sec == INTERNAL_QUEUE_POLL_S


def test_a_worker_keeps_its_own_concurrency_whatever_another_machine_registers(
    platform: Platform,
) -> None:
    dbos = _get_dbos_instance()
    view = dbos._sys_db.get_queue
    assert isinstance(getattr(view, "__self__", None), LocalQueueSettings)
    own = platform.settings.worker_concurrency
    # Another machine, started later with --concurrency 1, writes the shared row.
    other = own + 3
    DBOS.register_queue(QUEUE, worker_concurrency=other, on_conflict="always_update")
    try:
        raw = view.__self__._read(QUEUE)
        assert raw._worker_concurrency == other
        # As while it works (idle on PostgreSQL it claims nothing until told of work).
        view.__self__._last_busy = time.monotonic()
        assert dbos._sys_db.get_queue(QUEUE)._worker_concurrency == own
        assert dbos._sys_db.get_queue(DOCUMENTS_QUEUE)._worker_concurrency == own
    finally:
        DBOS.register_queue(
            QUEUE,
            worker_concurrency=own,
            partition_concurrency=max(1, platform.settings.service_concurrency),
            polling_interval_sec=BUSY_POLL_S,
            on_conflict="always_update",
        )


def test_the_local_view_polls_rarely_when_idle_and_keeps_global_limits(
    platform: Platform,
) -> None:
    dbos = _get_dbos_instance()
    reads: list[str] = []
    real = dbos._sys_db.get_queue.__self__._read

    def counting(name: str, **kwargs: object) -> object:
        reads.append(name)
        return real(name, **kwargs)

    dbos._sys_db.get_queue.__self__._read = counting
    try:
        view = LocalQueueSettings(
            dbos,
            {QUEUE: 2},
            idle_poll_s=1.5,
            slow=frozenset({PAYMENT_QUEUE, NOTIFICATIONS_QUEUE}),
            draining=frozenset({NOTIFICATIONS_QUEUE}),
        )
        view._read = counting
        idle = view.get_queue(QUEUE)
        again = view.get_queue(QUEUE)
        # Nothing of the case queue runs in this process right now: the idle interval applies.
        assert idle._polling_interval_sec == 1.5 and idle._worker_concurrency == 2
        assert again._polling_interval_sec == 1.5
        assert reads.count(QUEUE) == 1, "the row is read once per QUEUE_ROW_TTL_S, not per poll"
        # The service's share of the queue is global: it comes from the row unchanged.
        assert idle._partition_concurrency == max(1, platform.settings.service_concurrency)
        # A queue this process sets no concurrency for keeps the row's (the registry's rate).
        registry = view.get_queue(REGISTRY_WRITE_QUEUE)
        assert registry._partition_limiter == real(REGISTRY_WRITE_QUEUE)._partition_limiter
        # Register writes hold up a case's completion: they poll like the case queue when idle.
        assert registry._polling_interval_sec == 1.5
        # A payment wait queued by a clerk's action may wait a few seconds more.
        assert view.get_queue(PAYMENT_QUEUE)._polling_interval_sec == 5 * 1.5
        assert view.get_queue("no-such-queue") is None
        # A missing row is not remembered: a queue registered a moment later shows at once.
        assert "no-such-queue" not in view._rows
        # A payment wait runs for days: it does not keep the worker polling fast.
        assert _interval_while(dbos, view, running=PAYMENT_QUEUE, asked=QUEUE) == 1.5
        # While a case runs here, every queue polls fast (its documents come next), and for
        # BUSY_HOLD_S after, so a stream of cases is not slowed by DBOS's slow back-off.
        assert _interval_while(dbos, view, running=QUEUE, asked=DOCUMENTS_QUEUE) == BUSY_POLL_S
        assert view.get_queue(QUEUE)._polling_interval_sec == BUSY_POLL_S
        view._last_busy -= BUSY_HOLD_S
        assert view.get_queue(QUEUE)._polling_interval_sec == 1.5
        view._rows[QUEUE] = (view._rows[QUEUE][0] - QUEUE_ROW_TTL_S - 1, view._rows[QUEUE][1])
        view.get_queue(QUEUE)
        assert reads.count(QUEUE) == 2, "a stale copy is read again"
        # Mail left over when the cases are done (a killed peer's, say): while mails run here
        # and for BUSY_HOLD_S after, the mail queue polls at its row's pace, not every idle
        # 5 × 1.5 s four mails at a time (test_scaleout's kill -9 waited minutes for them).
        mail_row = real(NOTIFICATIONS_QUEUE)._polling_interval_sec
        assert view.get_queue(NOTIFICATIONS_QUEUE)._polling_interval_sec == 5 * 1.5
        mail = NOTIFICATIONS_QUEUE
        assert _interval_while(dbos, view, running=mail, asked=mail) == mail_row
        assert view.get_queue(NOTIFICATIONS_QUEUE)._polling_interval_sec == mail_row
        assert view.get_queue(QUEUE)._polling_interval_sec == 1.5, "mail wakes no other queue"
        view._drained[NOTIFICATIONS_QUEUE] -= BUSY_HOLD_S
        assert view.get_queue(NOTIFICATIONS_QUEUE)._polling_interval_sec == 5 * 1.5
        # The platform's worker notes each mail's start, however short it runs.
        installed = dbos._sys_db.get_queue.__self__
        before = time.monotonic()
        dbos._active_workflows_set.add("test-worker-queues-sent", NOTIFICATIONS_QUEUE).release()
        assert installed._drained[NOTIFICATIONS_QUEUE] >= before
    finally:
        dbos._sys_db.get_queue.__self__._read = real


def _interval_while(dbos: Any, view: LocalQueueSettings, *, running: str, asked: str) -> float:
    """The polling interval queue ``asked`` gets while a workflow of ``running`` runs here."""
    entry = dbos._active_workflows_set.add(f"test-worker-queues-{running}", running, "probe")
    try:
        return float(view.get_queue(asked)._polling_interval_sec)
    finally:
        entry.release()


def _postgres(database_url: str) -> str:
    """The PostgreSQL pass's database; on the SQLite pass, the chaos server's maintenance one."""
    if not database_url.startswith("sqlite"):
        return database_url
    server = os.environ.get("KNOPFDRUCK_CHAOS_DATABASE_URL", CHAOS_POSTGRES)
    return make_url(normalise_url(server)).set(database="postgres").render_as_string(False)


def test_without_the_ping_a_dropped_connection_costs_one_failure_then_a_fresh_one(
    database_url: str,
) -> None:
    """Workers run without pool_pre_ping: a step that meets a dropped connection fails once and
    is retried (STEP_RETRIES, DBOS's own db_retry) on a new connection, never on the dead one."""
    url = _postgres(database_url)
    worker = build_engine(url, pool_size=1, max_overflow=0, pre_ping=False)
    admin = build_engine(url, pool_size=1, max_overflow=0)
    try:
        with worker.connect() as conn:
            dropped = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # The server ends it while it idles in the pool: a restart, a failover, a timeout.
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
            conn.commit()
        with pytest.raises(OperationalError), worker.connect() as conn:
            conn.execute(text("SELECT 1"))
        with worker.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != dropped
        # A web process keeps the ping: its request never sees the dead connection at all.
        with admin.connect() as conn:
            pinged = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with worker.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pinged})
            conn.commit()
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pinged
    finally:
        worker.dispose()
        admin.dispose()


def _wait(probe: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.05)
    return False


def test_an_idle_worker_is_told_when_work_is_queued_and_claims_nothing_before(
    database_url: str, tmp_path: Path, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL notifies the queue's name when a workflow becomes ENQUEUED (queued, or handed
    back by recovery); an idle worker claims, and so queries, only then (issue 22)."""
    with own_database(_postgres(database_url), tmp_path, "wake") as url:
        engine = build_engine(url, pool_size=1, max_overflow=0)
        waker = QueueWaker(url)
        waker.start()
        try:
            assert trigger_installed(engine)
            assert _wait(lambda: waker.listening), "the waker did not connect"
            view = LocalQueueSettings(_get_dbos_instance(), {QUEUE: 3}, 1.0, waker=waker)
            view._read = lambda name, **_: _row(name)
            view._last_busy = float("-inf")
            view.get_queue(QUEUE)  # the first look always claims (nothing seen yet)
            idle = view.get_queue(QUEUE)
            assert idle._worker_concurrency == 0, "no news: the claim, and its query, is skipped"
            assert idle._polling_interval_sec == LISTENING_POLL_S  # and looks often, for free
            client = DBOSClient(system_database_engine=engine, lazy=True)
            client.enqueue(
                {"queue_name": QUEUE, "workflow_name": "knopfdruck.none", "workflow_id": "w-1"}
            )
            assert _wait(lambda: view.get_queue(QUEUE)._worker_concurrency == 3), (
                "no notification reached the idle worker"
            )
            # Recovery hands a workflow back by setting it ENQUEUED again: that notifies too.
            _set_status(engine, "w-1", "PENDING")
            assert view.get_queue(QUEUE)._worker_concurrency == 0
            _set_status(engine, "w-1", "ENQUEUED")
            assert _wait(lambda: view.get_queue(QUEUE)._worker_concurrency == 3)
            # The listening connection dies (a restart, a failover): said once, with its kind,
            # and the waker listens again by itself.
            with caplog.at_level(logging.WARNING, logger="knopfdruck.worker"):
                with engine.begin() as conn:
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                        )
                    )
                assert _wait(lambda: "are back after" in caplog.text), caplog.text
            assert "queue notifications interrupted (" in caplog.text
            assert waker.listening
        finally:
            waker.stop()
            engine.dispose()


def _row(name: str) -> object:
    """A queue row as DBOS stores the platform's case queue."""
    return _get_dbos_instance()._sys_db.get_queue.__self__._read(QUEUE)


def _set_status(engine: Engine, workflow_id: str, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE dbos.workflow_status SET status = :s WHERE workflow_uuid = :w"),
            {"s": status, "w": workflow_id},
        )
