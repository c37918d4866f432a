"""Wake idle workers when work is queued: PostgreSQL LISTEN/NOTIFY on DBOS's workflow table.

Why (issue 22): an idle worker polled every queue once a second, a few statements each, and a
new case still waited up to a second. On PostgreSQL a trigger on ``dbos.workflow_status``
notifies the channel ``knopfdruck_queues`` with the queue's name whenever a workflow becomes
ENQUEUED (queued by any process, or handed back by a dead worker's recovery); each worker
listens on one connection and polls only the queues it was told about, plus every queue at
least every ``SAFETY_POLL_S`` in case a notification was lost. SQLite runs on one machine and
has no NOTIFY: there the worker polls as before.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Engine

from backend.db import normalise_url

log = logging.getLogger("knopfdruck.worker")

CHANNEL = "knopfdruck_queues"
SAFETY_POLL_S = 5.0
"""Every queue is polled at least this often even without a notification."""

_INSTALL = (
    """
    CREATE OR REPLACE FUNCTION dbos.knopfdruck_notify_enqueued() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('knopfdruck_queues', NEW.queue_name);
        RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS knopfdruck_enqueued ON dbos.workflow_status",
    """
    CREATE TRIGGER knopfdruck_enqueued
    AFTER INSERT OR UPDATE OF status ON dbos.workflow_status
    FOR EACH ROW WHEN (NEW.status = 'ENQUEUED' AND NEW.queue_name IS NOT NULL)
    EXECUTE FUNCTION dbos.knopfdruck_notify_enqueued()
    """,
)


def install_trigger(engine: Engine) -> None:
    """Create (or renew) the trigger after DBOS's own migration; one process at a time."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        # Two processes migrating at once must not race on CREATE OR REPLACE.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('knopfdruck_queue_wake'))"))
        for statement in _INSTALL:
            conn.execute(text(statement))


def trigger_installed(engine: Engine) -> bool:
    """Whether this database notifies (a database migrated by an earlier version does not)."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT 1 FROM pg_trigger WHERE tgname = 'knopfdruck_enqueued' AND NOT tgisinternal"
            )
        ).first()
    return found is not None


class QueueWaker:
    """Listens for queue notifications on its own connection; tells which queues have news."""

    def __init__(self, database_url: str) -> None:
        self._url = normalise_url(database_url).replace("postgresql+psycopg://", "postgresql://")
        self._lock = threading.Lock()
        self._news: set[str] = set()
        self._listening = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="knopfdruck-queue-wake", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def listening(self) -> bool:
        """False while the connection is down: then the worker polls as if there were no waker."""
        return self._listening

    def take(self, queue: str) -> bool:
        """Whether work was queued on ``queue`` since the last take (and forget it)."""
        with self._lock:
            if queue in self._news:
                self._news.discard(queue)
                return True
            return False

    def _run(self) -> None:
        """Listen until stopped; a database error means polling until the connection is back.

        Only PostgreSQL's errors are caught: anything else is a bug, ends this thread with its
        traceback in the worker's log, and leaves the worker polling (``listening`` is False).
        """
        down: str | None = None
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening = True
                    if down is not None:
                        log.warning("queue notifications are back after %s", down)
                        down = None
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=1.0):
                            with self._lock:
                                self._news.add(notify.payload)
            except psycopg.Error as exc:
                if down is None:
                    # Once per outage, with its kind (no connection string, no data).
                    down = type(exc).__name__
                    log.warning("queue notifications interrupted (%s); polling meanwhile", down)
            finally:
                self._listening = False
            self._stop.wait(1.0)
